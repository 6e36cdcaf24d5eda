"""CSV and JSON exports, on SQLite and on PostgreSQL."""

import csv
import io

import pytest

from backlog import export, store
from backlog.web import init_app
from tests.conftest import TOKEN, make_settings

AUTH = {"Authorization": f"Bearer {TOKEN}"}
EMAIL, PHONE = "jeanne.dupont@exemple.fr", "06 98 76 54 32"


@pytest.fixture
def references(db):
    first = store.save_intake(
        db,
        store.Intake(
            intake_key="a", description="=HYPERLINK(\"http://x\";\"clic\") le site plante", theme="demarches_en_ligne",
            location="+33 Brest", service="@mairie", consequences="-10 € de frais", contact_consent=True,
            contact_email=EMAIL, contact_phone=PHONE,
        ),
    )
    second = store.save_intake(
        db, store.Intake(intake_key="b", description="Le car ne passe pas, « vraiment » ; jamais", theme="transports")
    )
    store.update_ticket(db, second.reference, {"notes": "Vu avec la région.", "score_size": 3})
    return first.reference, second.reference


@pytest.fixture
async def client(aiohttp_client, db_url, references):
    return await aiohttp_client(init_app(make_settings(db_url, extra_api_tokens="alice:alice-token")))


def parse_csv(text, delimiter=","):
    assert text.startswith("\ufeff")
    return list(csv.DictReader(io.StringIO(text[1:]), delimiter=delimiter))


@pytest.mark.parametrize(
    "value, cell",
    [
        ("=1+1", "'=1+1"), ("+33 6", "'+33 6"), ("-2", "'-2"), ("@SUM(A1)", "'@SUM(A1)"),
        ("\tx", "'\tx"), ("\rx", "'\rx"), ("a=1", "a=1"), ("Brest", "Brest"),
        (None, ""), (True, "true"), (False, "false"), (3, "3"), (0.5, "0.5"),
    ],
)
def test_cells_that_could_start_a_formula_are_defused(value, cell):
    assert export.safe_cell(value) == cell


def test_csv_columns_are_the_flat_fields_of_a_ticket(db, references):
    fields = store.ticket_to_dict(store.get_ticket(db, references[0]))
    assert list(export.CSV_COLUMNS) == [name for name in fields if not name.endswith("_history")]


async def test_csv_export_is_complete_safe_and_without_contacts(client, references):
    first, second = references
    response = await client.get("/api/export.csv", headers=AUTH)
    assert response.status == 200
    assert response.content_type == "text/csv"
    assert 'attachment; filename="digor-tickets-' in response.headers["Content-Disposition"]
    text = await response.text()
    assert EMAIL not in text and "98 76" not in text and "jeanne" not in text
    rows = parse_csv(text)
    assert [row["reference"] for row in rows] == [second, first]
    assert rows[0]["description"] == "Le car ne passe pas, « vraiment » ; jamais"
    assert (rows[0]["notes"], rows[0]["score_size"], rows[0]["score_cost"]) == ("Vu avec la région.", "3", "")
    assert rows[1]["description"].startswith("'=HYPERLINK")
    assert (rows[1]["location"], rows[1]["service"], rows[1]["consequences"]) == ("'+33 Brest", "'@mairie", "'-10 € de frais")
    assert rows[1]["contact_consent"] == "true"
    for row in rows:
        assert not any(cell.startswith(export.FORMULA_STARTS) for cell in row.values())


async def test_csv_with_semicolons_and_filters(client, references):
    response = await client.get("/api/export.csv?sep=;&theme=transports", headers=AUTH)
    rows = parse_csv(await response.text(), ";")
    assert [row["reference"] for row in rows] == [references[1]]
    response = await client.get("/api/export.csv?sep=|", headers=AUTH)
    assert response.status == 400
    assert (await response.json())["error"]["message"]


async def test_json_export_has_the_histories_and_no_contacts(client, references):
    first, second = references
    response = await client.get("/api/export.json?sort=created_at", headers=AUTH)
    assert response.status == 200
    assert "attachment" in response.headers["Content-Disposition"]
    text = await response.text()
    assert EMAIL not in text and "98 76" not in text
    tickets = await response.json()
    assert [t["reference"] for t in tickets] == [first, second]
    assert [n["text"] for n in tickets[1]["notes_history"]] == ["Vu avec la région."]
    response = await client.get("/api/export.json?theme=transports&created_after=2000-01-01", headers=AUTH)
    assert [t["reference"] for t in await response.json()] == [second]


@pytest.mark.parametrize("path", ["/api/export.csv", "/api/export.json"])
async def test_exports_need_a_token_and_valid_filters(client, path):
    assert (await client.get(path)).status == 401
    assert (await client.get(path, headers={"Authorization": "Bearer faux"})).status == 401
    response = await client.get(f"{path}?status=fini", headers=AUTH)
    assert response.status == 400
    assert (await response.json())["error"]["status"] == 400


async def test_exports_are_journaled_with_filters_and_count(client, db):
    await client.get("/api/export.csv?theme=transports", headers={"Authorization": "Bearer alice-token"})
    await client.get("/api/export.json", headers=AUTH)
    lines = [
        (line.actor, line.action, line.field, line.old_value, line.new_value)
        for line in store.audit_trail(db) if line.action == "export"
    ]
    assert lines == [
        ("alice", "export", "csv", '{"theme": "transports"}', "1"),
        ("équipe", "export", "json", None, "2"),
    ]


async def test_openapi_describes_the_exports(client):
    spec = await (await client.get("/api/openapi.json")).json()
    assert {"/api/export.csv", "/api/export.json"} <= set(spec["paths"])
    names = {p["name"] for p in spec["paths"]["/api/export.csv"]["get"]["parameters"]}
    assert {"theme", "status", "channel", "group_id", "created_after", "created_before", "sep"} <= names
