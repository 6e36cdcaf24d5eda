"""/health and /metrics of the backlog service."""

from __future__ import annotations

import socket

import pytest
from aiohttp import web
from sqlalchemy import text

from backlog import store
from backlog.db import Database, init_schema
from backlog.web import health, init_app
from tests.conftest import TOKEN, make_settings

AUTH = {"Authorization": f"Bearer {TOKEN}"}


def closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@pytest.fixture
async def peers(aiohttp_server, monkeypatch):
    """A Rasa stand-in that answers its health check, and an action server that is down."""
    rasa = web.Application()
    rasa.router.add_get("/webhooks/health/", lambda _: web.json_response({"status": "ok"}))
    server = await aiohttp_server(rasa)
    monkeypatch.setenv("DIGOR_RASA_HEALTH_URL", str(server.make_url("/webhooks/health/")))
    monkeypatch.setenv("DIGOR_ACTIONS_HEALTH_URL", f"http://127.0.0.1:{closed_port()}/health")
    health.peer_health_urls.cache_clear()
    yield
    health.peer_health_urls.cache_clear()


@pytest.fixture
def seeded_db(sqlite_url):
    db = Database(sqlite_url)
    init_schema(db.engine)
    for key, channel in (("a", "web"), ("b", "web"), ("c", "teams")):
        store.save_intake(db, store.Intake(intake_key=key, description="Le car ne passe plus", theme="transports", channel=channel))
    yield db
    db.dispose()


async def test_health_reports_database_and_peers(aiohttp_client, sqlite_url, peers):
    client = await aiohttp_client(init_app(make_settings(sqlite_url)))
    response = await client.get("/health")
    assert response.status == 200
    body = await response.json()
    assert body["status"] == "ok" and body["database"] == "ok"
    assert body["checks"]["rasa"]["ok"] is True
    assert body["checks"]["action_server"] == {"ok": False, "error": "ClientConnectorError"}


async def test_health_is_red_when_the_database_fails(aiohttp_client, sqlite_url, peers, monkeypatch):
    client = await aiohttp_client(init_app(make_settings(sqlite_url)))

    def broken(_database):
        raise OSError("disk gone")

    monkeypatch.setattr(health, "_ping", broken)
    response = await client.get("/health")
    assert response.status == 503
    assert (await response.json())["checks"]["database"] == {"ok": False, "error": "OSError"}


async def test_metrics_need_the_token_and_count_tickets(aiohttp_client, sqlite_url, seeded_db, peers):
    client = await aiohttp_client(init_app(make_settings(sqlite_url)))
    assert (await client.get("/metrics")).status == 401
    response = await client.get("/metrics", headers=AUTH)
    assert response.status == 200
    body = await response.text()
    assert 'digor_tickets_filed{channel="web"} 2.0' in body
    assert 'digor_tickets_filed{channel="teams"} 1.0' in body
    assert "digor_backlog_database_up 1.0" in body


async def test_metrics_read_the_outbox(aiohttp_client, sqlite_url, seeded_db, peers):
    """The outbox of backlog/forwarding (migration 0006): pending, sent, dead."""
    rows = [("webhook", "TK-2026-00001", "pending"), ("webhook", "TK-2026-00002", "pending"),
            ("webhook", "TK-2026-00003", "sent"), ("webhook", "TK-2026-00004", "dead"),
            ("gitlab", "TK-2026-00001", "pending")]
    with seeded_db.engine.begin() as connection:
        connection.execute(text("DELETE FROM outbox"))
        for destination, reference, status in rows:
            connection.execute(
                text(
                    "INSERT INTO outbox (created_at, destination, ticket_reference, idempotency_key,"
                    " payload, status, attempts, next_attempt_at)"
                    " VALUES (CURRENT_TIMESTAMP, :d, :r, :k, '{}', :s, 0, CURRENT_TIMESTAMP)"
                ),
                {"d": destination, "r": reference, "k": f"{destination}-{reference}", "s": status},
            )
    client = await aiohttp_client(init_app(make_settings(sqlite_url)))
    body = await (await client.get("/metrics", headers=AUTH)).text()
    assert 'digor_outbox_pending{destination="webhook"} 2.0' in body
    assert 'digor_outbox_pending{destination="gitlab"} 1.0' in body
    assert 'digor_outbox_dead_letters{destination="webhook"} 1.0' in body
    assert 'digor_outbox_dead_letters{destination="gitlab"} 0.0' in body


async def test_the_database_away_is_a_french_503_not_a_500(aiohttp_client, sqlite_url, peers):
    """A PostgreSQL restart: the API and the console say it is passing, with Retry-After."""
    from backlog.web import keys

    app = init_app(make_settings(sqlite_url))
    client = await aiohttp_client(app)
    database = app[keys.DATABASE]
    away = Database(f"postgresql://nobody@127.0.0.1:{closed_port()}/none")
    database.engine, database._sessions = away.engine, away._sessions
    response = await client.get("/api/tickets", headers=AUTH)
    assert response.status == 503
    assert response.headers["Retry-After"] == "60"
    assert "Rien n'est perdu" in (await response.json())["error"]["message"]
