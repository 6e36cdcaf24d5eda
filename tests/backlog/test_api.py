"""The backlog API (contract 4) through aiohttp's test client."""

import pytest

from backlog import store
from backlog.db import Database
from backlog.web import init_app
from tests.conftest import TOKEN, make_settings

AUTH = {"Authorization": f"Bearer {TOKEN}"}


@pytest.fixture
async def client(aiohttp_client, sqlite_url):
    app = init_app(make_settings(sqlite_url))
    return await aiohttp_client(app)


@pytest.fixture
def seeded(sqlite_url):
    from backlog.db import init_schema

    db = Database(sqlite_url)
    init_schema(db.engine)
    first = store.save_intake(
        db,
        store.Intake(intake_key="a", description="Le TER de Redon est supprimé", theme="transports", channel="web"),
    )
    second = store.save_intake(
        db,
        store.Intake(
            intake_key="b",
            description="Double saisie dans le logiciel RH",
            theme="fonctionnement_interne",
            channel="teams",
            reporter_role="agent",
            contact_consent=True,
            contact_email="agent@exemple.fr",
        ),
    )
    db.dispose()
    return first.reference, second.reference


@pytest.mark.parametrize("path", ["/api/tickets", "/api/tickets/TK-2026-00001"])
@pytest.mark.parametrize(
    "headers",
    [{}, {"Authorization": "Bearer wrong"}, {"Authorization": TOKEN}, {"Authorization": "Basic " + TOKEN}],
)
async def test_requests_without_the_token_get_401(client, path, headers):
    response = await client.get(path, headers=headers)
    assert response.status == 401
    body = await response.json()
    assert body["error"]["status"] == 401
    assert body["error"]["message"]


async def test_list_is_newest_first_and_never_shows_contacts(client, seeded):
    first, second = seeded
    response = await client.get("/api/tickets", headers=AUTH)
    assert response.status == 200
    tickets = await response.json()
    assert [t["reference"] for t in tickets] == [second, first]
    assert "agent@exemple.fr" not in await response.text()
    assert tickets[0]["contact_consent"] is True
    assert set(tickets[0]) >= {
        "reference", "created_at", "status", "channel", "reporter_role", "on_behalf",
        "desk_agent", "theme", "theme_confidence", "theme_confirmed", "title",
        "description", "affected", "frequency", "since", "location", "service",
        "consequences", "solution_idea", "contact_consent", "group_id", "similar_count",
    }


async def test_filters(client, seeded):
    first, second = seeded
    for query, expected in [
        ("theme=transports", [first]),
        ("channel=teams", [second]),
        ("status=nouveau", [second, first]),
        ("status=clos", []),
    ]:
        response = await client.get(f"/api/tickets?{query}", headers=AUTH)
        assert [t["reference"] for t in await response.json()] == expected, query


@pytest.mark.parametrize("query", ["theme=licornes", "status=fini", "channel=fax", "limit=abc", "limit=-1"])
async def test_bad_filters_get_400_in_json(client, query):
    response = await client.get(f"/api/tickets?{query}", headers=AUTH)
    assert response.status == 400
    assert (await response.json())["error"]["message"]


async def test_get_one_and_404(client, seeded):
    first, _ = seeded
    response = await client.get(f"/api/tickets/{first}", headers=AUTH)
    assert response.status == 200
    assert (await response.json())["description"] == "Le TER de Redon est supprimé"
    for missing in ["TK-2026-99999", "nimportequoi"]:
        response = await client.get(f"/api/tickets/{missing}", headers=AUTH)
        assert response.status == 404
        assert (await response.json())["error"]["status"] == 404


async def test_patch_updates_and_validates(client, seeded):
    first, _ = seeded
    response = await client.patch(f"/api/tickets/{first}", json={"status": "en_etude", "notes": "À voir"}, headers=AUTH)
    assert response.status == 200
    body = await response.json()
    assert (body["status"], body["notes"]) == ("en_etude", "À voir")
    response = await client.patch(f"/api/tickets/{first}", json={"status": "fini"}, headers=AUTH)
    assert response.status == 400
    assert "status" in (await response.json())["error"]["fields"]
    response = await client.patch(f"/api/tickets/{first}", data="{pas du json", headers=AUTH)
    assert response.status == 400
    response = await client.patch(f"/api/tickets/{first}", json={"status": "clos"})
    assert response.status == 401


async def test_openapi_lists_the_paths_and_themes(client):
    response = await client.get("/api/openapi.json")
    assert response.status == 200
    spec = await response.json()
    assert spec["openapi"].startswith("3.")
    assert {"/api/tickets", "/api/tickets/{reference}"} <= set(spec["paths"])
    assert "transports" in spec["components"]["schemas"]["Ticket"]["properties"]["theme"]["enum"]


async def test_widget_page_embeds_the_widget_with_safe_headers(client):
    response = await client.get("/")
    assert response.status == 200
    html = await response.text()
    assert 'lang="fr"' in html
    assert 'src="/static/widget.js"' in html
    assert 'data-rasa-url="http://localhost:5005"' in html
    assert "frame-ancestors" in response.headers["Content-Security-Policy"]
    assert response.headers["X-Content-Type-Options"] == "nosniff"
    script = await client.get("/static/widget.js")
    assert script.status == 200


async def test_health(client):
    response = await client.get("/health")
    assert response.status == 200
    assert (await response.json())["database"] == "ok"


def test_the_service_refuses_to_start_without_a_token(sqlite_url):
    with pytest.raises(ValueError):
        init_app(make_settings(sqlite_url, api_token=""))
