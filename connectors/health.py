"""Health and metrics of the Rasa server, as a Rasa input channel.

credentials.yml: `connectors.health.HealthInput:` serves

- `GET /webhooks/health/`: 200 `{"status": "ok", ...}` when the tracker
  store's events table can be read and its last write worked, the lock store
  answers (Redis `PING` when configured) and the action server's `/health`
  answers; else 503 `{"status": "error", ...}` with the failing parts.
- `GET /webhooks/health/metrics`: Prometheus metrics of this process
  (messages by channel and outcome, time to answer one).

A message that fails (the tracker store's database is away, for instance)
gets SERVICE_UNAVAILABLE, in French, on its own output channel before the
error reaches the channel: Rasa's REST channel would otherwise answer 200 with
an empty list.

At start it also takes Rasa's fail-safe wrapper away from our tracker store
(see bot/tracker_store.py), so a database failure is never hidden, and
bounds the size of requests (connectors/limits.py: configure_request_size)
and makes Rasa check its action response schema once (bot/jsonschema_cache.py); with
`require_sql_tracker_store: true` it stops the server when the agent runs on
anything else (Rasa falls back to memory when a custom store cannot be loaded).
"""

from __future__ import annotations

import asyncio
import logging
import time
from typing import Any, Awaitable, Callable, Dict, Optional, Text
from urllib.parse import urlsplit, urlunsplit

import aiohttp
from prometheus_client import CONTENT_TYPE_LATEST, Counter, Histogram, generate_latest
from rasa.core.channels.channel import InputChannel, UserMessage
from rasa.core.lock_store import RedisLockStore
from sanic import Blueprint, response
from sanic.request import Request
from sanic.response import HTTPResponse

from bot import jsonschema_cache
from bot.tracker_store import HealthCheckedSQLTrackerStore, unwrap_fail_safe
from connectors.limits import configure_request_size

logger = logging.getLogger(__name__)

CHECK_TIMEOUT = 3.0
# What the person reads when a message could not be handled (the tracker
# store's database is away, for instance): what was said before is kept. It
# starts like connectors.common.UNAVAILABLE, the other channels' notice.
SERVICE_UNAVAILABLE = (
    "Le service ne répond pas pour le moment. Rien n'est perdu : "
    "renvoyez votre message dans quelques minutes."
)

MESSAGES = Counter(
    "digor_rasa_messages_total",
    "Messages handled by the Rasa server, by channel and outcome (ok, error).",
    ["channel", "outcome"],
)
MESSAGE_SECONDS = Histogram(
    "digor_rasa_message_seconds",
    "Time to handle one message (NLU, dialogue, actions, tracker store), by channel.",
    ["channel"],
    buckets=(0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0),
)


def _truthy(value: Any) -> bool:
    return str(value).strip().lower() in {"1", "true", "yes", "on"}


async def tell_unavailable(message: UserMessage) -> None:
    """Send SERVICE_UNAVAILABLE to the person through the message's own output channel.

    Rasa's REST channel answers 200 with whatever the bot said before a failure
    (often nothing); the channels of connectors/ drop it and give their own
    answer. Never raises: the failure itself is what the caller reports.
    """
    output = getattr(message, "output_channel", None)
    if output is None:
        return
    try:
        await output.send_text_message(message.sender_id, SERVICE_UNAVAILABLE)
    except Exception:  # noqa: BLE001 - the channel may be what failed
        logger.warning("could not tell %s that the service is unavailable", message.sender_id, exc_info=True)


def instrument(agent: Any) -> None:
    """Count and time every message the agent handles (once per agent); when
    one fails (the tracker store's database is away, for instance), the person
    is told so in French before the error goes on to the channel."""
    if agent is None or getattr(agent, "_digor_instrumented", False):
        return
    handle = agent.handle_message

    async def timed_handle_message(message: UserMessage):
        channel = message.input_channel or "unknown"
        started = time.perf_counter()
        outcome = "error"
        try:
            result = await handle(message)
            outcome = "ok"
            return result
        except Exception:
            await tell_unavailable(message)
            raise
        finally:
            MESSAGE_SECONDS.labels(channel).observe(time.perf_counter() - started)
            MESSAGES.labels(channel, outcome).inc()

    agent.handle_message = timed_handle_message
    agent._digor_instrumented = True


def action_health_url(agent: Any) -> Optional[str]:
    endpoint = getattr(agent, "action_endpoint", None)
    if endpoint is None or not getattr(endpoint, "url", None):
        return None
    parts = urlsplit(endpoint.url)
    return urlunsplit((parts.scheme, parts.netloc, "/health", "", ""))


async def check_tracker_store(agent: Any) -> Dict[str, Any]:
    store = unwrap_fail_safe(agent)
    if store is None:
        kind = type(getattr(agent, "tracker_store", None)).__name__
        inner = getattr(getattr(agent, "tracker_store", None), "_tracker_store", None)
        if inner is not None:
            kind = type(inner).__name__
        return {"ok": False, "type": kind, "error": "not the SQL tracker store of endpoints.yml"}
    try:
        await store.aping(CHECK_TIMEOUT)
    except Exception as error:  # noqa: BLE001 - reported, not raised
        return {"ok": False, "type": type(store).__name__, "error": f"{type(error).__name__}: {error}"[:300], **_history(store)}
    # The probe is a read of the events table: it turns a failed read, or a
    # database that was out of reach, green again; a refused write stays red
    # until a write works (bot/tracker_store.py: TrackerStoreHealth).
    return {"ok": store.health.ok, "type": type(store).__name__, **_history(store)}


def _history(store: HealthCheckedSQLTrackerStore) -> Dict[str, Any]:
    record = store.health.as_dict()
    return {"failures": record["failures"], "last_error": record["last_error"], "last_error_at": record["last_error_at"]}


async def check_lock_store(agent: Any) -> Dict[str, Any]:
    store = getattr(agent, "lock_store", None)
    kind = type(store).__name__
    if isinstance(store, RedisLockStore):
        loop = asyncio.get_running_loop()
        try:
            await asyncio.wait_for(loop.run_in_executor(None, store.red.ping), CHECK_TIMEOUT)
        except Exception as error:  # noqa: BLE001 - reported, not raised
            return {"ok": False, "type": kind, "error": f"{type(error).__name__}: {error}"[:300]}
    return {"ok": store is not None, "type": kind}


async def check_action_server(agent: Any) -> Dict[str, Any]:
    url = action_health_url(agent)
    if url is None:
        return {"ok": True, "configured": False}
    try:
        timeout = aiohttp.ClientTimeout(total=CHECK_TIMEOUT)
        async with aiohttp.ClientSession(timeout=timeout) as session:
            async with session.get(url) as answer:
                if answer.status != 200:
                    return {"ok": False, "url": url, "error": f"HTTP {answer.status}"}
    except Exception as error:  # noqa: BLE001 - reported, not raised
        return {"ok": False, "url": url, "error": f"{type(error).__name__}: {error}"[:300]}
    return {"ok": True, "url": url}


async def health_report(agent: Any) -> Dict[str, Any]:
    model_ready = bool(agent is not None and agent.is_ready())
    tracker, lock, actions = await asyncio.gather(
        check_tracker_store(agent), check_lock_store(agent), check_action_server(agent)
    )
    checks = {"model": {"ok": model_ready}, "tracker_store": tracker, "lock_store": lock, "action_server": actions}
    status = "ok" if all(check["ok"] for check in checks.values()) else "error"
    return {"status": status, **checks}


class HealthInput(InputChannel):
    """`/webhooks/health/` and `/webhooks/health/metrics` (no messages)."""

    @classmethod
    def name(cls) -> Text:
        return "health"

    @classmethod
    def from_credentials(cls, credentials: Optional[Dict[Text, Any]]) -> InputChannel:
        credentials = credentials or {}
        return cls(require_sql_tracker_store=_truthy(credentials.get("require_sql_tracker_store", "")))

    def __init__(self, require_sql_tracker_store: bool = False) -> None:
        self.require_sql_tracker_store = require_sql_tracker_store

    def blueprint(self, on_new_message: Callable[[UserMessage], Awaitable[Any]]) -> Blueprint:
        health = Blueprint("digor_health", __name__)

        @health.listener("before_server_start")
        async def bound_requests(app, _loop) -> None:
            configure_request_size(app)
            # Rasa checks the action response schema itself at every action: once is enough.
            jsonschema_cache.install()

        @health.listener("after_server_start")
        async def harden(app, _loop) -> None:
            agent = getattr(app.ctx, "agent", None)
            store = unwrap_fail_safe(agent)
            instrument(agent)
            if store is None and self.require_sql_tracker_store:
                logger.error(
                    "tracker store: the server runs on %s, not on the SQL tracker store of "
                    "endpoints.yml (Rasa fell back to memory); stopping",
                    type(getattr(agent, "tracker_store", None)).__name__,
                )
                app.stop()

        @health.route("/", methods=["GET"])
        async def status(request: Request) -> HTTPResponse:
            agent = getattr(request.app.ctx, "agent", None)
            instrument(agent)
            report = await health_report(agent)
            return response.json(report, status=200 if report["status"] == "ok" else 503)

        @health.route("/metrics", methods=["GET"])
        async def metrics(_: Request) -> HTTPResponse:
            return response.raw(generate_latest(), content_type=CONTENT_TYPE_LATEST)

        return health
