"""The team's evaluation grid, on SQLite and on PostgreSQL."""

import pytest
from sqlalchemy import text
from sqlalchemy.exc import IntegrityError

from backlog import store
from backlog.models import SCORES
from backlog.web import init_app
from tests.conftest import TOKEN, make_settings

AUTH = {"Authorization": f"Bearer {TOKEN}"}


@pytest.fixture
def reference(db):
    intake = store.Intake(intake_key="k", description="Trois formulaires pour une bourse", theme="autre")
    return store.save_intake(db, intake).reference


def test_scores_start_empty_are_set_cleared_and_journaled(db, reference):
    assert {name: store.ticket_to_dict(store.get_ticket(db, reference))[name] for name in SCORES} == dict.fromkeys(SCORES)
    store.update_ticket(db, reference, {"score_size": 4, "score_cost": 2}, actor="alice")
    ticket = store.update_ticket(db, reference, {"score_size": None}, actor="bob")
    body = store.ticket_to_dict(ticket)
    assert (body["score_size"], body["score_cost"], body["score_recurrence"]) == (None, 2, None)
    journal = [(l.actor, l.field, l.old_value, l.new_value) for l in store.audit_trail(db, reference)]
    assert journal == [
        ("alice", "score_size", None, "4"),
        ("alice", "score_cost", None, "2"),
        ("bob", "score_size", "4", None),
    ]


@pytest.mark.parametrize("value", [0, 6, -1, 2.5, "3", True, [], {}])
@pytest.mark.parametrize("name", list(SCORES))
def test_a_score_outside_1_to_5_is_refused(name, value):
    assert name in store.validate_changes({name: value}, ["autre"])


@pytest.mark.parametrize("value", [1, 3, 5, None])
def test_a_score_from_1_to_5_or_null_is_accepted(value):
    assert store.validate_changes({name: value for name in SCORES}, ["autre"]) == {}


def test_postgresql_itself_refuses_a_score_out_of_range(db, reference):
    if db.engine.dialect.name != "postgresql":
        pytest.skip("the CHECK constraints exist on PostgreSQL only")
    with pytest.raises(IntegrityError):
        with db.engine.begin() as connection:
            connection.execute(text("UPDATE tickets SET score_cost = 7"))


async def test_patch_sets_scores_and_explains_a_wrong_one(aiohttp_client, db_url, reference):
    client = await aiohttp_client(init_app(make_settings(db_url)))
    response = await client.patch(
        f"/api/tickets/{reference}", json={"score_credibility": 5, "score_recurrence": 3}, headers=AUTH
    )
    assert response.status == 200
    body = await response.json()
    assert (body["score_credibility"], body["score_recurrence"]) == (5, 3)
    response = await client.patch(f"/api/tickets/{reference}", json={"score_consequences": 9}, headers=AUTH)
    assert response.status == 400
    assert "1 à 5" in (await response.json())["error"]["fields"]["score_consequences"]
    spec = await (await client.get("/api/openapi.json")).json()
    for schema in ("Ticket", "TicketChanges"):
        properties = spec["components"]["schemas"][schema]["properties"]
        assert {name: (properties[name]["minimum"], properties[name]["maximum"]) for name in SCORES} == dict.fromkeys(SCORES, (1, 5))
