"""Rate limits per sender and per address, and the request size of the Rasa server.

Channels call `check_rate(channel, sender_id, address)` before handing a
message to Rasa (`connectors.common.ask_rasa` does it for them):

    wait = await check_rate("widget", sender_id, address=request_address(request))
    if wait is not None:
        ...  # answer RATE_LIMITED (French) without calling Rasa

- Per sender (one conversation): `DIGOR_RATE_SENDER_PER_MINUTE` messages a
  minute (30 by default), bursts of `DIGOR_RATE_SENDER_BURST` (20).
- Per address (one client IP): `DIGOR_RATE_ADDRESS_PER_MINUTE` (300), bursts
  of `DIGOR_RATE_ADDRESS_BURST` (100): a library or a town hall puts many
  people behind one address. Give the address only when the caller is the
  person's browser (widget, desk); for Teams and Mattermost the address is
  the platform's server, so pass None.
- 0 turns a limit off.

Each limit is a token bucket. With one Rasa server the buckets live in this
process; with several replicas (`DIGOR_LOCK_STORE=redis`) they live in the
Redis of the lock store (`DIGOR_REDIS_HOST`, `DIGOR_REDIS_PORT`,
`DIGOR_REDIS_DB`), so every replica sees the same counts. If Redis fails, the
process falls back to its own buckets and logs it: limits stay on, a little
looser.

`configure_request_size(app)` bounds the body of any request to the Rasa
server to `DIGOR_MAX_REQUEST_BYTES` (2 MB by default; Sanic's own default is
100 MB): a message of 1 MB still arrives and is cut by the channel, anything
larger gets 413, with a French message (`answer_too_large_in_french(app)`).
"""

from __future__ import annotations

import logging
import os
import threading
import time
from collections import OrderedDict
from dataclasses import dataclass
from typing import Any, Dict, Mapping, Optional, Tuple

from sanic import response
from sanic.exceptions import PayloadTooLarge
from sanic.response import HTTPResponse

logger = logging.getLogger(__name__)

RATE_LIMITED = (
    "Vous envoyez beaucoup de messages en peu de temps. "
    "Attendez une minute, puis écrivez de nouveau."
)
TOO_LARGE = "Votre message est beaucoup trop long. Écrivez-le en quelques phrases, puis envoyez-le de nouveau."
DEFAULT_MAX_REQUEST_BYTES = 2 * 1024 * 1024
MAX_KEYS = 100_000

# Token bucket in Redis, atomic: KEYS[1] bucket; ARGV rate/s, capacity, now, cost.
# Returns {allowed (1/0), seconds to wait (as a string)}.
_REDIS_BUCKET = """
local rate = tonumber(ARGV[1])
local capacity = tonumber(ARGV[2])
local now = tonumber(ARGV[3])
local cost = tonumber(ARGV[4])
local state = redis.call('HMGET', KEYS[1], 'tokens', 'ts')
local tokens = tonumber(state[1]) or capacity
local ts = tonumber(state[2]) or now
tokens = math.min(capacity, tokens + math.max(0, now - ts) * rate)
local allowed = 0
local wait = 0
if tokens >= cost then
  tokens = tokens - cost
  allowed = 1
else
  wait = (cost - tokens) / rate
end
redis.call('HSET', KEYS[1], 'tokens', tokens, 'ts', now)
redis.call('EXPIRE', KEYS[1], math.ceil(capacity / rate) + 1)
return {allowed, tostring(wait)}
"""


@dataclass(frozen=True)
class Limit:
    per_minute: float
    burst: float

    @property
    def rate(self) -> float:
        return self.per_minute / 60.0

    @property
    def enabled(self) -> bool:
        return self.per_minute > 0 and self.burst > 0


class LocalBuckets:
    """Token buckets in this process, least recently used keys dropped past MAX_KEYS."""

    def __init__(self, max_keys: int = MAX_KEYS) -> None:
        self.max_keys = max_keys
        self._buckets: "OrderedDict[str, Tuple[float, float]]" = OrderedDict()
        self._lock = threading.Lock()

    def take(self, key: str, limit: Limit, now: Optional[float] = None) -> Optional[float]:
        """None when allowed, else the seconds to wait."""
        now = time.monotonic() if now is None else now
        with self._lock:
            tokens, last = self._buckets.pop(key, (limit.burst, now))
            tokens = min(limit.burst, tokens + max(0.0, now - last) * limit.rate)
            wait = None
            if tokens >= 1:
                tokens -= 1
            else:
                wait = (1 - tokens) / limit.rate
            self._buckets[key] = (tokens, now)
            while len(self._buckets) > self.max_keys:
                self._buckets.popitem(last=False)
        return wait


class RedisBuckets:
    """The same buckets in Redis, shared by every replica."""

    def __init__(self, client: Any, prefix: str = "digor:rate:") -> None:
        self.client = client
        self.prefix = prefix
        self._script = client.register_script(_REDIS_BUCKET)

    async def take(self, key: str, limit: Limit) -> Optional[float]:
        allowed, wait = await self._script(
            keys=[self.prefix + key], args=[limit.rate, limit.burst, time.time(), 1]
        )
        return None if int(allowed) == 1 else float(wait)


class RateLimiter:
    def __init__(
        self,
        sender: Limit,
        address: Limit,
        redis_client: Any = None,
    ) -> None:
        self.sender = sender
        self.address = address
        self.local = LocalBuckets()
        self.redis = RedisBuckets(redis_client) if redis_client is not None else None
        self._redis_failed_at = 0.0

    @classmethod
    def from_env(cls, env: Optional[Mapping[str, str]] = None) -> "RateLimiter":
        env = os.environ if env is None else env

        def number(name: str, default: float) -> float:
            raw = env.get(name)
            return float(raw) if raw not in (None, "") else default

        sender = Limit(number("DIGOR_RATE_SENDER_PER_MINUTE", 30), number("DIGOR_RATE_SENDER_BURST", 20))
        address = Limit(number("DIGOR_RATE_ADDRESS_PER_MINUTE", 300), number("DIGOR_RATE_ADDRESS_BURST", 100))
        client = None
        if env.get("DIGOR_LOCK_STORE", "in_memory").lower() == "redis":
            import redis.asyncio

            client = redis.asyncio.Redis(
                host=env.get("DIGOR_REDIS_HOST") or "localhost",
                port=int(env.get("DIGOR_REDIS_PORT") or 6379),
                db=int(env.get("DIGOR_REDIS_DB") or 0),
                password=env.get("DIGOR_REDIS_PASSWORD") or None,
                socket_timeout=1.0,
                socket_connect_timeout=1.0,
            )
        return cls(sender, address, client)

    async def _take(self, key: str, limit: Limit) -> Optional[float]:
        if self.redis is not None:
            try:
                return await self.redis.take(key, limit)
            except Exception as error:  # noqa: BLE001 - limits stay on, in this process
                if time.monotonic() - self._redis_failed_at > 60:
                    logger.error("rate limits: Redis failed (%s); using this process's counts", error)
                self._redis_failed_at = time.monotonic()
        return self.local.take(key, limit)

    async def check(self, channel: str, sender_id: str, address: Optional[str] = None) -> Optional[float]:
        """None when the message may go on; else the seconds to wait before the next one."""
        waits = []
        if self.sender.enabled and sender_id:
            waits.append(await self._take(f"s:{channel}:{sender_id}", self.sender))
        if self.address.enabled and address:
            waits.append(await self._take(f"a:{address}", self.address))
        waits = [wait for wait in waits if wait is not None]
        return max(waits) if waits else None


_limiter: Optional[RateLimiter] = None
_limiter_lock = threading.Lock()


def limiter() -> RateLimiter:
    """The process's limiter, built from the environment on first use."""
    global _limiter
    with _limiter_lock:
        if _limiter is None:
            _limiter = RateLimiter.from_env()
        return _limiter


def reset_limiter(new: Optional[RateLimiter] = None) -> None:
    """Replace the process's limiter (tests, or after changing the environment)."""
    global _limiter
    with _limiter_lock:
        _limiter = new


async def check_rate(channel: str, sender_id: str, address: Optional[str] = None) -> Optional[float]:
    """None when allowed; else seconds to wait. Logs each refusal."""
    wait = await limiter().check(channel, sender_id, address)
    if wait is not None:
        logger.warning(
            "rate limit: %s message refused (sender %s, address %s), retry in %.1f s",
            channel, sender_id[:40], address, wait,
        )
    return wait


def request_address(request: Any) -> Optional[str]:
    """The client's address of a Sanic request: the proxy-forwarded one when Sanic
    is told to trust it (FORWARDED_SECRET, REAL_IP_HEADER, PROXIES_COUNT), else the peer."""
    return getattr(request, "remote_addr", None) or getattr(request, "ip", None) or None


def configure_request_size(app: Any, env: Optional[Mapping[str, str]] = None) -> int:
    """Bound request bodies on the Rasa server (Sanic), unless SANIC_REQUEST_MAX_SIZE is set."""
    env = os.environ if env is None else env
    if env.get("SANIC_REQUEST_MAX_SIZE"):
        return int(app.config.REQUEST_MAX_SIZE)
    size = int(env.get("DIGOR_MAX_REQUEST_BYTES") or DEFAULT_MAX_REQUEST_BYTES)
    app.config.REQUEST_MAX_SIZE = size
    return size


def answer_too_large_in_french(app: Any) -> None:
    """A body over the bound gets 413 with a French message (Sanic's own is in English)."""

    def too_large(_request: Any, _exception: Exception) -> HTTPResponse:
        return response.json({"error": TOO_LARGE}, status=413)

    app.error_handler.add(PayloadTooLarge, too_large)


def rate_limited_answer(sender_id: str) -> Dict[str, Any]:
    return {"recipient_id": sender_id, "text": RATE_LIMITED}
