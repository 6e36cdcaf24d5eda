"""Team notes and status history, on SQLite and on PostgreSQL."""

import pytest

from backlog import store
from backlog.web import init_app
from tests.conftest import TOKEN, make_settings


@pytest.fixture
def reference(db):
    intake = store.Intake(intake_key="k", description="Personne ne répond à la CAF", theme="solidarites_sante")
    return store.save_intake(db, intake).reference


def test_notes_are_added_and_the_latest_is_shown(db, reference):
    store.update_ticket(db, reference, {"notes": "Appeler la CAF."}, actor="alice")
    ticket = store.update_ticket(db, reference, {"notes": "Fait, le 06 12 34 56 78 ne répond pas."}, actor="bob")
    body = store.ticket_to_dict(ticket)
    assert body["notes"] == "Fait, le [téléphone] ne répond pas."
    assert [(n["author"], n["text"]) for n in body["notes_history"]] == [
        ("alice", "Appeler la CAF."),
        ("bob", "Fait, le [téléphone] ne répond pas."),
    ]
    assert store.ticket_to_dict(store.get_ticket(db, reference))["notes_history"] == body["notes_history"]
    assert all(n["created_at"].endswith("Z") for n in body["notes_history"])
    with pytest.raises(ValueError):
        store.update_ticket(db, reference, {"notes": "<br> "})


def test_status_history_starts_at_filing_and_records_each_change(db, reference):
    store.update_ticket(db, reference, {"status": "en_etude"}, actor="alice")
    store.update_ticket(db, reference, {"status": "en_etude", "theme": "autre"}, actor="alice")
    store.update_ticket(db, reference, {"status": "retenu"}, actor="bob")
    history = store.ticket_to_dict(store.get_ticket(db, reference))["status_history"]
    assert [(h["author"], h["old_status"], h["new_status"]) for h in history] == [
        ("digor", None, "nouveau"),
        ("alice", "nouveau", "en_etude"),
        ("bob", "en_etude", "retenu"),
    ]


def test_listed_tickets_carry_their_histories(db, reference):
    store.update_ticket(db, reference, {"notes": "Une note."})
    listed = store.ticket_to_dict(store.list_tickets(db)[0])
    assert [n["text"] for n in listed["notes_history"]] == ["Une note."]
    assert len(listed["status_history"]) == 1


@pytest.mark.parametrize("notes", ["", "   ", "<p></p>"])
def test_an_empty_note_is_refused(notes):
    assert store.validate_changes({"notes": notes}, ["autre"]) == {"notes": "La note est vide."}


async def test_patch_notes_appends_with_the_token_label(aiohttp_client, db_url, reference):
    client = await aiohttp_client(init_app(make_settings(db_url, extra_api_tokens="alice:alice-token")))
    for token, note in [(TOKEN, "Première note."), ("alice-token", "Deuxième note.")]:
        response = await client.patch(
            f"/api/tickets/{reference}", json={"notes": note}, headers={"Authorization": f"Bearer {token}"}
        )
        assert response.status == 200
    body = await response.json()
    assert body["notes"] == "Deuxième note."
    assert [(n["author"], n["text"]) for n in body["notes_history"]] == [
        ("équipe", "Première note."),
        ("alice", "Deuxième note."),
    ]
    response = await client.patch(
        f"/api/tickets/{reference}", json={"notes": " "}, headers={"Authorization": f"Bearer {TOKEN}"}
    )
    assert response.status == 400
    assert (await response.json())["error"]["fields"]["notes"]


async def test_openapi_describes_the_histories(aiohttp_client, sqlite_url):
    client = await aiohttp_client(init_app(make_settings(sqlite_url)))
    spec = await (await client.get("/api/openapi.json")).json()
    properties = spec["components"]["schemas"]["Ticket"]["properties"]
    assert {"notes", "notes_history", "status_history"} <= set(properties)
