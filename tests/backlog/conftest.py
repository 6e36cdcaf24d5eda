"""Fixtures of the backlog tests: one empty database per test, SQLite and PostgreSQL."""

import pytest


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def db_url(request, tmp_path) -> str:
    """URL of an empty database: a SQLite file, then PostgreSQL when DIGOR_TEST_POSTGRES_URL is set."""
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'backlog.db'}"
    return request.getfixturevalue("postgres_url")


@pytest.fixture
def db(db_url):
    """A migrated backlog on `db_url`."""
    from backlog.db import Database, init_schema

    database = Database(db_url)
    init_schema(database.engine)
    yield database
    database.dispose()
