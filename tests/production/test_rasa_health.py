"""The Rasa server with the health channel: a database it cannot reach stops it,
and /webhooks/health/ reports a tracker store that fails at run time."""

from __future__ import annotations

import os
import time
import uuid

import pytest
import requests
from sqlalchemy import create_engine, text

from connectors.health import SERVICE_UNAVAILABLE
from scripts.stack import ROOT, Stack, default_env, latest_model
from tests.e2e.conftest import free_port, start_stack

pytestmark = pytest.mark.e2e


def test_an_unreachable_tracker_database_stops_the_server_with_a_clear_error(tmp_path):
    model = latest_model()
    if model is None:
        pytest.fail("no trained model in models/")
    env = default_env({
        **os.environ,
        "DIGOR_RASA_PORT": str(free_port()),
        "DIGOR_ACTIONS_PORT": str(free_port()),
        "DIGOR_WEB_PORT": str(free_port()),
        "DIGOR_DB_URL": f"sqlite:///{tmp_path / 'backlog.db'}",
        # Nothing listens on port 1.
        "DIGOR_TRACKER_DB_URL": "postgresql://digor:secret-password@127.0.0.1:1/rasa",
        "DIGOR_TRACKER_CONNECT_TIMEOUT": "3",
    })
    logs = ROOT / "test-artifacts" / "e2e" / f"unreachable-{uuid.uuid4().hex[:6]}"
    stack = Stack(env=env, model=model, log_dir=logs)
    stack.start(names=["rasa"])
    process = stack.processes["rasa"]
    try:
        deadline = time.monotonic() + 240
        while process.poll() is None and time.monotonic() < deadline:
            # Never up on memory in the meantime.
            try:
                answer = requests.get(f"http://127.0.0.1:{env['DIGOR_RASA_PORT']}/webhooks/rest/", timeout=2)
                pytest.fail(f"the server answered ({answer.status_code}) without its database")
            except requests.ConnectionError:
                pass
            time.sleep(1)
        assert process.poll() is not None, "the server neither stopped nor came up"
    finally:
        stack.stop()
    log = (logs / "rasa.log").read_text(errors="replace")
    assert "tracker store: database" in log and "unreachable after 3 s" in log
    assert "secret-password" not in log
    assert "InMemoryTrackerStore" not in log


@pytest.fixture(scope="module")
def stack_on_sqlite(tmp_path_factory):
    data = tmp_path_factory.mktemp("data")
    tracker = data / "tracker.db"
    stack = start_stack(
        tmp_path_factory, db_url=f"sqlite:///{data / 'backlog.db'}", tracker_url=f"sqlite:///{tracker}"
    )
    yield stack.env, tracker
    stack.stop()


def health(env):
    answer = requests.get(f"http://127.0.0.1:{env['DIGOR_RASA_PORT']}/webhooks/health/", timeout=30)
    return answer.status_code, answer.json()


def test_health_is_green_then_red_while_the_tracker_store_fails_then_green(stack_on_sqlite):
    env, tracker = stack_on_sqlite
    status, report = health(env)
    assert status == 200, report
    assert report["tracker_store"]["type"] == "HealthCheckedSQLTrackerStore"
    assert report["lock_store"]["type"] == "InMemoryLockStore"
    assert report["action_server"]["ok"] is True
    rest = f"http://127.0.0.1:{env['DIGOR_RASA_PORT']}/webhooks/rest/webhook"
    sender = "health-" + uuid.uuid4().hex[:8]
    assert requests.post(rest, json={"sender": sender, "message": "bonjour"}, timeout=120).json()

    engine = create_engine(f"sqlite:///{tracker}")
    with engine.begin() as connection:
        connection.execute(text("ALTER TABLE events RENAME TO events_away"))
    try:
        # The message fails instead of starting a blank conversation: the person reads why.
        answer = requests.post(rest, json={"sender": sender, "message": "le car ne passe plus"}, timeout=120)
        assert answer.status_code == 200
        assert answer.json() == [{"recipient_id": sender, "text": SERVICE_UNAVAILABLE}]
        status, report = health(env)
        assert status == 503
        assert report["tracker_store"]["ok"] is False
        assert "events" in (report["tracker_store"]["last_error"] or "")
    finally:
        with engine.begin() as connection:
            connection.execute(text("ALTER TABLE events_away RENAME TO events"))
        engine.dispose()
    # The table is back: the health probe reads it, so health is green before any
    # message (a load balancer would otherwise never send one to this server).
    status, report = health(env)
    assert status == 200, report
    # The conversation kept its memory: it goes on from where it was.
    answers = requests.post(rest, json={"sender": sender, "message": "le car ne passe plus"}, timeout=120).json()
    assert answers and SERVICE_UNAVAILABLE not in [answer.get("text") for answer in answers]
    status, report = health(env)
    assert status == 200, report
    assert report["tracker_store"]["failures"] >= 1
    metrics = requests.get(f"http://127.0.0.1:{env['DIGOR_RASA_PORT']}/webhooks/health/metrics", timeout=30).text
    assert 'digor_rasa_messages_total{channel="rest",outcome="error"} 1.0' in metrics
    assert 'digor_rasa_messages_total{channel="rest",outcome="ok"}' in metrics
    engine = create_engine(f"sqlite:///{tracker}")
    with engine.connect() as connection:
        texts = [row[0] for row in connection.execute(
            text("SELECT data FROM events WHERE sender_id = :s AND type_name = 'user' ORDER BY id"), {"s": sender}
        )]
    engine.dispose()
    assert len(texts) == 2 and '"bonjour"' in texts[0]
