"""Shared fixtures: throwaway databases and settings."""

from __future__ import annotations

import os
import socket
import uuid
from pathlib import Path

import pytest
from sqlalchemy import create_engine, text

from backlog.db import Database, init_schema
from backlog.settings import PROJECT_ROOT, Settings

POSTGRES_URL = os.environ.get("DIGOR_TEST_POSTGRES_URL")
TOKEN = "test-token-0123456789"


@pytest.fixture
def sqlite_url(tmp_path: Path) -> str:
    return f"sqlite:///{tmp_path / 'backlog.db'}"


@pytest.fixture
def database(sqlite_url: str):
    db = Database(sqlite_url)
    init_schema(db.engine)
    yield db
    db.dispose()


@pytest.fixture
def postgres_url():
    """A fresh PostgreSQL database on the server of DIGOR_TEST_POSTGRES_URL, dropped afterwards."""
    if not POSTGRES_URL:
        pytest.skip("DIGOR_TEST_POSTGRES_URL is not set")
    name = f"digor_test_{uuid.uuid4().hex[:10]}"
    admin = create_engine(POSTGRES_URL, isolation_level="AUTOCOMMIT", future=True)
    with admin.connect() as connection:
        connection.execute(text(f'CREATE DATABASE "{name}"'))
    base, _, _ = POSTGRES_URL.rpartition("/")
    yield f"{base}/{name}"
    with admin.connect() as connection:
        connection.execute(
            text("SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = :name"),
            {"name": name},
        )
        connection.execute(text(f'DROP DATABASE IF EXISTS "{name}"'))
    admin.dispose()


@pytest.fixture
def silent_server() -> int:
    """A port that takes TCP connections and never says a word (a hung database server)."""
    with socket.socket() as listener:
        listener.bind(("127.0.0.1", 0))
        listener.listen(16)
        yield listener.getsockname()[1]


def make_settings(db_url: str, **overrides) -> Settings:
    values = dict(
        db_url=db_url,
        api_token=TOKEN,
        web_host="127.0.0.1",
        web_port=0,
        rasa_public_url="http://localhost:5005",
        org_name="Région test",
        themes_file=PROJECT_ROOT / "themes.yml",
    )
    values.update(overrides)
    return Settings(**values)
