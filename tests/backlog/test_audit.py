"""The audit journal and labelled tokens, on SQLite and on PostgreSQL."""

import pytest
from sqlalchemy import select, text
from sqlalchemy.exc import DBAPIError

from backlog import store
from backlog.models import AppendOnlyError, AuditEvent
from backlog.web import init_app
from backlog.web.auth import parse_tokens, token_label
from tests.conftest import TOKEN, make_settings

ALICE = "alice-token-0123456789"


@pytest.fixture
def reference(db):
    intake = store.Intake(intake_key="k", description="Le site de la mairie plante", theme="demarches_en_ligne")
    return store.save_intake(db, intake).reference


@pytest.fixture
async def client(aiohttp_client, db_url, reference):
    settings = make_settings(db_url, extra_api_tokens=f"Alice Martin:{ALICE}, bob:bob-token-xyz")
    return await aiohttp_client(init_app(settings))


def lines(db, reference=None):
    return [
        (line.actor, line.action, line.ticket_reference, line.field, line.old_value, line.new_value)
        for line in store.audit_trail(db, reference)
    ]


def test_update_journals_each_changed_field_with_old_and_new_values(db, reference):
    store.update_ticket(db, reference, {"status": "en_etude", "theme": "demarches_en_ligne"}, actor="alice")
    store.update_ticket(db, reference, {"status": "retenu"})
    assert lines(db, reference) == [
        ("alice", "update", reference, "status", "nouveau", "en_etude"),
        ("équipe", "update", reference, "status", "en_etude", "retenu"),
    ]
    assert store.audit_trail(db, reference)[0].at is not None


def test_viewing_and_exporting_are_journaled(db, reference):
    store.view_ticket(db, reference.lower(), actor="bob")
    store.record_export(db, "bob", "csv", {"theme": "transports"}, 3)
    assert lines(db) == [
        ("bob", "view", reference, None, None, None),
        ("bob", "export", None, "csv", '{"theme": "transports"}', "3"),
    ]
    with pytest.raises(store.UnknownTicket):
        store.view_ticket(db, "TK-2026-99999", actor="bob")


def test_the_session_refuses_to_change_or_delete_a_line(db, reference):
    store.view_ticket(db, reference, actor="bob")
    with pytest.raises(AppendOnlyError):
        with db.session() as session:
            session.execute(select(AuditEvent)).scalar_one().actor = "personne"
    with pytest.raises(AppendOnlyError):
        with db.session() as session:
            session.delete(session.execute(select(AuditEvent)).scalar_one())
    assert lines(db) == [("bob", "view", reference, None, None, None)]


@pytest.mark.parametrize(
    "statement", ["UPDATE audit_events SET actor = 'personne'", "DELETE FROM audit_events"]
)
def test_the_database_refuses_to_change_or_delete_a_line(db, reference, statement):
    store.view_ticket(db, reference, actor="bob")
    with pytest.raises(DBAPIError, match="append-only"):
        with db.engine.begin() as connection:
            connection.execute(text(statement))
    assert lines(db) == [("bob", "view", reference, None, None, None)]


def test_tokens_are_parsed_with_their_labels():
    assert parse_tokens("main", " a:1 , b : 2:x ,") == {"main": "équipe", "1": "a", "2:x": "b"}
    assert parse_tokens("", "") == {}
    for bad in ["sans-separateur", ":jeton", "label:", "a:1,b:1", "main-dup:main"]:
        with pytest.raises(ValueError):
            parse_tokens("main", bad)
    tokens = parse_tokens("main", "a:1")
    assert token_label(tokens, "Bearer 1") == "a"
    assert token_label(tokens, "bearer main") == "équipe"
    assert token_label(tokens, "Bearer 2") is None
    assert token_label(tokens, "1") is None


def test_a_malformed_token_list_stops_the_service(sqlite_url):
    with pytest.raises(ValueError):
        init_app(make_settings(sqlite_url, extra_api_tokens="alice"))


async def test_the_api_journals_who_viewed_and_changed_a_ticket(client, db_url, reference):
    response = await client.get(f"/api/tickets/{reference}", headers={"Authorization": f"Bearer {ALICE}"})
    assert response.status == 200
    response = await client.patch(
        f"/api/tickets/{reference}", json={"status": "en_etude"}, headers={"Authorization": f"Bearer {TOKEN}"}
    )
    assert response.status == 200
    response = await client.get(f"/api/tickets/{reference}", headers={"Authorization": "Bearer inconnu"})
    assert response.status == 401
    response = await client.get(f"/api/tickets/{reference}/journal", headers={"Authorization": "Bearer bob-token-xyz"})
    assert response.status == 200
    journal = await response.json()
    assert [(line["actor"], line["action"], line["field"], line["old_value"], line["new_value"]) for line in journal] == [
        ("Alice Martin", "view", None, None, None),
        ("équipe", "update", "status", "nouveau", "en_etude"),
    ]
    assert journal[0]["at"].endswith("Z")
    response = await client.get("/api/tickets/TK-2026-99999/journal", headers={"Authorization": f"Bearer {TOKEN}"})
    assert response.status == 404
    response = await client.get(f"/api/tickets/{reference}/journal")
    assert response.status == 401


async def test_openapi_describes_the_journal(client):
    spec = await (await client.get("/api/openapi.json")).json()
    assert "get" in spec["paths"]["/api/tickets/{reference}/journal"]
    assert "actor" in spec["components"]["schemas"]["JournalLine"]["properties"]


async def test_the_whole_journal_is_readable_newest_first_with_filters(client, reference):
    alice = {"Authorization": f"Bearer {ALICE}"}
    await client.get(f"/api/tickets/{reference}", headers=alice)
    await client.get("/api/export.json", headers=alice)
    await client.patch(f"/api/tickets/{reference}", json={"status": "clos"}, headers={"Authorization": f"Bearer {TOKEN}"})
    response = await client.get("/api/journal", headers=alice)
    assert response.status == 200
    assert [(l["actor"], l["action"]) for l in await response.json()] == [
        ("équipe", "update"), ("Alice Martin", "export"), ("Alice Martin", "view"),
    ]
    assert response.headers["X-Total-Count"] == "3"
    response = await client.get("/api/journal?action=export", headers=alice)
    assert [l["field"] for l in await response.json()] == ["json"]
    response = await client.get("/api/journal?actor=Alice%20Martin&limit=1", headers=alice)
    assert [l["action"] for l in await response.json()] == ["export"]
    assert response.headers["X-Total-Count"] == "2"
    assert 'rel="next"' in response.headers["Link"]
    response = await client.get("/api/journal?action=effacer", headers=alice)
    assert response.status == 400
    assert (await client.get("/api/journal")).status == 401
    spec = await (await client.get("/api/openapi.json")).json()
    assert "/api/journal" in spec["paths"]


def test_the_extra_tokens_come_from_the_environment():
    from backlog.settings import Settings

    settings = Settings.from_env({"DIGOR_API_TOKEN": "main", "DIGOR_API_TOKENS": "alice:a1"})
    assert parse_tokens(settings.api_token, settings.extra_api_tokens) == {"main": "équipe", "a1": "alice"}
    assert Settings.from_env({}).extra_api_tokens == ""
