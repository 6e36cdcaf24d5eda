"""Forwarding through the outbox, against local GitLab, Grist and webhook stand-ins.

Time is simulated: the worker's clock is a value the tests move forward.
"""

import asyncio
import datetime as dt
import json
import random

import aiohttp
import pytest
from sqlalchemy import func, select

from backlog import store
from backlog.forwarding import enabled_destinations, outbox
from backlog.forwarding.gitlab import GitLabIssues
from backlog.forwarding.grist import GristRecords
from backlog.forwarding.webhook import Webhook
from backlog.forwarding.worker import OutboxWorker
from backlog.models import OutboxMessage, Ticket
from backlog.settings import Settings
from tests.backlog.forwarding_fakes import (
    GITLAB_PROJECT,
    GITLAB_TOKEN,
    GRIST_DOC,
    GRIST_KEY,
    GRIST_TABLE,
    WEBHOOK_SECRET,
    FakeGitLab,
    FakeGrist,
    FakeWebhook,
)

# Later than any ticket filed by the tests (filed at the real time).
START = dt.datetime(2099, 3, 2, 9, 0)
ALL = ("webhook", "gitlab", "grist")


class Clock:
    def __init__(self, now: dt.datetime) -> None:
        self.now = now

    def __call__(self) -> dt.datetime:
        return self.now

    def advance(self, **delta) -> None:
        self.now += dt.timedelta(**delta)


@pytest.fixture
async def fakes(aiohttp_server):
    gitlab, grist, hook = FakeGitLab(), FakeGrist(), FakeWebhook()
    gitlab_server = await aiohttp_server(gitlab.app())
    grist_server = await aiohttp_server(grist.app())
    hook_server = await aiohttp_server(hook.app())
    gitlab.base_url = str(gitlab_server.make_url(""))
    destinations = {
        "webhook": Webhook(str(hook_server.make_url("/hooks/digor")), WEBHOOK_SECRET),
        "gitlab": GitLabIssues(str(gitlab_server.make_url("")), GITLAB_PROJECT, GITLAB_TOKEN),
        "grist": GristRecords(str(grist_server.make_url("")), GRIST_DOC, GRIST_TABLE, GRIST_KEY),
    }
    return {"gitlab": gitlab, "grist": grist, "webhook": hook, "destinations": destinations}


def file(db, key="conv-1", destinations=ALL, **extra):
    values = dict(
        intake_key=key,
        description="Le car de 7 h ne passe plus à Quimper depuis la rentrée, mes enfants ratent le lycée.",
        theme="transports",
        location="Quimper",
        frequency="tous les matins",
        contact_consent=True,
        contact_email="jean.dupont@exemple.fr",
        contact_phone="06 12 34 56 78",
        on_behalf=True,
        desk_agent="Annaïg de l'accueil",
        channel="phone",
    )
    values.update(extra)
    return store.save_intake(db, store.Intake(**values), destinations=destinations)


def rows(db):
    with db.session() as session:
        return session.execute(select(OutboxMessage).order_by(OutboxMessage.id)).scalars().all()


def make_worker(db, fakes, clock, **kwargs):
    return OutboxWorker(db, fakes["destinations"], clock=clock, rng=random.Random(7), **kwargs)


def test_one_message_per_destination_is_written_with_the_ticket(db):
    ticket = file(db)
    messages = rows(db)
    assert [(m.destination, m.status, m.attempts) for m in messages] == [
        ("webhook", "pending", 0), ("gitlab", "pending", 0), ("grist", "pending", 0)
    ]
    assert {m.idempotency_key for m in messages} == {
        f"digor:{ticket.reference}:{name}" for name in ALL
    }
    payload = json.loads(messages[0].payload)
    assert payload["reference"] == ticket.reference
    assert payload["location"] == "Quimper"
    text = messages[0].payload
    assert "exemple.fr" not in text and "06 12" not in text and "Annaïg" not in text
    assert "desk_agent" not in payload and "contact_email" not in payload
    # Filing the same intake again adds nothing.
    file(db)
    assert len(rows(db)) == 3


def test_the_ticket_and_its_messages_are_one_transaction(db):
    with pytest.raises(Exception):
        file(db, destinations=("gitlab", "gitlab"))
    with db.session() as session:
        assert session.execute(select(func.count()).select_from(Ticket)).scalar_one() == 0
    assert rows(db) == []


def test_no_destination_no_message(db):
    file(db, destinations=())
    assert rows(db) == []


async def test_every_destination_receives_the_ticket_once(db, fakes):
    ticket = file(db)
    clock = Clock(START)
    worker = make_worker(db, fakes, clock)
    assert await worker.run_once() == 3
    assert [m.status for m in rows(db)] == ["sent"] * 3
    assert await worker.run_once() == 0

    hook = fakes["webhook"]
    assert hook.bad_signatures == 0
    delivery = hook.deliveries[f"digor:{ticket.reference}:webhook"]
    assert delivery["event"] == "ticket.created"
    assert delivery["ticket"]["reference"] == ticket.reference
    assert delivery["ticket"]["theme"] == "transports"

    [issue] = fakes["gitlab"].issues
    assert issue["title"].startswith(f"[{ticket.reference}] Le car de 7 h")
    assert issue["labels"] == ["digor", "theme::transports"]
    assert "| Lieu | Quimper |" in issue["description"]
    gitlab_row = [m for m in rows(db) if m.destination == "gitlab"][0]
    assert gitlab_row.external_id == issue["web_url"]

    [row] = fakes["grist"].rows
    assert row["Reference"] == ticket.reference and row["Lieu"] == "Quimper"
    assert row["Theme"] == "transports" and row["Canal"] == "phone"

    everything = json.dumps([issue, row, delivery], ensure_ascii=False)
    assert "exemple.fr" not in everything and "06 12" not in everything and "Annaïg" not in everything


async def test_a_destination_down_for_a_while_then_back(db, fakes):
    file(db, destinations=("gitlab",))
    gitlab = fakes["gitlab"]
    gitlab.down = True
    clock = Clock(START)
    worker = make_worker(db, fakes, clock, max_attempts=8)
    planned = []
    for attempt in range(1, 4):
        assert await worker.run_once() == 1
        [message] = rows(db)
        assert message.status == "pending" and message.attempts == attempt
        assert "503" in message.last_error
        wait = (message.next_attempt_at - clock.now).total_seconds()
        # Exponential with equal jitter: between half and all of 30 s * 2^(n-1).
        full = outbox.BACKOFF_BASE_SECONDS * 2 ** (attempt - 1)
        assert full / 2 <= wait <= full
        planned.append(wait)
        # Nothing is sent before its time.
        clock.now = message.next_attempt_at - dt.timedelta(seconds=1)
        assert await worker.run_once() == 0
        clock.now = message.next_attempt_at
    assert planned[0] < planned[2]
    gitlab.down = False
    assert await worker.run_once() == 1
    [message] = rows(db)
    assert message.status == "sent" and message.attempts == 4 and message.last_error is None
    assert len(gitlab.issues) == 1


async def test_an_answer_lost_after_the_issue_was_made_makes_no_second_issue(db, fakes):
    file(db, destinations=("gitlab",))
    gitlab = fakes["gitlab"]
    gitlab.lose_answers = 1
    clock = Clock(START)
    worker = make_worker(db, fakes, clock)
    await worker.run_once()
    assert rows(db)[0].status == "pending"
    assert len(gitlab.issues) == 1
    clock.advance(hours=1)
    await worker.run_once()
    [message] = rows(db)
    assert message.status == "sent"
    assert len(gitlab.issues) == 1
    assert message.external_id == gitlab.issues[0]["web_url"]


async def test_sending_again_to_grist_and_the_webhook_keeps_one_row_and_one_delivery(db, fakes):
    ticket = file(db, destinations=("grist", "webhook"))
    http_destinations = fakes["destinations"]
    async with aiohttp.ClientSession() as http:
        for message in rows(db):
            await http_destinations[message.destination].send(http, message)
            await http_destinations[message.destination].send(http, message)
    assert len(fakes["grist"].rows) == 1
    assert fakes["webhook"].received == 2
    assert list(fakes["webhook"].deliveries) == [f"digor:{ticket.reference}:webhook"]


async def test_after_the_last_try_a_message_is_a_dead_letter_until_retried(db, fakes):
    file(db, destinations=("grist",))
    fakes["grist"].down = True
    clock = Clock(START)
    worker = make_worker(db, fakes, clock, max_attempts=3)
    for _ in range(3):
        clock.advance(days=1)
        await worker.run_once()
    [message] = rows(db)
    assert message.status == "dead" and message.attempts == 3
    assert [m.id for m in outbox.dead_letters(db)] == [message.id]
    clock.advance(days=30)
    assert await worker.run_once() == 0
    assert fakes["grist"].requests == 3

    fakes["grist"].down = False
    outbox.retry(db, message.id, "équipe", clock.now)
    assert await worker.run_once() == 1
    [message] = rows(db)
    assert message.status == "sent" and message.attempts == 1
    assert outbox.dead_letters(db) == []
    assert [(l.actor, l.field, l.new_value) for l in store.audit_trail(db)][-1] == ("équipe", "outbox", "pending")
    with pytest.raises(LookupError):
        outbox.retry(db, message.id, "équipe", clock.now)


async def test_a_refusal_for_good_is_a_dead_letter_at_once(db, fakes):
    file(db, destinations=("gitlab",))
    fakes["destinations"]["gitlab"] = GitLabIssues(fakes["gitlab"].base_url, GITLAB_PROJECT, "wrong-token")
    worker = make_worker(db, fakes, Clock(START))
    await worker.run_once()
    [message] = rows(db)
    assert message.status == "dead" and message.attempts == 1 and "401" in message.last_error


async def test_a_destination_that_does_not_answer_is_retried(db, fakes, unused_tcp_port_factory):
    file(db, destinations=("webhook",))
    fakes["destinations"]["webhook"] = Webhook(f"http://127.0.0.1:{unused_tcp_port_factory()}/x", "s")
    worker = make_worker(db, fakes, Clock(START))
    await worker.run_once()
    [message] = rows(db)
    assert message.status == "pending" and message.attempts == 1
    assert "ClientConnectorError" in message.last_error


async def test_a_destination_no_longer_configured_ends_as_a_dead_letter(db, fakes):
    file(db, destinations=("gitlab",))
    clock = Clock(START)
    worker = OutboxWorker(db, {}, max_attempts=2, clock=clock, rng=random.Random(1))
    await worker.run_once()
    clock.advance(days=1)
    await worker.run_once()
    [message] = rows(db)
    assert message.status == "dead" and "not configured" in message.last_error


async def test_two_workers_never_send_the_same_message_twice(db, fakes):
    for n in range(6):
        file(db, key=f"conv-{n}", destinations=("grist",), description=f"Problème numéro {n} à Brest avec le bus")
    clock = Clock(START)
    first, second = make_worker(db, fakes, clock), make_worker(db, fakes, clock)
    attempted = await asyncio.gather(first.run_once(), second.run_once())
    assert sum(attempted) == 6
    assert fakes["grist"].requests == 6
    assert len(fakes["grist"].rows) == 6


def test_destinations_come_from_the_environment():
    assert enabled_destinations(Settings.from_env({})) == {}
    env = {
        "DIGOR_FORWARD_WEBHOOK_URL": "https://hooks.exemple.fr/digor",
        "DIGOR_FORWARD_WEBHOOK_SECRET": "s",
        "DIGOR_FORWARD_GITLAB_URL": "https://gitlab.exemple.fr",
        "DIGOR_FORWARD_GITLAB_PROJECT": "12",
        "DIGOR_FORWARD_GITLAB_TOKEN": "t",
        "DIGOR_FORWARD_GRIST_URL": "https://grist.exemple.fr",
        "DIGOR_FORWARD_GRIST_DOC": "d",
        "DIGOR_FORWARD_GRIST_TABLE": "T",
        "DIGOR_FORWARD_GRIST_KEY": "k",
        "DIGOR_FORWARD_MAX_ATTEMPTS": "5",
    }
    settings = Settings.from_env(env)
    assert sorted(enabled_destinations(settings)) == ["gitlab", "grist", "webhook"]
    assert settings.forward_max_attempts == 5
    assert Settings.from_env({}).forward_max_attempts == 8
    for missing, name in (("DIGOR_FORWARD_WEBHOOK_SECRET", "webhook"), ("DIGOR_FORWARD_GITLAB_TOKEN", "gitlab"),
                          ("DIGOR_FORWARD_GRIST_DOC", "grist")):
        partial = Settings.from_env({k: v for k, v in env.items() if k != missing})
        with pytest.raises(ValueError):
            enabled_destinations(partial)
        # Filing a ticket goes on without the destination given in part.
        assert name not in enabled_destinations(partial, strict=False)
        assert len(enabled_destinations(partial, strict=False)) == 2


def test_filing_uses_the_destinations_of_the_environment(db, monkeypatch):
    from backlog import forwarding

    monkeypatch.setenv("DIGOR_FORWARD_GRIST_URL", "https://grist.exemple.fr")
    monkeypatch.setenv("DIGOR_FORWARD_GRIST_DOC", "d")
    monkeypatch.setenv("DIGOR_FORWARD_GRIST_TABLE", "T")
    monkeypatch.setenv("DIGOR_FORWARD_GRIST_KEY", "k")
    monkeypatch.setenv("DIGOR_FORWARD_GITLAB_URL", "https://gitlab.exemple.fr")  # given in part: left out
    forwarding.default_destination_names.cache_clear()
    try:
        store.save_intake(db, store.Intake(intake_key="env", description="Le bus 12 ne passe plus.", theme="transports"))
    finally:
        forwarding.default_destination_names.cache_clear()
    assert [m.destination for m in rows(db)] == ["grist"]


async def test_the_backlog_service_runs_the_worker(aiohttp_client, aiohttp_server, db_url, db):
    from backlog.web import init_app
    from tests.conftest import make_settings

    grist = FakeGrist()
    server = await aiohttp_server(grist.app())
    ticket = file(db, destinations=("grist",))
    settings = make_settings(
        db_url, forward_grist_url=str(server.make_url("")), forward_grist_doc=GRIST_DOC,
        forward_grist_table=GRIST_TABLE, forward_grist_key=GRIST_KEY,
    )
    await aiohttp_client(init_app(settings))
    for _ in range(100):
        if grist.rows:
            break
        await asyncio.sleep(0.05)
    assert [row["Reference"] for row in grist.rows] == [ticket.reference]
    for _ in range(100):
        if rows(db)[0].status == "sent":
            break
        await asyncio.sleep(0.05)
    assert rows(db)[0].status == "sent"
