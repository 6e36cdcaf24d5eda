"""The desk channel on the real Rasa server (credentials.yml), its tracker store read back."""

from __future__ import annotations

import json
import sqlite3
import uuid

import pytest
import requests

from connectors.desk import SUMMARY_SLOTS, _b64decode, _b64encode, new_session, read_session, sender_id, session_key
from connectors.widget import new_session_token
from tests.e2e.conftest import start_stack

pytestmark = pytest.mark.e2e

AGENT, TOKEN = "Yann Test", "desk-" + uuid.uuid4().hex


@pytest.fixture(scope="module")
def desk(tmp_path_factory):
    data = tmp_path_factory.mktemp("data")
    tracker = data / "tracker.db"
    stack = start_stack(
        tmp_path_factory,
        db_url=f"sqlite:///{data / 'backlog.db'}",
        tracker_url=f"sqlite:///{tracker}",
        DIGOR_DESK_AGENTS=f"{AGENT}:{TOKEN}",
    )
    yield stack.env, tracker
    stack.stop()


def url(env, path: str) -> str:
    return f"http://127.0.0.1:{env['DIGOR_RASA_PORT']}/webhooks/desk/{path}"


def stored_events(tracker_db, sender: str) -> int:
    with sqlite3.connect(tracker_db) as connection:
        tables = {row[0] for row in connection.execute("SELECT name FROM sqlite_master WHERE type='table'")}
        if "events" not in tables:
            return 0
        return connection.execute("SELECT count(*) FROM events WHERE sender_id = ?", (sender,)).fetchone()[0]


def test_an_agent_holds_a_conversation_and_reads_the_summary(desk):
    env, tracker_db = desk
    signed = requests.post(url(env, "session"), json={"agent_token": TOKEN}, timeout=30)
    assert signed.status_code == 200, signed.text
    session = signed.json()["session"]
    assert signed.json()["agent"] == AGENT

    answer = requests.post(
        url(env, "webhook"),
        json={"session": session, "message": "la dame dit que le car de 7h ne passe jamais à Quimper"},
        timeout=60,
    )

    assert answer.status_code == 200, answer.text
    body = answer.json()
    assert isinstance(body["messages"], list) and body["messages"]
    assert set(body["summary"]) == set(SUMMARY_SLOTS)
    assert body["summary"]["description"]

    # The tracker holds the message with the agent's name and the desk channel.
    tracker = requests.get(
        f"http://127.0.0.1:{env['DIGOR_RASA_PORT']}/conversations/"
        f"{sender_id(_conversation(env, session))}/tracker",
        params={"token": env["DIGOR_RASA_TOKEN"]},
        timeout=30,
    ).json()
    user = [event for event in tracker["events"] if event["event"] == "user"]
    assert user[-1]["input_channel"] == "desk"
    assert user[-1]["metadata"]["desk_agent"] == AGENT


def _conversation(env, session: str) -> str:
    return read_session(session_key(env["DIGOR_WIDGET_SECRET"]), session)["c"]


def claimed_conversation(session: str) -> str:
    return json.loads(_b64decode(session.split(".")[0]))["c"]


def test_forged_sessions_get_401_and_leave_no_trace(desk):
    env, tracker_db = desk
    key = session_key(env["DIGOR_WIDGET_SECRET"])
    genuine = requests.post(url(env, "session"), json={"agent_token": TOKEN}, timeout=30).json()["session"]
    requests.post(url(env, "webhook"), json={"session": genuine, "message": "bonjour"}, timeout=60)
    conversation = claimed_conversation(genuine)
    before = stored_events(tracker_db, sender_id(conversation))
    assert before > 0

    # The genuine conversation, claimed by another agent name without the key.
    claims = json.loads(_b64decode(genuine.split(".")[0]))
    claims["a"] = "Quelqu'un d'autre"
    tampered = _b64encode(json.dumps(claims).encode()) + "." + genuine.split(".")[1]
    forged = [
        tampered,
        new_session(session_key("not the secret"), AGENT)[0],
        new_session(key, "Quelqu'un d'autre")[0],  # signed, but no such agent
        new_session_token(env["DIGOR_WIDGET_SECRET"].encode()),  # a widget session
        None,
    ]
    for session in forged:
        answer = requests.post(url(env, "webhook"), json={"session": session, "message": "bonjour"}, timeout=30)
        assert answer.status_code == 401, session
        assert "error" in answer.json()
    assert requests.post(url(env, "session"), json={"agent_token": TOKEN + "x"}, timeout=30).status_code == 401

    assert stored_events(tracker_db, sender_id(conversation)) == before
    for session in forged[1:3]:
        assert stored_events(tracker_db, sender_id(claimed_conversation(session))) == 0
