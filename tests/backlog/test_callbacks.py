"""Callback requests, "moi aussi" refused, and the contact validators, on SQLite and PostgreSQL."""

import datetime as dt
import threading

import pytest
from sqlalchemy import func, select, text, update
from sqlalchemy.exc import IntegrityError

from backlog import retention, store
from backlog.models import CallbackRequest

NOW = dt.datetime(2026, 6, 30, 12, 0)


@pytest.mark.parametrize(
    "typed, expected",
    [
        ("0612345678", "06 12 34 56 78"),
        ("06 12 34 56 78", "06 12 34 56 78"),
        ("06.12.34.56.78", "06 12 34 56 78"),
        ("06-12-34-56-78", "06 12 34 56 78"),
        ("02 98 95 12 34", "02 98 95 12 34"),
        ("+33 6 12 34 56 78", "06 12 34 56 78"),
        ("+33612345678", "06 12 34 56 78"),
        ("+33 (0)2 98 95 12 34", "02 98 95 12 34"),
        ("0033 6 12 34 56 78", "06 12 34 56 78"),
        ("0033298951234", "02 98 95 12 34"),
        ("c'est le 07 81 22 33 44, le matin", "07 81 22 33 44"),
        ("  0 6 1 2 3 4 5 6 7 8 ", "06 12 34 56 78"),
        ("+33 06 12 34 56 78", "06 12 34 56 78"),  # the 0 kept after the country code
    ],
)
def test_french_phone_numbers_are_found_and_normalised(typed, expected):
    assert store.normalise_phone(typed) == expected


@pytest.mark.parametrize(
    "typed",
    [
        "",
        None,
        "non merci",
        "061234567",  # nine digits
        "06123456789",  # eleven digits
        "0012345678",  # 00 starts an international number
        "+44 20 7946 0958",  # not French
        "+33 6 12 34 56 7",  # +33 then 8 digits
        "10612345678",  # glued to another digit
        "06 12 34 56 7a",
        "06--12--34--56--78",  # one separator at a time
    ],
)
def test_what_is_not_a_french_number_is_refused(typed):
    assert store.normalise_phone(typed) is None


@pytest.mark.parametrize(
    "typed, expected",
    [
        ("jean.dupont@exemple.fr", "jean.dupont@exemple.fr"),
        ("Jean.Dupont@Exemple.FR", "Jean.Dupont@exemple.fr"),
        ("mon mail : marie-anne+digor@mairie-quimper.bzh.", "marie-anne+digor@mairie-quimper.bzh"),
        ("<y.le_goff@sub.domaine.gouv.fr>", "y.le_goff@sub.domaine.gouv.fr"),
        ("écrivez à contact@plœmeur.bzh svp", "contact@plœmeur.bzh"),
    ],
)
def test_e_mails_are_found_and_normalised(typed, expected):
    assert store.normalise_email(typed) == expected


@pytest.mark.parametrize(
    "typed",
    [
        "",
        None,
        "jean.dupont",
        "jean@",
        "@exemple.fr",
        "jean@exemple",  # no top-level domain
        "jean..dupont@exemple.fr",
        ".jean@exemple.fr",
        "jean@-exemple.fr",
        "jean@exemple.f",
        "jean@exemple.fr2",
        "jean dupont at exemple point fr",
        ("a" * 65) + "@exemple.fr",
    ],
)
def test_what_is_not_an_e_mail_is_refused(typed):
    assert store.normalise_email(typed) is None


def test_a_callback_request_is_saved_once_per_sender(db):
    first = store.save_callback_request(db, "web:abc", "06.12.34.56.78", "web", "tk-2026-00001")
    again = store.save_callback_request(db, "web:abc", "07 00 00 00 00", "web")
    assert again.id == first.id
    with db.session() as session:
        rows = session.execute(select(CallbackRequest)).scalars().all()
    assert [(r.phone, r.channel, r.consent, r.ticket_reference) for r in rows] == [
        ("06 12 34 56 78", "web", True, "TK-2026-00001")
    ]
    other = store.save_callback_request(db, "teams:xyz", "+33 2 98 00 00 00", "teams")
    assert other.id != first.id and other.ticket_reference is None


@pytest.mark.parametrize("phone", ["", "pas de téléphone", "0612", "+44 20 7946 0958"])
def test_an_invalid_number_is_refused(db, phone):
    with pytest.raises(ValueError):
        store.save_callback_request(db, "web:abc", phone, "web")
    with db.session() as session:
        assert session.execute(select(func.count()).select_from(CallbackRequest)).scalar_one() == 0


def test_no_consent_no_callback_request(db):
    with pytest.raises(ValueError):
        store.save_callback_request(db, "web:abc", "0612345678", "web", consent=False)
    with pytest.raises(ValueError):
        store.save_callback_request(db, "", "0612345678", "web")


def test_the_database_refuses_a_request_without_consent(db):
    with pytest.raises(IntegrityError):
        with db.engine.begin() as connection:
            connection.execute(
                text(
                    "INSERT INTO callback_requests (created_at, channel, phone, consent, sender_key) "
                    "VALUES (:at, 'web', '06 12 34 56 78', :consent, 'k')"
                ),
                {"at": NOW, "consent": False},
            )


def test_concurrent_requests_of_one_sender_give_one_row(db):
    ids, errors = [], []

    def save():
        try:
            ids.append(store.save_callback_request(db, "web:same", "0612345678", "web").id)
        except Exception as exc:  # pragma: no cover - reported below
            errors.append(exc)

    threads = [threading.Thread(target=save) for _ in range(6)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert errors == []
    assert len(set(ids)) == 1


def test_the_retention_purge_deletes_old_callback_requests(db):
    old = store.save_callback_request(db, "web:old", "0612345678", "web")
    store.save_callback_request(db, "web:new", "0698765432", "web")
    with db.session() as session:
        session.execute(
            update(CallbackRequest).where(CallbackRequest.id == old.id)
            .values(created_at=NOW - dt.timedelta(days=31))
        )
        session.execute(
            update(CallbackRequest).where(CallbackRequest.id != old.id)
            .values(created_at=NOW - dt.timedelta(days=2))
        )
    assert retention.purge_expired(db, NOW, 30) == 1
    with db.session() as session:
        assert session.execute(select(CallbackRequest.phone)).scalars().all() == ["06 98 76 54 32"]
    lines = [(l.action, l.field, l.new_value) for l in store.audit_trail(db)]
    assert lines == [("purge", "callback_requests", "1")]


def _intake(key, **extra):
    return store.Intake(
        intake_key=key,
        description="Le car de 7 h ne passe plus à Quimper depuis la rentrée, les enfants ratent le lycée.",
        theme="transports",
        **extra,
    )


def test_a_person_who_says_no_to_moi_aussi_joins_no_group(db):
    first = store.save_intake(db, _intake("a"))
    joined = store.save_intake(db, _intake("b"))
    assert joined.group_id == first.id and joined.similar_count == 1
    alone = store.save_intake(db, _intake("c", join_similar=False))
    assert alone.group_id is None and alone.similar_count == 0
    assert store.get_ticket(db, first.reference).similar_count == 1
