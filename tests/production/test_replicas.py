"""The production set-up: two Rasa replicas, one action server, one backlog.

PostgreSQL holds the tracker store and the backlog, Redis the lock store.
Each conversation's messages alternate between the two replicas, so a
replica always continues a conversation the other one started; the tickets
are then read back field by field. Needs DIGOR_TEST_POSTGRES_URL and
DIGOR_TEST_REDIS_URL; a database is made for the test and dropped after.
"""

from __future__ import annotations

import json
import os
import signal
import time
import uuid
from concurrent.futures import ThreadPoolExecutor
from typing import Any, Dict, List, Optional
from urllib.parse import urlsplit

import pytest
import requests
from sqlalchemy import create_engine, text

from scripts.stack import ROOT, Stack, default_env, latest_model
from tests.e2e.conftest import free_port

POSTGRES_URL = os.environ.get("DIGOR_TEST_POSTGRES_URL")
REDIS_URL = os.environ.get("DIGOR_TEST_REDIS_URL")

pytestmark = [
    pytest.mark.e2e,
    pytest.mark.postgres,
    pytest.mark.skipif(
        not (POSTGRES_URL and REDIS_URL), reason="DIGOR_TEST_POSTGRES_URL and DIGOR_TEST_REDIS_URL are needed"
    ),
]

# (first messages, the place the person gives, expected ticket fields)
CONVERSATIONS = [
    (["bonjour", "le car de 7h ne passe jamais, mes enfants arrivent en retard au lycée"], "à Quimperlé",
     {"theme": "transports", "description": "le car de 7h ne passe jamais, mes enfants arrivent en retard au lycée"}),
    (["depuis 3 mois le car de 7h à Quimper passe pas"], "à Quimper",
     {"since": "depuis 3 mois", "description": "depuis 3 mois le car de 7h à Quimper passe pas"}),
    (["bonjour", "je n'arrive pas à me connecter au site de la région avec FranceConnect"], "à Lorient",
     {"description": "je n'arrive pas à me connecter au site de la région avec FranceConnect"}),
]
# What a person answers to each question (the flow may ask them in any order, or not at all).
REPLIES = (
    (("ce que j'ai noté", "est-ce juste", "c'est juste"), "oui"),
    (("souvent", "fréquence", "combien de fois"), "tous les matins"),
    (("depuis quand",), "depuis la rentrée"),
    (("qui est gêné", "gêne qui", "qui est touché"), "mes enfants"),
    (("conséquences", "vous cause"), "ils arrivent en retard"),
)
PLACE_CUES = ("commune", "où cela", "lieu", "quel service")


def reply_to(answers: List[Dict[str, Any]], place: str) -> str:
    said = texts(answers).lower()
    summary_cues, yes = REPLIES[0]
    if any(cue in said for cue in summary_cues):
        return yes  # the summary lists the place too: answer it first
    if any(cue in said for cue in PLACE_CUES):
        return place
    for cues, reply in REPLIES[1:]:
        if any(cue in said for cue in cues):
            return reply
    buttons = [button for message in answers for button in message.get("buttons") or []]
    if buttons:
        return buttons[0]["payload"]  # a click on the first choice
    return "je ne sais pas"


def reference_in(answers: List[Dict[str, Any]]) -> Optional[str]:
    for word in texts(answers).split():
        if word.startswith("TK-"):
            return word.strip(".,;:!")
    return None


def converse(envs, sender: str, opening: List[str], place: str, first_replica: int = 0, turns: int = 16):
    """A whole conversation, each message on the next replica; (reference, messages sent)."""
    sent: List[str] = []
    answers: List[Dict[str, Any]] = []
    for turn in range(turns):
        message = opening[turn] if turn < len(opening) else reply_to(answers, place)
        answers = say(envs[(turn + first_replica) % len(envs)], sender, message)
        sent.append(message)
        assert answers, f"no answer to {message!r} (turn {turn})"
        reference = reference_in(answers)
        if reference:
            return reference, sent
    raise AssertionError(f"no reference after {turns} turns; last answer: {texts(answers)!r}")


def texts(answers: List[Dict[str, Any]]) -> str:
    return " ".join(message.get("text") or "" for message in answers)


@pytest.fixture(scope="module")
def replicas_stacks(tmp_path_factory):
    """(first stack: Rasa A, action server, backlog; second stack: Rasa B), env A, env B, database URL."""
    model = latest_model()
    if model is None:
        pytest.fail("no trained model in models/")
    name = f"digor_replicas_{os.getpid()}"
    admin = create_engine(POSTGRES_URL, isolation_level="AUTOCOMMIT", future=True)
    with admin.connect() as connection:
        connection.execute(text(f'DROP DATABASE IF EXISTS "{name}"'))
        connection.execute(text(f'CREATE DATABASE "{name}"'))
    url = f"{POSTGRES_URL.rpartition('/')[0]}/{name}"
    redis = urlsplit(REDIS_URL)
    logs = ROOT / "test-artifacts" / "e2e" / tmp_path_factory.mktemp("replicas").name
    base = {
        **os.environ,
        "DIGOR_RASA_PORT": str(free_port()),
        "DIGOR_ACTIONS_PORT": str(free_port()),
        "DIGOR_WEB_PORT": str(free_port()),
        "DIGOR_DB_URL": url,
        "DIGOR_TRACKER_DB_URL": url,
        "DIGOR_API_TOKEN": "replicas-" + uuid.uuid4().hex,
        "DIGOR_LOCK_STORE": "redis",
        "DIGOR_REDIS_HOST": redis.hostname or "localhost",
        "DIGOR_REDIS_PORT": str(redis.port or 6379),
        "DIGOR_REDIS_DB": (redis.path or "/0").strip("/") or "0",
    }
    for variable in ("DIGOR_ACTION_ENDPOINT_URL", "DIGOR_RASA_PUBLIC_URL"):
        base.pop(variable, None)
    env_a = default_env(base)
    env_b = dict(env_a, DIGOR_RASA_PORT=str(free_port()))
    first = Stack(env=env_a, model=model, log_dir=logs / "a")
    second = Stack(env=env_b, model=model, log_dir=logs / "b")
    first.start()
    second.start(names=["rasa"])
    try:
        first.wait_until_up(timeout=400)
        second.wait_until_up(timeout=400)
        yield (first, second), env_a, env_b, url
    finally:
        second.stop()
        first.stop()
        with admin.connect() as connection:
            connection.execute(
                text("SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = :n"), {"n": name}
            )
            connection.execute(text(f'DROP DATABASE IF EXISTS "{name}"'))
        admin.dispose()


@pytest.fixture(scope="module")
def replicas(replicas_stacks):
    _, env_a, env_b, url = replicas_stacks
    return env_a, env_b, url


def say(env: Dict[str, str], sender: str, message: str) -> List[Dict[str, Any]]:
    answer = requests.post(
        f"http://127.0.0.1:{env['DIGOR_RASA_PORT']}/webhooks/rest/webhook",
        json={"sender": sender, "message": message},
        timeout=120,
    )
    assert answer.status_code == 200, answer.text
    return answer.json()


def test_both_replicas_are_healthy_on_postgresql_and_redis(replicas):
    for env in replicas[:2]:
        report = requests.get(f"http://127.0.0.1:{env['DIGOR_RASA_PORT']}/webhooks/health/", timeout=30).json()
        assert report["status"] == "ok", report
        assert report["tracker_store"]["type"] == "HealthCheckedSQLTrackerStore"
        assert report["lock_store"] == {"ok": True, "type": "AtomicRedisLockStore"}


def test_conversations_alternating_between_replicas_file_complete_tickets(replicas):
    env_a, env_b, url = replicas
    run = uuid.uuid4().hex[:8]

    def one(index: int) -> Dict[str, Any]:
        opening, place, _ = CONVERSATIONS[index]
        sender = f"replicas-{run}-{index}"
        # Conversation 0 starts on A, 1 on B, 2 on A: every message changes replica.
        reference, sent = converse((env_a, env_b), sender, opening, place, first_replica=index)
        return {"sender": sender, "reference": reference, "sent": sent}

    with ThreadPoolExecutor(len(CONVERSATIONS)) as pool:
        results = list(pool.map(one, range(len(CONVERSATIONS))))

    auth = {"Authorization": f"Bearer {env_a['DIGOR_API_TOKEN']}"}
    web = f"http://127.0.0.1:{env_a['DIGOR_WEB_PORT']}"
    engine = create_engine(url, future=True)
    try:
        for (_, place, expected), result in zip(CONVERSATIONS, results):
            ticket = requests.get(f"{web}/api/tickets/{result['reference']}", headers=auth, timeout=30).json()
            for field, value in expected.items():
                assert ticket[field] == value, (field, ticket)
            assert place.split()[-1] in (ticket["location"] or ""), ticket
            if "tous les matins" in result["sent"]:
                assert ticket["frequency"] == "tous les matins", ticket
            assert ticket["channel"] == "web"
            assert ticket["status"] == "nouveau"
            with engine.connect() as connection:
                # Exactly one ticket for this conversation (the database is the test's own).
                assert connection.execute(
                    text("SELECT count(*) FROM tickets WHERE description = :d"), {"d": expected["description"]}
                ).scalar_one() == 1
                # The tracker store has every message once, in order, whichever replica took it.
                said = [
                    row[0] for row in connection.execute(
                        text("SELECT data FROM events WHERE sender_id = :s AND type_name = 'user' ORDER BY id"),
                        {"s": result["sender"]},
                    )
                ]
            assert [json.loads(data)["text"] for data in said] == result["sent"]
        references = [result["reference"] for result in results]
        assert len(set(references)) == len(references)
    finally:
        engine.dispose()


def test_simultaneous_messages_of_one_conversation_on_both_replicas_are_serialised(replicas):
    """The Redis lock store makes the second replica wait for the first."""
    env_a, env_b, url = replicas
    sender = f"replicas-lock-{uuid.uuid4().hex[:8]}"
    say(env_a, sender, "bonjour")
    with ThreadPoolExecutor(2) as pool:
        first = pool.submit(say, env_a, sender, "le car de 7h ne passe jamais à Quimperlé")
        second = pool.submit(say, env_b, sender, "tous les matins")
        answers = first.result(), second.result()
    assert all(answers), answers
    engine = create_engine(url, future=True)
    try:
        with engine.connect() as connection:
            rows = connection.execute(
                text("SELECT type_name, data FROM events WHERE sender_id = :s ORDER BY id"), {"s": sender}
            ).all()
    finally:
        engine.dispose()
    users = [json.loads(data)["text"] for kind, data in rows if kind == "user"]
    assert users[0] == "bonjour"
    assert sorted(users[1:]) == sorted(["le car de 7h ne passe jamais à Quimperlé", "tous les matins"])
    # Serialised: after each user message comes the bot's handling of it, not the other message.
    kinds = [kind for kind, _ in rows]
    second_user = [i for i, kind in enumerate(kinds) if kind == "user"][2]
    assert "bot" in kinds[[i for i, k in enumerate(kinds) if k == "user"][1]:second_user]


# ---------------------------------------------------------------- faults (last: they stop processes)

def rasa_health(env: Dict[str, str]) -> Dict[str, Any]:
    return requests.get(f"http://127.0.0.1:{env['DIGOR_RASA_PORT']}/webhooks/health/", timeout=30).json()


def tickets_with(url: str, description: str) -> int:
    engine = create_engine(url, future=True)
    try:
        with engine.connect() as connection:
            return connection.execute(
                text("SELECT count(*) FROM tickets WHERE description = :d"), {"d": description}
            ).scalar_one()
    finally:
        engine.dispose()


@pytest.mark.fault
def test_action_server_killed_mid_conversation_then_restarted(replicas_stacks):
    (first, _), env_a, env_b, url = replicas_stacks
    sender = f"fault-actions-{uuid.uuid4().hex[:8]}"
    description = f"le guichet de la gare ferme à midi, impossible de retirer mon billet ({sender})"
    say(env_a, sender, "bonjour")
    say(env_b, sender, description)
    process = first.processes["actions"]
    os.killpg(process.pid, 9)
    process.wait(timeout=30)
    # Rasa answers without its action server (no 5xx) and its health turns red.
    answer = requests.post(
        f"http://127.0.0.1:{env_a['DIGOR_RASA_PORT']}/webhooks/rest/webhook",
        json={"sender": sender, "message": "à Quimperlé"}, timeout=120,
    )
    assert answer.status_code == 200
    report = rasa_health(env_a)
    assert report["status"] == "error" and report["action_server"]["ok"] is False
    first.processes.pop("actions")
    first.start(names=["actions"])
    first.wait_until_up(timeout=300)
    assert rasa_health(env_b)["status"] == "ok"
    # The person answers again; the conversation ends with exactly one ticket.
    reference, _ = converse((env_b,), sender, ["à Quimperlé"], "à Quimperlé")
    assert reference.startswith("TK-")
    assert tickets_with(url, description) == 1


@pytest.mark.fault
def test_a_replica_killed_mid_turn_the_other_one_carries_on(replicas_stacks):
    (first, second), env_a, env_b, url = replicas_stacks
    sender = f"fault-replica-{uuid.uuid4().hex[:8]}"
    description = f"la cantine de l'école a doublé ses prix sans prévenir ({sender})"
    say(env_a, sender, "bonjour")
    say(env_a, sender, description)
    # Mid-turn for sure: the action server is frozen, so B has read the
    # conversation and waits for the form's answer when it is killed (a turn
    # takes a few milliseconds otherwise: a timed kill often came too late).
    actions = first.processes["actions"]
    os.killpg(actions.pid, signal.SIGSTOP)
    try:
        with ThreadPoolExecutor(1) as pool:
            pending = pool.submit(
                requests.post, f"http://127.0.0.1:{env_b['DIGOR_RASA_PORT']}/webhooks/rest/webhook",
                json={"sender": sender, "message": "à Quimperlé"}, timeout=120,
            )
            time.sleep(2)
            assert not pending.done()
            process = second.processes["rasa"]
            os.killpg(process.pid, 9)
            process.wait(timeout=30)
            with pytest.raises(requests.RequestException):
                pending.result()
    finally:
        os.killpg(actions.pid, signal.SIGCONT)
    second.processes.pop("rasa")
    # The load balancer sends the person's retry to A. If B died holding the
    # conversation's lock, Rasa 3.6's Redis ticket lock makes A wait for B's
    # ticket to expire (60 s); when A's own ticket expires in the same second
    # it waits until the client gives up (README, "Several replicas"). The
    # person then tries again, and that message goes through.
    started = time.monotonic()
    try:
        requests.post(
            f"http://127.0.0.1:{env_a['DIGOR_RASA_PORT']}/webhooks/rest/webhook",
            json={"sender": sender, "message": "à Quimperlé"}, timeout=75,
        )
    except requests.Timeout:
        pass
    reference, _ = converse((env_a,), sender, ["à Quimperlé"], "à Quimperlé")
    assert time.monotonic() - started < 240
    assert reference.startswith("TK-")
    assert tickets_with(url, description) == 1
