"""Grouping of similar reports, on SQLite and on PostgreSQL."""

import threading

import pytest

from backlog import grouping, store
from backlog.web import init_app
from tests.conftest import TOKEN, make_settings

AUTH = {"Authorization": f"Bearer {TOKEN}"}

# Pairs used to choose grouping.SIMILARITY_THRESHOLD (see its docstring).
SAME = [
    ("le car de 7h ne passe jamais depuis la rentrée", "depuis la rentree le car du matin passe pas, mes enfants sont en retard"),
    ("impossible de faire ma demande de RSA sur le site de la CAF", "le site de la caf plante quand je fais ma demande de rsa"),
    ("jai pa pu fer ma demande sur le site", "je n'ai pas pu faire ma demande sur le site internet"),
    ("il faut remplir trois fois le même formulaire pour la bourse", "on doit remplir le formulaire de bourse plusieurs fois"),
    ("personne ne répond au téléphone de la mairie", "la mairie ne répond jamais au telephone"),
    ("double saisie dans le logiciel RH pour les congés", "les congés doivent être saisis deux fois dans le logiciel RH"),
]
DIFFERENT = [
    ("le car de 7h ne passe jamais depuis la rentrée", "le TER de Redon est supprimé le dimanche"),
    ("impossible de faire ma demande de RSA sur le site de la CAF", "personne ne répond au téléphone de la mairie"),
    ("il faut remplir trois fois le même formulaire pour la bourse", "le site de la caf plante quand je fais ma demande de rsa"),
    ("double saisie dans le logiciel RH pour les congés", "le logiciel de paie calcule mal les heures supplémentaires"),
    ("la cantine du lycée est trop chère", "le lycée n'a pas de chauffage en hiver"),
    ("jai pa pu fer ma demande sur le site", "le site de la mairie affiche une erreur pour la carte grise"),
    ("personne ne répond au téléphone de la mairie", "les horaires de la mairie sont trop courts le samedi"),
]
OTHERS = ["la piscine est fermée", "les routes sont pleines de trous", "pas de médecin à moins de 30 km"]


def file(db, key, description, theme="transports"):
    return store.save_intake(db, store.Intake(intake_key=key, description=description, theme=theme)).reference


def state(db, *references):
    tickets = [store.get_ticket(db, reference) for reference in references]
    return [(t.group_id, t.similar_count) for t in tickets]


def test_normalise_removes_case_accents_and_punctuation():
    assert grouping.normalise("  L'École  FERMÉE !! à 7h…") == "l ecole fermee a 7h"


@pytest.mark.parametrize("text, other", SAME)
def test_reports_of_the_same_irritant_are_above_the_threshold(text, other):
    assert grouping.similarities(text, [other, *OTHERS])[0] >= grouping.SIMILARITY_THRESHOLD


@pytest.mark.parametrize("text, other", DIFFERENT)
def test_reports_of_different_irritants_are_below_the_threshold(text, other):
    assert grouping.similarities(text, [other, *OTHERS])[0] < grouping.SIMILARITY_THRESHOLD


def test_similarities_of_nothing():
    assert grouping.similarities("le car", []) == []
    assert grouping.similarities("!!", ["le car"]) == [0.0]
    assert grouping.similarities("a", ["b"]) == [0.0]


def test_similar_reports_of_a_theme_are_grouped_when_filed(db):
    first = file(db, "a", "Le car de 7h ne passe jamais depuis la rentrée")
    other = file(db, "b", "La piscine de Lorient est fermée tout l'été")
    second = file(db, "c", "depuis la rentree le car du matin passe pas")
    elsewhere = file(db, "d", "Le car de 7h ne passe jamais depuis la rentrée", theme="lycees_education")
    third = file(db, "e", "le car de 7 h ne passe pas depuis la rentrée scolaire")
    group = store.get_ticket(db, first).group_id
    assert group is not None
    assert state(db, first, second, third) == [(group, 2)] * 3
    assert state(db, other, elsewhere) == [(None, 0), (None, 0)]


def test_reports_filed_at_the_same_time_are_counted_right(db):
    first = file(db, "first", "Le car de 7h ne passe jamais depuis la rentrée")
    file(db, "second", "le car de 7h ne passe jamais depuis la rentrée scolaire")
    references = []

    def submit(number):
        references.append(file(db, f"k{number}", f"depuis la rentrée le car de 7h ne passe jamais, {number}"))

    threads = [threading.Thread(target=submit, args=(n,)) for n in range(6)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    group = store.get_ticket(db, first).group_id
    assert state(db, first, *references) == [(group, 7)] * 7


def test_closed_tickets_are_not_joined(db):
    first = file(db, "a", "Le car de 7h ne passe jamais depuis la rentrée")
    store.update_ticket(db, first, {"status": "clos"})
    second = file(db, "b", "depuis la rentree le car de 7h ne passe jamais")
    assert state(db, first, second) == [(None, 0), (None, 0)]


def test_find_similar_returns_the_open_tickets_closest_first(db):
    close = file(db, "a", "Le car de 7h ne passe jamais depuis la rentrée")
    file(db, "b", "La piscine de Lorient est fermée tout l'été")
    closer = file(db, "c", "Le car de 7h du matin ne passe jamais depuis la rentrée à Quimperlé")
    closed = file(db, "d", "le car de 7h ne passe jamais depuis la rentrée")
    store.update_ticket(db, closed, {"status": "ecarte"})
    found = store.find_similar(db, "transports", "le car de 7h du matin ne passe jamais à Quimperlé")
    assert [t.reference for t in found] == [closer, close]
    assert store.find_similar(db, "lycees_education", "le car de 7h ne passe jamais") == []
    assert store.find_similar(db, "transports", "") == []
    assert store.find_similar(db, "transports", "le car de 7h", limit=1)[0].reference in {close, closer}


def test_merge_and_split_groups(db):
    a1 = file(db, "a1", "Le car de 7h ne passe jamais depuis la rentrée")
    a2 = file(db, "a2", "depuis la rentree le car de 7h passe pas")
    b1 = file(db, "b1", "Le TER de Redon est supprimé le dimanche")
    b2 = file(db, "b2", "le ter de redon supprime le dimanche soir")
    c = file(db, "c", "La piscine de Lorient est fermée tout l'été")
    group_a, group_b = store.get_ticket(db, a1).group_id, store.get_ticket(db, b1).group_id
    assert None not in (group_a, group_b) and group_a != group_b
    # Merge: b2's whole group joins a1's group.
    ticket = store.update_ticket(db, b2, {"group_with": a1}, actor="alice")
    assert (ticket.group_id, ticket.similar_count) == (group_a, 3)
    assert state(db, a1, a2, b1, b2) == [(group_a, 3)] * 4
    # A lone ticket joins a group by number.
    store.update_ticket(db, c, {"group_id": group_a})
    assert state(db, a1, c) == [(group_a, 4)] * 2
    # Split: c leaves; then b1 leaves.
    ticket = store.update_ticket(db, c, {"group_id": None})
    assert (ticket.group_id, ticket.similar_count) == (None, 0)
    store.update_ticket(db, b1, {"group_id": None})
    assert state(db, a1, a2, b2, b1) == [(group_a, 2)] * 3 + [(None, 0)]
    # Two lone tickets make a new group, named after the one joined.
    store.update_ticket(db, c, {"group_with": b1})
    assert state(db, b1, c) == [(store.get_ticket(db, b1).id, 1)] * 2
    # A group left with one ticket is dissolved.
    store.update_ticket(db, c, {"group_id": None})
    assert state(db, b1, c) == [(None, 0), (None, 0)]
    journal = [(l.actor, l.ticket_reference, l.old_value, l.new_value) for l in store.audit_trail(db) if l.field == "group_id"]
    assert journal[0][0] == "alice"
    assert {(ref, new) for _, ref, _, new in journal[:2]} == {(b1, str(group_a)), (b2, str(group_a))}


def test_the_ticket_that_numbered_a_group_can_leave_and_start_another(db):
    a1 = file(db, "a1", "Le car de 7h ne passe jamais depuis la rentrée")
    a2 = file(db, "a2", "depuis la rentree le car de 7h passe pas")
    a3 = file(db, "a3", "le car de 7 h ne passe pas depuis la rentrée scolaire")
    first_id = store.get_ticket(db, a1).id
    assert state(db, a1, a2, a3) == [(first_id, 2)] * 3
    store.update_ticket(db, a1, {"group_id": None})
    second_id = store.get_ticket(db, a2).id
    assert state(db, a1, a2, a3) == [(None, 0), (second_id, 1), (second_id, 1)]
    # a1 starts a new group numbered by its id: the old group must not be joined.
    c = file(db, "c", "La piscine de Lorient est fermée tout l'été")
    store.update_ticket(db, c, {"group_with": a1})
    assert state(db, a1, c, a2, a3) == [(first_id, 1)] * 2 + [(second_id, 1)] * 2


def test_wrong_group_changes_are_refused(db):
    a = file(db, "a", "Le car de 7h ne passe jamais")
    with pytest.raises(store.InvalidChange) as error:
        store.update_ticket(db, a, {"group_with": a})
    assert error.value.field == "group_with"
    with pytest.raises(store.InvalidChange):
        store.update_ticket(db, a, {"group_with": "TK-2026-99999"})
    with pytest.raises(store.InvalidChange):
        store.update_ticket(db, a, {"group_id": 424242})


@pytest.mark.parametrize(
    "changes, field",
    [
        ({"group_id": 0}, "group_id"),
        ({"group_id": "3"}, "group_id"),
        ({"group_id": True}, "group_id"),
        ({"group_with": "ticket 3"}, "group_with"),
        ({"group_with": 3}, "group_with"),
        ({"group_with": "TK-2026-00001", "group_id": 3}, "group_with"),
    ],
)
def test_group_changes_are_validated(changes, field):
    assert field in store.validate_changes(changes, ["autre"])


async def test_patch_merges_and_explains_refusals(aiohttp_client, db_url, db):
    a = file(db, "a", "Le TER de Redon est supprimé le dimanche")
    b = file(db, "b", "La piscine de Lorient est fermée tout l'été")
    client = await aiohttp_client(init_app(make_settings(db_url)))
    response = await client.patch(f"/api/tickets/{b}", json={"group_with": a}, headers=AUTH)
    assert response.status == 200
    body = await response.json()
    assert (body["group_id"], body["similar_count"]) == (store.get_ticket(db, a).id, 1)
    response = await client.get(f"/api/tickets?group_id={body['group_id']}", headers=AUTH)
    assert {t["reference"] for t in await response.json()} == {a, b}
    response = await client.patch(f"/api/tickets/{b}", json={"group_id": 999999}, headers=AUTH)
    assert response.status == 400
    assert "group_id" in (await response.json())["error"]["fields"]
    response = await client.patch(f"/api/tickets/{b}", json={"group_with": "TK-2026-99999"}, headers=AUTH)
    assert response.status == 400
    assert "group_with" in (await response.json())["error"]["fields"]
    spec = await (await client.get("/api/openapi.json")).json()
    assert {"group_id", "group_with"} <= set(spec["components"]["schemas"]["TicketChanges"]["properties"])
