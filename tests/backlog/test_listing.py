"""Paging, date and group filters, sorting and JSON errors of the list, on SQLite and PostgreSQL."""

import datetime as dt

import pytest
from sqlalchemy import select

from backlog import store
from backlog.models import Ticket
from backlog.web import init_app
from tests.conftest import TOKEN, make_settings

AUTH = {"Authorization": f"Bearer {TOKEN}"}


@pytest.fixture
def references(db):
    """Five tickets filed on 1 to 5 March 2026 at noon; the 2nd and 4th in group 7."""
    tickets = [
        store.save_intake(
            db, store.Intake(intake_key=f"k{day}", description=f"Signalement du {day} mars", theme="transports")
        )
        for day in range(1, 6)
    ]
    # Set after all are filed: filing groups similar reports and counts them.
    for day, ticket in enumerate(tickets, start=1):
        with db.session() as session:
            row = session.execute(select(Ticket).where(Ticket.id == ticket.id)).scalar_one()
            row.created_at = dt.datetime(2026, 3, day, 12, 0)
            row.group_id = 7 if day in (2, 4) else None
            row.similar_count = day % 3
    return [ticket.reference for ticket in tickets]


@pytest.fixture
async def client(aiohttp_client, db_url, references):
    return await aiohttp_client(init_app(make_settings(db_url)))


async def fetch(client, query=""):
    response = await client.get(f"/api/tickets?{query}", headers=AUTH)
    assert response.status == 200, await response.text()
    return response, [t["reference"] for t in await response.json()]


def links(response) -> dict[str, str]:
    return {link["rel"]: str(link["url"]) for link in response.links.values()}


async def test_pages_carry_the_total_and_links_while_the_body_stays_a_list(client, references):
    response, page = await fetch(client, "limit=2&theme=transports")
    assert page == references[::-1][:2]
    assert response.headers["X-Total-Count"] == "5"
    assert set(links(response)) == {"first", "next", "last"}
    next_url = links(response)["next"]
    assert "offset=2" in next_url and "limit=2" in next_url and "theme=transports" in next_url
    response, page = await fetch(client, next_url.split("?", 1)[1])
    assert page == references[::-1][2:4]
    assert set(links(response)) == {"first", "prev", "next", "last"}
    response, page = await fetch(client, links(response)["last"].split("?", 1)[1])
    assert page == [references[0]]
    assert set(links(response)) == {"first", "prev", "last"}
    assert "offset=4" in links(response)["last"]


async def test_an_empty_result_has_a_zero_total(client):
    response, page = await fetch(client, "status=clos")
    assert (page, response.headers["X-Total-Count"]) == ([], "0")
    assert "next" not in links(response)


@pytest.mark.parametrize(
    "query, days",
    [
        ("created_after=2026-03-03", [5, 4, 3]),
        ("created_before=2026-03-03", [2, 1]),
        ("created_after=2026-03-02&created_before=2026-03-04", [3, 2]),
        ("created_after=2026-03-02T12:00:00Z", [5, 4, 3, 2]),
        ("created_after=2026-03-02T12:00:01Z", [5, 4, 3]),
        ("created_after=2026-03-02T13:00:00%2B01:00", [5, 4, 3, 2]),
        ("created_after=2026-03-02T13:00:00+01:00", [5, 4, 3, 2]),
        ("group_id=7", [4, 2]),
        ("group_id=7&created_after=2026-03-03", [4]),
    ],
)
async def test_date_and_group_filters(client, references, query, days):
    response, page = await fetch(client, query)
    assert page == [references[day - 1] for day in days]
    assert response.headers["X-Total-Count"] == str(len(days))


@pytest.mark.parametrize(
    "sort, days",
    [
        ("created_at", [1, 2, 3, 4, 5]),
        ("-created_at", [5, 4, 3, 2, 1]),
        ("-similar_count", [5, 2, 4, 1, 3]),
        ("similar_count", [3, 1, 4, 2, 5]),
    ],
)
async def test_sorting(client, references, sort, days):
    _, page = await fetch(client, f"sort={sort}")
    assert page == [references[day - 1] for day in days]


async def test_unscored_tickets_come_last_in_both_directions(client, db, references):
    store.update_ticket(db, references[0], {"score_size": 2})
    store.update_ticket(db, references[1], {"score_size": 5})
    _, page = await fetch(client, "sort=-score_size")
    assert page[:2] == [references[1], references[0]]
    _, page = await fetch(client, "sort=score_size")
    assert page[:2] == [references[0], references[1]]


@pytest.mark.parametrize(
    "query",
    [
        "created_after=hier",
        "created_before=2026-13-01",
        "created_after=2026-03-05&created_before=2026-03-01",
        "group_id=sept",
        "sort=reference",
        "sort=--created_at",
        "sort=description",
    ],
)
async def test_wrong_parameters_get_400_in_json(client, query):
    response = await client.get(f"/api/tickets?{query}", headers=AUTH)
    assert response.status == 400
    assert (await response.json())["error"]["message"]


@pytest.mark.parametrize(
    "method, path, status",
    [("DELETE", "/api/tickets", 405), ("POST", "/api/tickets/TK-2026-00001", 405), ("GET", "/api/nimportequoi", 404)],
)
async def test_other_api_errors_are_json_too(client, method, path, status):
    response = await client.request(method, path, headers=AUTH)
    assert response.status == status
    assert response.content_type == "application/json"
    assert (await response.json())["error"]["status"] == status


async def test_a_too_large_body_gets_413_in_json(client, references):
    response = await client.patch(
        f"/api/tickets/{references[0]}", json={"notes": "x" * 300_000}, headers=AUTH
    )
    assert response.status == 413
    assert (await response.json())["error"]["status"] == 413


async def test_openapi_describes_paging_filters_and_sort(client):
    spec = await (await client.get("/api/openapi.json")).json()
    operation = spec["paths"]["/api/tickets"]["get"]
    assert {"group_id", "created_after", "created_before", "sort"} <= {p["name"] for p in operation["parameters"]}
    assert {"X-Total-Count", "Link"} <= set(operation["responses"]["200"]["headers"])
    assert operation["responses"]["200"]["content"]["application/json"]["schema"]["type"] == "array"
