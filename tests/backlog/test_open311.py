"""Open311 GeoReport v2 read endpoints, on SQLite and PostgreSQL."""

import datetime as dt

import pytest
from sqlalchemy import update

from backlog import store
from backlog.models import Ticket, utcnow
from backlog.themes import load_themes
from backlog.web import init_app
from tests.conftest import TOKEN, make_settings

AUTH = {"Authorization": f"Bearer {TOKEN}"}
# Older than the 90 days a request list covers without dates.
OLD = (utcnow() - dt.timedelta(days=120)).replace(hour=9, minute=0, second=0, microsecond=0)
FIELDS = {
    "service_request_id", "status", "status_notes", "service_name", "service_code", "description",
    "agency_responsible", "service_notice", "requested_datetime", "updated_datetime", "expected_datetime",
    "address", "address_id", "zipcode", "lat", "long", "media_url",
}


@pytest.fixture
async def client(aiohttp_client, db_url, db):
    return await aiohttp_client(init_app(make_settings(db_url)))


def file(db, key, theme="transports", description="Le car de 7 h ne passe plus à Quimper, appelez le 06 12 34 56 78.",
         **extra):
    return store.save_intake(
        db, store.Intake(intake_key=key, description=description, theme=theme, location="Quimper",
                         contact_consent=True, contact_email="soizic@exemple.fr", **extra),
        destinations=(),
    )


async def test_services_are_the_themes(client):
    answer = await client.get("/open311/v2/services.json", headers=AUTH)
    assert answer.status == 200
    services = await answer.json()
    themes = load_themes(make_settings("x").themes_file)
    assert [s["service_code"] for s in services] == [t.id for t in themes]
    first = services[0]
    assert first["service_name"] == themes[0].label and first["description"] == themes[0].covers
    assert first["metadata"] is False and first["type"] == "batch"


async def test_requests_are_the_tickets_without_contact_data(client, db):
    ticket = file(db, "a")
    answer = await client.get("/open311/v2/requests.json", headers=AUTH)
    assert answer.status == 200
    [request] = await answer.json()
    assert set(request) == FIELDS
    assert request["service_request_id"] == ticket.reference
    assert request["status"] == "open" and request["status_notes"].startswith("Nouveau")
    assert request["service_code"] == "transports" and request["service_name"] == "Transports et mobilité"
    assert request["address"] == "Quimper"
    assert "[téléphone]" in request["description"] and "06 12" not in request["description"]
    assert request["requested_datetime"].endswith("Z")
    assert dt.datetime.fromisoformat(request["requested_datetime"][:-1]) == ticket.created_at.replace(microsecond=0)
    assert request["agency_responsible"] == "Région test"
    assert "soizic" not in str(request)


async def test_one_request_is_a_list_of_one_and_unknown_is_404(client, db):
    ticket = file(db, "a")
    answer = await client.get(f"/open311/v2/requests/{ticket.reference}.json", headers=AUTH)
    assert answer.status == 200
    body = await answer.json()
    assert isinstance(body, list) and len(body) == 1 and body[0]["service_request_id"] == ticket.reference
    lower = await client.get(f"/open311/v2/requests/{ticket.reference.lower()}.json", headers=AUTH)
    assert (await lower.json())[0]["service_request_id"] == ticket.reference
    for missing in ("TK-2026-99999", "nimportequoi"):
        answer = await client.get(f"/open311/v2/requests/{missing}.json", headers=AUTH)
        assert answer.status == 404
        assert (await answer.json())[0]["code"] == 404


async def test_filters_status_service_dates_and_ids(client, db):
    old = file(db, "old", theme="lycees_education", description="La cantine du lycée de Lannion ferme trop tôt.")
    closed = file(db, "closed", description="Le TER de 17 h 42 entre Rennes et Saint-Malo est supprimé.")
    recent = file(db, "recent")
    with db.session() as session:
        session.execute(update(Ticket).where(Ticket.id == old.id).values(created_at=OLD))
    store.update_ticket(db, closed.reference, {"status": "ecarte"})

    async def ids(query):
        answer = await client.get(f"/open311/v2/requests.json?{query}", headers=AUTH)
        assert answer.status == 200, await answer.text()
        return {r["service_request_id"] for r in await answer.json()}

    # Without dates: the last 90 days only.
    assert await ids("") == {closed.reference, recent.reference}
    assert await ids("status=closed") == {closed.reference}
    assert await ids("status=open") == {recent.reference}
    day = OLD.date()
    assert await ids(f"service_code=lycees_education&start_date={day - dt.timedelta(days=5)}T00:00:00Z") == {old.reference}
    # 10:30 at UTC+01:00 is 09:30 UTC, after the old ticket (09:00 UTC).
    assert await ids(f"start_date={day}T00:00:00Z&end_date={day}T10:30:00%2B01:00") == {old.reference}
    assert await ids(f"start_date={day}T00:00:00Z&end_date={day}T09:30:00%2B01:00") == set()
    assert await ids(f"service_request_id={old.reference},{recent.reference}") == {old.reference, recent.reference}
    for bad in ("status=perdu", "service_code=inconnu", "start_date=hier",
                "start_date=2026-02-01T00:00:00Z&end_date=2026-01-01T00:00:00Z"):
        answer = await client.get(f"/open311/v2/requests.json?{bad}", headers=AUTH)
        assert answer.status == 400, bad
        assert (await answer.json())[0]["code"] == 400


async def test_a_token_is_needed_unless_public(client, aiohttp_client, db_url):
    for path in ("/open311/v2/services.json", "/open311/v2/requests.json", "/open311/v2/requests/TK-2026-00001.json"):
        answer = await client.get(path)
        assert answer.status == 401 and (await answer.json())[0]["code"] == 401
    assert (await client.get(f"/open311/v2/services.json?api_key={TOKEN}")).status == 200
    assert (await client.get("/open311/v2/services.json?api_key=faux")).status == 401
    public = await aiohttp_client(init_app(make_settings(db_url, open311_public=True)))
    assert (await public.get("/open311/v2/requests.json")).status == 200


async def test_the_openapi_description_lists_open311(client):
    spec = await (await client.get("/api/openapi.json")).json()
    assert {"/open311/v2/services.json", "/open311/v2/requests.json",
            "/open311/v2/requests/{service_request_id}.json"} <= set(spec["paths"])
    assert "/api/tickets" in spec["paths"]
