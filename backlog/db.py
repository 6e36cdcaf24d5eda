"""Engine and session factory. Nothing is built at import time."""

from __future__ import annotations

import fcntl
from contextlib import contextmanager
from pathlib import Path
from typing import Iterator

from alembic import command
from alembic.config import Config
from sqlalchemy import create_engine, event, inspect, text
from sqlalchemy.engine import Connection, Engine, make_url
from sqlalchemy.exc import DBAPIError
from sqlalchemy.orm import Session, sessionmaker

MIGRATIONS_DIR = Path(__file__).resolve().parent / "migrations"
# The revision that matches the schema `Base.metadata.create_all` made before
# the backlog had migrations.
FIRST_REVISION = "0001"
# Key of the PostgreSQL advisory lock taken while migrating ("Digor" in ASCII).
MIGRATION_LOCK_KEY = 0x4469676F72
# libpq waits for ever for a server that accepts the connection but does not
# answer, and minutes for a host that drops packets: a connection to the
# backlog or to the tracker store gives up after this many seconds instead, so
# the person hears "Rien n'est perdu" within seconds. A `?connect_timeout=` in
# the URL wins (psycopg2, the default PostgreSQL driver, only).
PG_CONNECT_TIMEOUT_SECONDS = 5


def connect_args_for(url) -> dict:
    """The DBAPI connect arguments that bound the time to connect to `url`
    (a URL string or a SQLAlchemy URL)."""
    parsed = make_url(url)
    if parsed.get_driver_name() != "psycopg2" or "connect_timeout" in parsed.query:
        return {}
    return {"connect_timeout": PG_CONNECT_TIMEOUT_SECONDS}


def database_unreachable(error: BaseException) -> bool:
    """True when `error` says the database could not be reached or cut the
    connection (server stopped or restarting, network), rather than refused
    the statement itself (missing table, full disk, permissions).

    SQLAlchemy raises a failed connect without a statement, and marks a
    connection lost in the middle of a statement as invalidated.
    """
    if not isinstance(error, DBAPIError):
        return False
    return bool(error.connection_invalidated) or error.statement is None


def make_engine(url: str) -> Engine:
    """Create an engine for `url`; SQLite gets WAL and a busy timeout, a server
    database a connect timeout and a liveness check of pooled connections.

    Two processes write the backlog (the action server files tickets, the
    backlog service updates them), so SQLite must wait for a lock instead of
    failing at once.
    """
    if url.startswith("sqlite"):
        engine = create_engine(
            url, connect_args={"check_same_thread": False, "timeout": 30}, future=True
        )

        @event.listens_for(engine, "connect")
        def _sqlite_pragmas(dbapi_connection, _record):  # pragma: no cover - trivial
            cursor = dbapi_connection.cursor()
            cursor.execute("PRAGMA journal_mode=WAL")
            cursor.execute("PRAGMA foreign_keys=ON")
            cursor.close()

        return engine
    # pool_pre_ping: a database restart leaves dead connections in the pool;
    # each one is tested when taken and replaced instead of failing a request.
    return create_engine(url, pool_pre_ping=True, future=True, connect_args=connect_args_for(url))


def alembic_config(connection: Connection | None = None) -> Config:
    """The Alembic configuration of the backlog, bound to `connection`."""
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS_DIR))
    config.attributes["connection"] = connection
    return config


def init_schema(engine: Engine) -> None:
    """Upgrade the schema to the newest migration.

    Safe when several processes start at once (the action server and the
    backlog service both call it): on PostgreSQL the whole upgrade runs in one
    transaction under an advisory lock, on SQLite under a lock file beside the
    database. The second process waits, then finds the schema up to date.
    """
    with _sqlite_file_lock(engine):
        with engine.begin() as connection:
            if connection.dialect.name == "postgresql":
                connection.execute(
                    text("SELECT pg_advisory_xact_lock(:key)"), {"key": MIGRATION_LOCK_KEY}
                )
            config = alembic_config(connection)
            tables = set(inspect(connection).get_table_names())
            if "tickets" in tables and "alembic_version" not in tables:
                # Made by create_all before migrations existed: same schema as the first one.
                command.stamp(config, FIRST_REVISION)
            command.upgrade(config, "head")


@contextmanager
def _sqlite_file_lock(engine: Engine) -> Iterator[None]:
    """Hold an exclusive lock on `<database>.lock` (SQLite files only)."""
    path = engine.url.database if engine.dialect.name == "sqlite" else None
    if not path or path == ":memory:" or path.startswith("file:"):
        yield
        return
    with open(f"{path}.lock", "a") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


class Database:
    """One engine and its session factory, created on demand."""

    def __init__(self, url: str) -> None:
        self.url = url
        self.engine = make_engine(url)
        self._sessions = sessionmaker(self.engine, expire_on_commit=False, future=True)

    @contextmanager
    def session(self) -> Iterator[Session]:
        """A session that commits on success and rolls back on error."""
        session = self._sessions()
        try:
            yield session
            session.commit()
        except BaseException:
            session.rollback()
            raise
        finally:
            session.close()

    def dispose(self) -> None:
        self.engine.dispose()
