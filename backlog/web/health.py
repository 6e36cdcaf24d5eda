"""`/health` and `/metrics` of the backlog service.

`GET /health`: 200 when the backlog's database answers, else 503. The body
also says whether the Rasa server and the action server answer their own
health checks (`DIGOR_RASA_HEALTH_URL`, `DIGOR_ACTIONS_HEALTH_URL`, derived
from the ports by default); they do not change the status code, since the API
works without them.

`GET /metrics` (bearer token of the API): Prometheus metrics read from the
database at each scrape: tickets filed by channel, and the forwarding outbox
(messages waiting, dead letters) once its table exists.
"""

from __future__ import annotations

import asyncio
import os
from functools import lru_cache, partial
from typing import Any, Dict, Iterator

import aiohttp
from aiohttp import web
from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, generate_latest
from prometheus_client.core import GaugeMetricFamily
from sqlalchemy import inspect, text

from backlog.web import keys
from backlog.web.auth import require_token

CHECK_TIMEOUT = 3.0
# Outbox rows in these states are not waiting any more.
OUTBOX_DONE = ("sent", "delivered", "done")
OUTBOX_DEAD = ("dead", "dead_letter", "failed")


@lru_cache(maxsize=1)
def peer_health_urls() -> Dict[str, str]:
    env = os.environ
    rasa_port = env.get("DIGOR_RASA_PORT", "5005")
    actions_port = env.get("DIGOR_ACTIONS_PORT", "5055")
    return {
        "rasa": env.get("DIGOR_RASA_HEALTH_URL") or f"http://127.0.0.1:{rasa_port}/webhooks/health/",
        "action_server": env.get("DIGOR_ACTIONS_HEALTH_URL") or f"http://127.0.0.1:{actions_port}/health",
    }


def _ping(database) -> None:
    with database.engine.connect() as connection:
        connection.exec_driver_sql("SELECT 1")


async def _peer(session: aiohttp.ClientSession, url: str) -> Dict[str, Any]:
    try:
        async with session.get(url) as answer:
            return {"ok": answer.status == 200, "status": answer.status}
    except Exception as error:  # noqa: BLE001 - reported, not raised
        return {"ok": False, "error": type(error).__name__}


async def health(request: web.Request) -> web.Response:
    database = request.app[keys.DATABASE]
    loop = asyncio.get_running_loop()
    try:
        await asyncio.wait_for(loop.run_in_executor(None, _ping, database), CHECK_TIMEOUT)
        db = {"ok": True}
    except Exception as error:  # noqa: BLE001 - any failure means "not healthy"
        db = {"ok": False, "error": type(error).__name__}
    urls = peer_health_urls()
    async with aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=CHECK_TIMEOUT)) as session:
        rasa, actions = await asyncio.gather(_peer(session, urls["rasa"]), _peer(session, urls["action_server"]))
    body = {
        "status": "ok" if db["ok"] else "error",
        # Kept for the callers that read the former answer.
        "database": "ok" if db["ok"] else "unreachable",
        "checks": {"database": db, "rasa": rasa, "action_server": actions},
    }
    return web.json_response(body, status=200 if db["ok"] else 503)


class BacklogCollector:
    """Reads the counts from the database at each scrape."""

    def __init__(self, database) -> None:
        self.database = database

    def collect(self) -> Iterator[GaugeMetricFamily]:
        engine = self.database.engine
        up = GaugeMetricFamily("digor_backlog_database_up", "1 when the backlog's database answered this scrape.")
        try:
            with engine.connect() as connection:
                tables = set(inspect(connection).get_table_names())
                tickets = GaugeMetricFamily(
                    "digor_tickets_filed", "Tickets in the backlog, by channel.", labels=["channel"]
                )
                for channel, count in connection.execute(
                    text("SELECT channel, count(*) FROM tickets GROUP BY channel")
                ):
                    tickets.add_metric([channel or "unknown"], count)
                families = [tickets]
                if "outbox" in tables:
                    families.extend(self._outbox(connection))
        except Exception:  # noqa: BLE001 - the scrape reports the database as down
            up.add_metric([], 0)
            yield up
            return
        up.add_metric([], 1)
        yield up
        yield from families

    @staticmethod
    def _outbox(connection) -> Iterator[GaugeMetricFamily]:
        """backlog/forwarding/outbox.py: `pending` until sent, `dead` after the last retry."""
        columns = {column["name"] for column in inspect(connection).get_columns("outbox")}
        if "status" not in columns:
            return
        by = "destination" if "destination" in columns else "''"
        rows = connection.execute(
            text(f"SELECT {by}, status, count(*) FROM outbox GROUP BY {by}, status")
        ).all()
        waiting = GaugeMetricFamily(
            "digor_outbox_pending", "Forwarding messages not delivered yet (outbox backlog), by destination.",
            labels=["destination"],
        )
        dead = GaugeMetricFamily(
            "digor_outbox_dead_letters", "Forwarding messages given up after their retries, by destination.",
            labels=["destination"],
        )
        pending: Dict[str, int] = {}
        given_up: Dict[str, int] = {}
        for destination, status, count in rows:
            destination = destination or "unknown"
            pending.setdefault(destination, 0)
            given_up.setdefault(destination, 0)
            if status in OUTBOX_DEAD:
                given_up[destination] += count
            elif status not in OUTBOX_DONE:
                pending[destination] += count
        for destination in sorted(pending):
            waiting.add_metric([destination], pending[destination])
            dead.add_metric([destination], given_up[destination])
        yield waiting
        yield dead


async def metrics(request: web.Request) -> web.Response:
    require_token(request, request.app[keys.TOKENS])
    registry = CollectorRegistry()
    registry.register(BacklogCollector(request.app[keys.DATABASE]))
    payload = await asyncio.get_running_loop().run_in_executor(None, partial(generate_latest, registry))
    return web.Response(body=payload, headers={"Content-Type": CONTENT_TYPE_LATEST})
