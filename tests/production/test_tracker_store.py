"""The tracker store never falls back to memory in silence (SQLite and PostgreSQL)."""

from __future__ import annotations

import os
import time
import uuid

import pytest
from rasa.core.agent import Agent
from rasa.core.tracker_store import FailSafeTrackerStore, SQLTrackerStore, TrackerStore
from rasa.shared.core.domain import Domain
from rasa.shared.core.events import ActionExecuted, SessionStarted, SlotSet, UserUttered
from rasa.utils.endpoints import EndpointConfig
from sqlalchemy import create_engine, text

from backlog.db import PG_CONNECT_TIMEOUT_SECONDS, database_unreachable
from bot.tracker_store import (
    HealthCheckedSQLTrackerStore,
    TrackerStoreHealth,
    TrackerStoreUnavailable,
    unwrap_fail_safe,
)

POSTGRES_URL = os.environ.get("DIGOR_TEST_POSTGRES_URL")
TYPE = "bot.tracker_store.HealthCheckedSQLTrackerStore"
DOMAIN = Domain.from_dict({"slots": {"location": {"type": "text", "mappings": [{"type": "custom"}]}}})


def from_endpoints(url: str, **extra) -> TrackerStore:
    """The store exactly as `rasa run` builds it from endpoints.yml."""
    return TrackerStore.create(EndpointConfig(url=url, type=TYPE, db="rasa", **extra), domain=DOMAIN)


async def a_conversation(store: TrackerStore, sender: str) -> None:
    tracker = await store.get_or_create_tracker(sender)
    tracker.update(UserUttered("le car ne passe plus"))
    tracker.update(SlotSet("location", "Quimperlé"))
    await store.save(tracker)


async def test_sqlite_store_is_ours_and_keeps_conversations(tmp_path):
    store = from_endpoints(f"sqlite:///{tmp_path / 'tracker.db'}")
    assert isinstance(store, HealthCheckedSQLTrackerStore)
    await a_conversation(store, "s1")
    again = await store.retrieve("s1")
    assert again.get_slot("location") == "Quimperlé"
    assert store.health.ok and store.health.failures == 0


async def test_a_sqlite_file_keeps_its_connections_open_between_messages(tmp_path):
    """SQLAlchemy 1.4 would open (and set up) a new SQLite connection for each
    read and write; the store keeps one per thread of its own."""
    import asyncio

    import sqlalchemy as sa

    from bot.tracker_store import SQL_THREADS

    store = from_endpoints(f"sqlite:///{tmp_path / 'tracker.db'}")
    opened = []
    sa.event.listen(store.engine, "connect", lambda *args: opened.append(1))
    for round_ in range(5):
        await asyncio.gather(*(a_conversation(store, f"s{n}") for n in range(8)))
    assert len(opened) <= SQL_THREADS
    assert (await store.retrieve("s3")).get_slot("location") == "Quimperlé"


async def test_same_rows_as_rasas_own_store_both_ways_and_sessions_kept_apart(tmp_path):
    """Our lean SQL reads and writes exactly what Rasa's ORM store does."""
    url = f"sqlite:///{tmp_path / 'tracker.db'}"
    ours = from_endpoints(url)
    rasas = SQLTrackerStore(domain=DOMAIN, dialect="sqlite", db=str(tmp_path / "tracker.db"))

    tracker = await ours.get_or_create_tracker("both")
    tracker.update(UserUttered("le car ne passe plus", intent={"name": "describe_irritant", "confidence": 0.9}))
    tracker.update(SlotSet("location", "Quimperlé"))
    await ours.save(tracker)
    # Rasa's store continues the conversation from what ours wrote...
    theirs = await rasas.retrieve("both")
    assert [e.as_dict() for e in theirs.events] == [e.as_dict() for e in tracker.events]
    theirs.update(ActionExecuted("action_listen"))
    await rasas.save(theirs)
    # ...and ours reads it back, then adds only the new events.
    again = await ours.retrieve("both")
    assert [e.as_dict() for e in again.events] == [e.as_dict() for e in theirs.events]
    again.update(SessionStarted(timestamp=time.time() + 1))
    again.update(SlotSet("location", "Brest", timestamp=time.time() + 2))
    await ours.save(again)
    # Only the latest session is read back, by both stores; the full tracker has all.
    latest = await ours.retrieve("both")
    await ours.save(latest)  # saving what was read adds nothing
    with create_engine(url).connect() as connection:
        rows = connection.execute(text("SELECT type_name, intent_name FROM events ORDER BY id")).all()
    assert len(rows) == len(again.events)
    assert ("user", "describe_irritant") in rows
    assert [e.type_name for e in latest.events] == ["session_started", "slot"]
    assert latest.get_slot("location") == "Brest"
    assert [e.as_dict() for e in latest.events] == [e.as_dict() for e in (await rasas.retrieve("both")).events]
    assert len((await ours.retrieve_full_tracker("both")).events) == len(again.events)
    assert await ours.retrieve("nobody") is None


@pytest.mark.parametrize(
    "url, expected",
    [
        ("nosuchdialect://user@host/db", "invalid database URL"),
        ("sqlite:////nonexistent-dir-digor/sub/tracker.db", "unreachable"),
        ("postgresql://postgres@127.0.0.1:1/rasa", "unreachable"),
    ],
)
def test_unusable_database_stops_the_start_with_a_clear_error(url, expected, monkeypatch, caplog):
    monkeypatch.setenv("DIGOR_TRACKER_CONNECT_TIMEOUT", "2")
    started = time.monotonic()
    with pytest.raises(TrackerStoreUnavailable, match=expected):
        from_endpoints(url)
    # Bounded: Rasa's own store would retry forever.
    assert time.monotonic() - started < 15
    # Neither ImportError nor AttributeError: Rasa would swap those for memory.
    assert not issubclass(TrackerStoreUnavailable, (ImportError, AttributeError))
    assert any(r.levelname == "ERROR" and "tracker store" in r.getMessage() for r in caplog.records)


async def test_run_time_failure_is_logged_and_turns_health_red(tmp_path, caplog):
    path = tmp_path / "tracker.db"
    store = from_endpoints(f"sqlite:///{path}")
    await a_conversation(store, "s1")
    engine = create_engine(f"sqlite:///{path}")
    with engine.begin() as connection:
        connection.execute(text("ALTER TABLE events RENAME TO events_gone"))
    engine.dispose()
    with pytest.raises(Exception):
        await store.retrieve("s1")
    assert store.health.ok is False and store.health.failures == 1
    assert "events" in store.health.last_error
    assert any(
        r.levelname == "ERROR" and "retrieve of conversation s1 failed" in r.getMessage()
        for r in caplog.records
    )
    tracker = store.init_tracker("s2")
    tracker.update(UserUttered("bonjour"))
    with pytest.raises(Exception):
        await store.save(tracker)
    assert store.health.failures == 2
    # The database comes back: the next operation turns it green again.
    engine = create_engine(f"sqlite:///{path}")
    with engine.begin() as connection:
        connection.execute(text("ALTER TABLE events_gone RENAME TO events"))
    engine.dispose()
    assert (await store.retrieve("s1")).get_slot("location") == "Quimperlé"
    assert store.health.ok is True


async def test_without_fail_safe_a_failure_reaches_the_caller(tmp_path):
    """Rasa's agent would answer a failed read with an empty conversation; ours raises."""
    path = tmp_path / "tracker.db"
    store = from_endpoints(f"sqlite:///{path}")
    await a_conversation(store, "s1")
    agent = Agent(domain=DOMAIN, tracker_store=store)
    assert isinstance(agent.tracker_store, FailSafeTrackerStore)
    assert unwrap_fail_safe(agent) is store
    assert agent.tracker_store is store
    assert unwrap_fail_safe(agent) is store  # idempotent
    engine = create_engine(f"sqlite:///{path}")
    with engine.begin() as connection:
        connection.execute(text("DROP TABLE events"))
    engine.dispose()
    with pytest.raises(Exception):
        await agent.tracker_store.get_or_create_tracker("s1")
    # What Rasa does by default, for contrast: a blank conversation, no error.
    fail_safe = FailSafeTrackerStore(store)
    assert (await fail_safe.retrieve("s1")) is None


def test_unwrap_leaves_other_stores_alone():
    agent = Agent(domain=DOMAIN)
    assert unwrap_fail_safe(agent) is None
    assert isinstance(agent.tracker_store, FailSafeTrackerStore)


@pytest.fixture
def postgres_database():
    if not POSTGRES_URL:
        pytest.skip("DIGOR_TEST_POSTGRES_URL is not set")
    name = f"digor_tracker_{os.getpid()}_{uuid.uuid4().hex[:6]}"
    admin = create_engine(POSTGRES_URL, isolation_level="AUTOCOMMIT")
    with admin.connect() as connection:
        connection.execute(text(f'CREATE DATABASE "{name}"'))
    yield f"{POSTGRES_URL.rpartition('/')[0]}/{name}", admin, name
    with admin.connect() as connection:
        connection.execute(
            text("SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = :n"), {"n": name}
        )
        connection.execute(text(f'DROP DATABASE IF EXISTS "{name}"'))
    admin.dispose()


@pytest.mark.postgres
async def test_postgresql_connection_killed_then_database_gone(postgres_database):
    url, admin, name = postgres_database
    store = from_endpoints(url)
    await a_conversation(store, "p1")

    def kill_connections():
        with admin.connect() as connection:
            connection.execute(
                text("SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = :n"),
                {"n": name},
            )

    # A server restart kills pooled connections: pre-ping reconnects, no error.
    kill_connections()
    assert (await store.retrieve("p1")).get_slot("location") == "Quimperlé"
    assert store.health.ok
    # The database disappears: an error, logged and recorded.
    kill_connections()
    with admin.connect() as connection:
        connection.execute(text(f'DROP DATABASE "{name}"'))
    with pytest.raises(Exception):
        await store.retrieve("p1")
    assert store.health.ok is False
    assert name in store.health.last_error
    with pytest.raises(Exception):
        store.ping()


# ---------------------------------------------------------------- health after a database outage

def test_errors_of_a_database_out_of_reach_are_told_from_refused_statements(tmp_path):
    refused = create_engine("postgresql://postgres@127.0.0.1:1/rasa")  # nothing listens on port 1
    with pytest.raises(Exception) as out_of_reach:
        refused.connect()
    refused.dispose()
    assert database_unreachable(out_of_reach.value)
    engine = create_engine(f"sqlite:///{tmp_path / 'other.db'}")
    with pytest.raises(Exception) as no_table:
        with engine.connect() as connection:
            connection.execute(text("SELECT * FROM events"))
    engine.dispose()
    assert not database_unreachable(no_table.value)
    assert not database_unreachable(RuntimeError("not a database error"))


def test_only_a_refused_write_needs_more_than_a_read_to_turn_green(tmp_path):
    engine = create_engine(f"sqlite:///{tmp_path / 'other.db'}")
    with pytest.raises(Exception) as no_table:
        with engine.connect() as connection:
            connection.execute(text("INSERT INTO events VALUES (1)"))
    engine.dispose()
    health = TrackerStoreHealth()
    health.failure(no_table.value, "retrieve")
    health.read_worked()
    assert health.ok
    health.failure(no_table.value, "save")  # e.g. a full disk: a read cannot see it
    health.read_worked()
    assert not health.ok
    health.success()  # a conversation's read or write
    assert health.ok


async def test_after_an_outage_the_probe_alone_turns_health_green(tmp_path):
    """Nobody may talk to a replica its health keeps red: when the database
    is back, the health probe (a read of the events table) must be enough."""
    folder = tmp_path / "disk"
    folder.mkdir()
    store = from_endpoints(f"sqlite:///{folder / 'tracker.db'}")
    await a_conversation(store, "s1")
    folder.rename(tmp_path / "away")  # the database cannot be opened any more
    try:
        with pytest.raises(Exception):
            await store.retrieve("s1")
        assert store.health.ok is False
        assert "unable to open database file" in store.health.last_error
        with pytest.raises(Exception):
            store.ping()
        assert store.health.ok is False
    finally:
        (tmp_path / "away").rename(folder)
    store.ping()
    assert store.health.ok is True
    assert (await store.retrieve("s1")).get_slot("location") == "Quimperlé"


async def test_the_probe_sees_a_missing_table_and_a_refused_write_stays_red(tmp_path):
    path = tmp_path / "tracker.db"
    store = from_endpoints(f"sqlite:///{path}")
    await a_conversation(store, "s1")
    engine = create_engine(f"sqlite:///{path}")
    with engine.begin() as connection:
        connection.execute(text("ALTER TABLE events RENAME TO events_gone"))
    tracker = store.init_tracker("s2")
    tracker.update(UserUttered("bonjour"))
    with pytest.raises(Exception):
        await store.save(tracker)
    with pytest.raises(Exception, match="events"):
        store.ping()  # SELECT 1 would have answered
    with engine.begin() as connection:
        connection.execute(text("ALTER TABLE events_gone RENAME TO events"))
    engine.dispose()
    # The last failure is the probe's own (a read): it clears it.
    store.ping()
    assert store.health.ok is True
    # A refused write with the table there (read only for this test) stays red.
    engine = create_engine(f"sqlite:///{path}")
    with engine.begin() as connection:
        connection.execute(text(
            "CREATE TRIGGER no_insert BEFORE INSERT ON events BEGIN SELECT RAISE(ABORT, 'disk full'); END"
        ))
    with pytest.raises(Exception, match="disk full"):
        await store.save(tracker)
    store.ping()
    assert store.health.ok is False
    with engine.begin() as connection:
        connection.execute(text("DROP TRIGGER no_insert"))
    engine.dispose()
    await store.save(tracker)
    assert store.health.ok is True


# ---------------------------------------------------------------- a server that does not answer

def test_a_silent_database_stops_the_start_in_bounded_time(silent_server, monkeypatch):
    """Without a connect timeout libpq would wait for the server's answer for ever."""
    from concurrent.futures import ThreadPoolExecutor
    from concurrent.futures import TimeoutError as FutureTimeout

    monkeypatch.setenv("DIGOR_TRACKER_CONNECT_TIMEOUT", "2")
    pool = ThreadPoolExecutor(1)
    started = time.monotonic()
    try:
        future = pool.submit(from_endpoints, f"postgresql://postgres@127.0.0.1:{silent_server}/rasa")
        with pytest.raises(TrackerStoreUnavailable, match="timeout expired"):
            future.result(timeout=30)
    except FutureTimeout:
        pytest.fail("the start-up wait hangs on a server that does not answer")
    finally:
        pool.shutdown(wait=False)
    assert time.monotonic() - started < 15


@pytest.mark.postgres
def test_the_store_connects_with_a_timeout_unless_its_url_sets_one(postgres_database):
    url, _, _ = postgres_database
    for store_url, expected in ((url, str(PG_CONNECT_TIMEOUT_SECONDS)), (f"{url}?connect_timeout=7", "7")):
        store = from_endpoints(store_url)
        try:
            with store.engine.connect() as connection:
                parameters = connection.connection.dbapi_connection.get_dsn_parameters()
            assert parameters["connect_timeout"] == expected
        finally:
            store.engine.dispose()
