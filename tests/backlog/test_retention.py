"""Retention of contact details, on SQLite and on PostgreSQL."""

import asyncio
import datetime as dt

import pytest
from sqlalchemy import select, update

from backlog import retention, store
from backlog.models import Contact, utcnow
from backlog.settings import Settings
from backlog.web import init_app
import backlog.web as web_package
from tests.conftest import make_settings

NOW = dt.datetime(2026, 6, 30, 12, 0)


def file_with_contact(db, key: str, stored_at: dt.datetime) -> str:
    ticket = store.save_intake(
        db,
        store.Intake(
            intake_key=key, description="Rappelez-moi pour le dossier", theme="autre",
            contact_consent=True, contact_email=f"{key}@exemple.fr",
        ),
    )
    with db.session() as session:
        session.execute(update(Contact).where(Contact.ticket_id == ticket.id).values(created_at=stored_at))
    return ticket.reference


def emails(db) -> list[str]:
    with db.session() as session:
        return sorted(session.execute(select(Contact.email)).scalars())


def test_contacts_older_than_the_period_are_deleted_and_tickets_kept(db):
    old = file_with_contact(db, "old", NOW - dt.timedelta(days=31))
    file_with_contact(db, "edge", NOW - dt.timedelta(days=30))
    file_with_contact(db, "new", NOW - dt.timedelta(days=1))
    assert retention.purge_expired(db, NOW, 30) == 1
    assert emails(db) == ["edge@exemple.fr", "new@exemple.fr"]
    assert store.get_ticket(db, old).contact_consent is True
    assert retention.purge_expired(db, NOW, 30) == 0
    assert retention.purge_expired(db, NOW + dt.timedelta(seconds=1), 30) == 1
    assert retention.purge_expired(db, NOW + dt.timedelta(hours=1), 1) == 1
    assert emails(db) == []


def test_the_purge_is_journaled_only_when_it_deletes(db):
    file_with_contact(db, "old", NOW - dt.timedelta(days=40))
    retention.purge_expired(db, NOW, 30)
    retention.purge_expired(db, NOW, 30)
    lines = [(l.actor, l.action, l.field, l.new_value) for l in store.audit_trail(db)]
    assert lines == [("digor", "purge", "contacts", "1")]


def test_the_period_is_at_least_one_day(db):
    with pytest.raises(ValueError):
        retention.purge_expired(db, NOW, 0)


def test_the_period_comes_from_the_environment():
    assert Settings.from_env({}).retention_days == 30
    assert Settings.from_env({"DIGOR_RETENTION_DAYS": "90"}).retention_days == 90
    with pytest.raises(ValueError):
        init_app(make_settings("sqlite://", retention_days=0))


async def test_the_service_purges_at_start_then_every_interval(aiohttp_client, db_url, db, monkeypatch):
    file_with_contact(db, "old", dt.datetime(2020, 1, 1))
    file_with_contact(db, "new", utcnow())
    calls = []
    real_purge = retention.purge_expired

    def counting_purge(*args):
        calls.append(args)
        return real_purge(*args)

    monkeypatch.setattr(web_package, "purge_expired", counting_purge)
    monkeypatch.setattr(web_package, "PURGE_INTERVAL_SECONDS", 0.05)
    await aiohttp_client(init_app(make_settings(db_url, retention_days=30)))
    for _ in range(100):
        if len(calls) >= 3:
            break
        await asyncio.sleep(0.05)
    assert len(calls) >= 3
    assert calls[0][2] == 30
    assert emails(db) == ["new@exemple.fr"]


async def test_a_failing_purge_does_not_stop_the_service(aiohttp_client, sqlite_url, monkeypatch):
    calls = []

    def failing_purge(*args):
        calls.append(args)
        raise RuntimeError("base indisponible")

    monkeypatch.setattr(web_package, "purge_expired", failing_purge)
    monkeypatch.setattr(web_package, "PURGE_INTERVAL_SECONDS", 0.05)
    client = await aiohttp_client(init_app(make_settings(sqlite_url)))
    for _ in range(100):
        if len(calls) >= 2:
            break
        await asyncio.sleep(0.05)
    assert len(calls) >= 2
    assert (await client.get("/health")).status == 200


def test_transcripts_are_stored_redacted_and_purged_with_contacts(db):
    ticket = store.save_intake(db, store.Intake(
        intake_key="tr", description="Le car ne passe plus à Quimper", theme="transports",
        transcript=[{"role": "user", "text": "Je suis Marie Le Goff, mon mail est marie@exemple.fr"},
                    {"role": "bot", "text": "Merci."}, {"role": "intrus", "text": ""}, "pas un dict"],
    ))
    assert store.get_transcript(db, ticket.reference) == [
        {"role": "user", "text": "Je suis [nom], mon mail est [e-mail]"}, {"role": "bot", "text": "Merci."},
    ]
    from backlog.models import Transcript

    with db.session() as session:
        session.execute(update(Transcript).values(created_at=NOW - dt.timedelta(days=31)))
    assert retention.purge_expired(db, NOW, 30) == 1
    assert store.get_transcript(db, ticket.reference) is None
    assert store.get_ticket(db, ticket.reference).description == "Le car ne passe plus à Quimper"
    assert [(l.field, l.new_value) for l in store.audit_trail(db)] == [("transcripts", "1")]
