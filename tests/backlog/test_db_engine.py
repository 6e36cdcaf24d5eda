"""The backlog's engine: a PostgreSQL server that does not answer fails a
connection within seconds instead of holding the request."""

from __future__ import annotations

import time
from concurrent.futures import ThreadPoolExecutor
from concurrent.futures import TimeoutError as FutureTimeout

import pytest
from sqlalchemy.exc import OperationalError

from backlog.db import PG_CONNECT_TIMEOUT_SECONDS, Database


def time_to_fail(url: str) -> float:
    """Seconds until connecting to `url` fails; the test fails (instead of
    hanging) when it is still waiting long after the timeout."""
    database = Database(url)

    def connect() -> float:
        started = time.monotonic()
        with pytest.raises(OperationalError, match="timeout expired"):
            with database.engine.connect():
                pass
        return time.monotonic() - started

    pool = ThreadPoolExecutor(1)
    try:
        return pool.submit(connect).result(timeout=PG_CONNECT_TIMEOUT_SECONDS + 10)
    except FutureTimeout:
        pytest.fail("still connecting long after the connect timeout")
    finally:
        pool.shutdown(wait=False)
        database.dispose()


def test_a_silent_postgresql_server_fails_the_connection_after_the_timeout(silent_server):
    waited = time_to_fail(f"postgresql://digor@127.0.0.1:{silent_server}/digor")
    assert PG_CONNECT_TIMEOUT_SECONDS - 1 <= waited < PG_CONNECT_TIMEOUT_SECONDS + 3


def test_the_url_may_set_its_own_connect_timeout(silent_server):
    waited = time_to_fail(f"postgresql://digor@127.0.0.1:{silent_server}/digor?connect_timeout=2")
    assert waited < PG_CONNECT_TIMEOUT_SECONDS - 1


def test_sqlite_engines_get_no_postgresql_argument(tmp_path):
    database = Database(f"sqlite:///{tmp_path / 'backlog.db'}")
    try:
        with database.engine.connect() as connection:
            assert connection.exec_driver_sql("SELECT 1").scalar_one() == 1
    finally:
        database.dispose()
