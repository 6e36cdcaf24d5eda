"""The store on SQLite, and on PostgreSQL when DIGOR_TEST_POSTGRES_URL is set."""

import threading

import pytest

from backlog import store
from backlog.db import Database, init_schema
from backlog.models import Contact
from sqlalchemy import func, select


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def db(request, tmp_path):
    if request.param == "sqlite":
        url = f"sqlite:///{tmp_path / 'store.db'}"
    else:
        url = request.getfixturevalue("postgres_url")
    database = Database(url)
    init_schema(database.engine)
    yield database
    database.dispose()


def make_intake(key="conv-1:abc", **overrides):
    values = dict(
        intake_key=key,
        description="Le car de 7 h ne passe plus à Quimper. Mes enfants ratent le lycée.",
        theme="transports",
        theme_confidence=0.91,
        theme_confirmed=True,
        channel="web",
        location="Quimper",
        frequency="tous les matins",
    )
    values.update(overrides)
    return store.Intake(**values)


def test_save_gives_a_reference_and_keeps_the_fields(db):
    ticket = store.save_intake(db, make_intake())
    assert ticket.reference == f"TK-{ticket.created_at.year}-{ticket.id:05d}"
    loaded = store.get_ticket(db, ticket.reference)
    assert loaded.theme == "transports"
    assert loaded.location == "Quimper"
    assert loaded.frequency == "tous les matins"
    assert loaded.status == "nouveau"
    assert loaded.title == "Le car de 7 h ne passe plus à Quimper"
    assert loaded.theme_confirmed is True


def test_same_intake_twice_gives_one_ticket(db):
    first = store.save_intake(db, make_intake())
    second = store.save_intake(db, make_intake())
    assert first.reference == second.reference
    assert len(store.list_tickets(db)) == 1


def test_concurrent_confirmations_give_one_ticket(db):
    references = []

    def submit():
        references.append(store.save_intake(db, make_intake(key="conv-race:1")).reference)

    threads = [threading.Thread(target=submit) for _ in range(6)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert len(set(references)) == 1
    assert len(store.list_tickets(db)) == 1


def test_free_text_is_redacted_and_cleaned(db):
    ticket = store.save_intake(
        db,
        make_intake(
            description="<b>Personne</b> ne répond au 06 12 34 56 78, écrivez-moi à a.b@exemple.fr",
            location="<script>alert(1)</script>Brest",
        ),
    )
    assert ticket.description == "Personne ne répond au [téléphone], écrivez-moi à [e-mail]"
    assert ticket.location == "Brest"


def test_contact_is_kept_apart_and_only_with_consent(db):
    store.save_intake(db, make_intake(key="k1", contact_email="x@exemple.fr", contact_consent=False))
    consented = store.save_intake(
        db, make_intake(key="k2", contact_email="y@exemple.fr", contact_consent=True)
    )
    with db.session() as session:
        contacts = session.execute(select(Contact)).scalars().all()
    assert [(c.ticket_id, c.email) for c in contacts] == [(consented.id, "y@exemple.fr")]
    assert "y@exemple.fr" not in str(store.ticket_to_dict(consented))


def test_list_is_newest_first_with_filters(db):
    store.save_intake(db, make_intake(key="a"))
    store.save_intake(db, make_intake(key="b", theme="numerique_inclusion", channel="teams"))
    tickets = store.list_tickets(db)
    assert [t.intake_key for t in tickets] == ["b", "a"]
    assert [t.intake_key for t in store.list_tickets(db, theme="transports")] == ["a"]
    assert [t.intake_key for t in store.list_tickets(db, channel="teams")] == ["b"]
    assert store.list_tickets(db, status="clos") == []


def test_update_changes_status_theme_and_notes(db):
    ticket = store.save_intake(db, make_intake())
    updated = store.update_ticket(
        db, ticket.reference, {"status": "en_etude", "theme": "lycees_education", "notes": "Voir la ligne 12."}
    )
    assert (updated.status, updated.theme, updated.notes) == ("en_etude", "lycees_education", "Voir la ligne 12.")
    with pytest.raises(store.UnknownTicket):
        store.update_ticket(db, "TK-2026-99999", {"status": "clos"})


def test_an_empty_description_is_refused(db):
    with pytest.raises(ValueError):
        store.save_intake(db, make_intake(description="<br>  "))
    with db.session() as session:
        assert session.execute(select(func.count()).select_from(store.Ticket)).scalar_one() == 0


@pytest.mark.parametrize(
    "changes, field",
    [
        ({}, "body"),
        ([], "body"),
        ({"status": "fini"}, "status"),
        ({"theme": "licornes"}, "theme"),
        ({"reference": "TK-1"}, "reference"),
        ({"notes": 12}, "notes"),
    ],
)
def test_invalid_changes_are_named(changes, field):
    assert field in store.validate_changes(changes, ["transports", "autre"])


def test_title_is_the_first_sentence_cut_at_a_word():
    assert store.make_title("Car en retard. Encore.") == "Car en retard"
    long = "mot " * 40
    title = store.make_title(long)
    assert len(title) <= store.TITLE_LENGTH + 1 and title.endswith("…")


def test_title_starts_with_a_capital():
    assert store.make_title("le car est en retard") == "Le car est en retard"
