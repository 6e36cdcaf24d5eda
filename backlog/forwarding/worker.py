"""The outbox worker: sends due messages, keeps the retry state in the database.

The backlog service runs it as an asyncio task (`run_forever`). Time comes
from an injectable clock and randomness from an injectable `random.Random`,
so the tests drive it round by round (`run_once`) without sleeping.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import logging
import random
from typing import Callable

import aiohttp

from backlog.db import Database, database_unreachable
from backlog.forwarding import Destination, ForwardingError, PermanentError, outbox
from backlog.models import utcnow

logger = logging.getLogger(__name__)
POLL_SECONDS = 5.0
REQUEST_TIMEOUT_SECONDS = 20.0


class OutboxWorker:
    def __init__(
        self,
        db: Database,
        destinations: dict[str, Destination],
        max_attempts: int = 8,
        clock: Callable[[], dt.datetime] = utcnow,
        rng: random.Random | None = None,
        timeout: float = REQUEST_TIMEOUT_SECONDS,
    ) -> None:
        if max_attempts < 1:
            raise ValueError("DIGOR_FORWARD_MAX_ATTEMPTS must be at least 1")
        self.db = db
        self.destinations = destinations
        self.max_attempts = max_attempts
        self.clock = clock
        self.rng = rng or random.Random()
        self.timeout = aiohttp.ClientTimeout(total=timeout)

    async def run_once(self, http: aiohttp.ClientSession | None = None) -> int:
        """Send every message due now; return how many were attempted."""
        if http is None:
            async with aiohttp.ClientSession(timeout=self.timeout) as own:
                return await self.run_once(own)
        now = self.clock()
        attempted = 0
        for message_id in await asyncio.to_thread(outbox.due_ids, self.db, now):
            message = await asyncio.to_thread(outbox.claim, self.db, message_id, now)
            if message is None:
                continue
            attempted += 1
            await self._deliver(http, message, now)
        return attempted

    async def _deliver(self, http: aiohttp.ClientSession, message, now: dt.datetime) -> None:
        destination = self.destinations.get(message.destination)
        permanent = False
        try:
            if destination is None:
                raise ForwardingError(f"destination {message.destination!r} is not configured")
            external_id = await destination.send(http, message)
        except PermanentError as exc:
            error, permanent = str(exc), True
        except (ForwardingError, aiohttp.ClientError, asyncio.TimeoutError, ValueError) as exc:
            error = f"{type(exc).__name__}: {exc}" if not isinstance(exc, ForwardingError) else str(exc)
        else:
            await asyncio.to_thread(outbox.mark_sent, self.db, message.id, now, external_id)
            logger.info("forwarded %s to %s", message.ticket_reference, message.destination)
            return
        failed = await asyncio.to_thread(
            outbox.mark_failed, self.db, message.id, now, error, self.max_attempts, self.rng, permanent
        )
        if failed.status == "dead":
            logger.error(
                "forwarding %s to %s failed %d time(s), now a dead letter: %s",
                message.ticket_reference, message.destination, failed.attempts, error,
            )
        else:
            logger.warning(
                "forwarding %s to %s failed (attempt %d), next at %s: %s",
                message.ticket_reference, message.destination, failed.attempts,
                failed.next_attempt_at.isoformat(), error,
            )

    async def run_forever(self, poll_seconds: float | None = None) -> None:
        """Send due messages now, then every few seconds, until cancelled."""
        async with aiohttp.ClientSession(timeout=self.timeout) as http:
            while True:
                try:
                    await self.run_once(http)
                except Exception as exc:  # noqa: BLE001 - the database may be away for a moment
                    if database_unreachable(exc):
                        # One line every few seconds while it is away, not a traceback.
                        logger.error("forwarding: database unreachable, next round in a moment: %s", exc.orig)
                    else:
                        logger.exception("forwarding: a round failed")
                await asyncio.sleep(POLL_SECONDS if poll_seconds is None else poll_seconds)
