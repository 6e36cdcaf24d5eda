"""Schema migrations (Alembic), on SQLite and on PostgreSQL."""

import subprocess
import sys

from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import inspect, text

from backlog import store
from backlog.db import FIRST_REVISION, Database, alembic_config, init_schema
from backlog.models import Base
from backlog.settings import PROJECT_ROOT

HEAD = ScriptDirectory.from_config(alembic_config()).get_current_head()


def current_revision(db: Database) -> str | None:
    with db.engine.connect() as connection:
        return MigrationContext.configure(connection).get_current_revision()


def upgrade_to(db: Database, revision: str) -> None:
    with db.engine.begin() as connection:
        command.upgrade(alembic_config(connection), revision)


def insert_old_ticket(db: Database, **values) -> None:
    """A ticket as the first schema stored it, written in raw SQL."""
    row = dict(
        reference="TK-2025-00001", intake_key="old-1", created_at="2025-03-01 10:00:00",
        updated_at="2025-03-02 09:00:00", status="en_etude", channel="phone",
        reporter_role="agent", on_behalf=True, desk_agent="Accueil", theme="transports",
        theme_confidence=0.8, theme_confirmed=True, title="Le car ne passe pas",
        description="Le car ne passe pas le mercredi", contact_consent=True,
        similar_count=0, notes="Rappeler la mairie.",
    )
    row.update(values)
    columns = ", ".join(row)
    params = ", ".join(f":{name}" for name in row)
    with db.engine.begin() as connection:
        connection.execute(text(f"INSERT INTO tickets ({columns}) VALUES ({params})"), row)
        ticket_id = connection.execute(text("SELECT id FROM tickets")).scalar_one()
        connection.execute(
            text("INSERT INTO contacts (ticket_id, email, created_at) VALUES (:id, 'a@b.fr', '2025-03-01 10:00:00')"),
            {"id": ticket_id},
        )


def test_upgrade_from_empty_reaches_head_and_matches_the_models(db_url):
    db = Database(db_url)
    init_schema(db.engine)
    assert current_revision(db) == HEAD
    with db.engine.connect() as connection:
        differences = compare_metadata(MigrationContext.configure(connection), Base.metadata)
    assert differences == []
    init_schema(db.engine)  # a second start changes nothing
    assert current_revision(db) == HEAD
    db.dispose()


def test_a_database_at_the_first_revision_upgrades_and_keeps_its_data(db_url):
    db = Database(db_url)
    upgrade_to(db, FIRST_REVISION)
    insert_old_ticket(db)
    init_schema(db.engine)
    assert current_revision(db) == HEAD
    ticket = store.get_ticket(db, "TK-2025-00001")
    assert (ticket.status, ticket.channel, ticket.desk_agent) == ("en_etude", "phone", "Accueil")
    assert ticket.description == "Le car ne passe pas le mercredi"
    body = store.ticket_to_dict(ticket)
    assert body["notes"] == "Rappeler la mairie."
    # Revision 0003: the note becomes the first of the history, the status gets one.
    assert [(n["author"], n["text"]) for n in body["notes_history"]] == [("équipe", "Rappeler la mairie.")]
    assert [(h["old_status"], h["new_status"]) for h in body["status_history"]] == [
        (None, "nouveau"),
        ("nouveau", "en_etude"),
    ]
    with db.engine.connect() as connection:
        assert connection.execute(text("SELECT email FROM contacts")).scalar_one() == "a@b.fr"
    db.dispose()


def test_a_database_made_before_migrations_is_adopted(db_url):
    """Before Alembic, the service called create_all: no version table, same tables as revision 0001."""
    db = Database(db_url)
    upgrade_to(db, FIRST_REVISION)
    with db.engine.begin() as connection:
        connection.execute(text("DROP TABLE alembic_version"))
    insert_old_ticket(db)
    init_schema(db.engine)
    assert current_revision(db) == HEAD
    assert store.get_ticket(db, "TK-2025-00001").title == "Le car ne passe pas"
    db.dispose()


def test_processes_starting_together_on_a_fresh_database_all_succeed(db_url):
    # Each process imports everything, says "ready", then waits for "go": the
    # four upgrades start at the same moment, as when the services start together.
    code = (
        "import sys\n"
        "from backlog.db import Database, init_schema\n"
        "db = Database(sys.argv[1])\n"
        "print('ready', flush=True)\n"
        "sys.stdin.readline()\n"
        "init_schema(db.engine)\n"
    )
    processes = [
        subprocess.Popen(
            [sys.executable, "-c", code, db_url], cwd=PROJECT_ROOT, text=True,
            stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
        )
        for _ in range(4)
    ]
    assert [process.stdout.readline().strip() for process in processes] == ["ready"] * 4
    for process in processes:
        process.stdin.write("go\n")
        process.stdin.flush()
    errors = [process.communicate(timeout=120)[1] for process in processes]
    assert [process.returncode for process in processes] == [0, 0, 0, 0], errors
    db = Database(db_url)
    assert current_revision(db) == HEAD
    assert "tickets" in inspect(db.engine).get_table_names()
    db.dispose()
