"""Rasa's SQL tracker store, made loud: it never falls back to memory in silence.

Rasa 3.6 hides tracker store failures in three places:

- `rasa.core.tracker_store._load_from_module_name_in_endpoint_config` turns an
  `ImportError` or `AttributeError` raised while building a custom store into
  a warning and an `InMemoryTrackerStore`;
- `SQLTrackerStore.__init__` retries a database that does not answer forever,
  every 5 s, so the server never comes up and never says why;
- `rasa.core.agent.Agent` wraps every store in a `FailSafeTrackerStore`, which
  logs a failed `save` and keeps the conversation in memory, and answers a
  failed `retrieve` with a new, empty conversation.

`HealthCheckedSQLTrackerStore` (endpoints.yml: `type:
bot.tracker_store.HealthCheckedSQLTrackerStore`) waits at most
`connect_timeout` seconds for its database at start-up, then stops the Rasa
server with a clear error. At run time it logs every failed read or write and
records it in `TrackerStoreHealth` (shown by `/webhooks/health/`).
`unwrap_fail_safe(agent)` removes Rasa's fail-safe wrapper, so a failed read
or write fails the message instead of losing the conversation's memory: the
channels then give the person a French "try again later" answer.

Speed (make bench): Rasa's store runs its SQL inside the server's event loop,
through the ORM, and on SQLite commits with a full fsync: every conversation
waits for every other one's disk write. This store reads and writes the same
table and rows, but with plain SQL statements (no ORM object per event), in a
small pool of threads so that the event loop serves other conversations
while one waits for its database, and with SQLite in WAL mode.
"""

from __future__ import annotations

import asyncio
import itertools
import json
import logging
import os
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any, Dict, List, Optional, Text

import sqlalchemy as sa
import sqlalchemy.orm
from backlog.db import connect_args_for, database_unreachable
from rasa.core.tracker_store import FailSafeTrackerStore, SQLTrackerStore, create_engine_kwargs
from rasa.shared.nlu.constants import INTENT_NAME_KEY
from rasa.shared.core.events import SessionStarted
from rasa.shared.core.trackers import DialogueStateTracker

logger = logging.getLogger(__name__)

DEFAULT_CONNECT_TIMEOUT = 60.0
# Threads that run the store's SQL; each holds at most one pooled connection.
SQL_THREADS = 4


def _sqlite_pragmas(dbapi_connection: Any, _record: Any) -> None:
    """WAL: a commit appends to a log instead of rewriting the file with a full
    fsync each time (about 3 ms → 0.2 ms here); readers never block the writer."""
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA synchronous=NORMAL")
    cursor.execute("PRAGMA busy_timeout=30000")
    cursor.close()


def _reopen_when_the_file_changes(engine: sa.engine.Engine, path: str) -> None:
    """An open SQLite connection goes on using its file even once the file is
    moved, deleted or replaced: a kept connection is given out only while the
    path still names the file it opened; otherwise the pool opens the path
    again, which fails when the database is gone, as a new connection would."""

    def file_id() -> Any:
        stat = os.stat(path)
        return stat.st_dev, stat.st_ino

    def remember(_dbapi_connection: Any, record: Any) -> None:
        try:
            record.info["sqlite_file"] = file_id()
        except OSError:
            record.info["sqlite_file"] = None

    def check(_dbapi_connection: Any, record: Any, _proxy: Any) -> None:
        try:
            same = file_id() == record.info.get("sqlite_file")
        except OSError:
            same = False
        if not same:
            raise sa.exc.DisconnectionError(f"the SQLite file {path} changed")

    sa.event.listen(engine, "connect", remember)
    sa.event.listen(engine, "checkout", check)


class TrackerStoreUnavailable(RuntimeError):
    """The tracker store's database cannot be used.

    Deliberately neither an ImportError nor an AttributeError: Rasa would turn
    those into a silent in-memory store.
    """


@dataclass
class TrackerStoreHealth:
    """What the last operations of the tracker store did (thread-safe)."""

    ok: bool = True
    last_error: Optional[str] = None
    last_error_at: Optional[float] = None
    last_success_at: Optional[float] = None
    failures: int = 0
    # Whether the health probe (a read of the events table) is enough to turn
    # the store green again: yes after a failed read, or after any failure
    # that came from the database being out of reach; no after a write the
    # database refused (a full disk is invisible to a read): then only a real
    # read or write of a conversation does.
    read_clears: bool = True
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False)

    def success(self) -> None:
        with self._lock:
            self.ok = True
            self.last_success_at = time.time()

    def failure(self, error: BaseException, operation: str = "retrieve") -> None:
        with self._lock:
            self.ok = False
            self.failures += 1
            self.last_error = f"{type(error).__name__}: {error}"[:500]
            self.last_error_at = time.time()
            self.read_clears = operation != "save" or database_unreachable(error)

    def read_worked(self) -> None:
        """A read of the events table worked (the health probe): green again
        unless the last failure was a write the database refused."""
        with self._lock:
            if self.ok or self.read_clears:
                self.ok = True
                self.last_success_at = time.time()

    def as_dict(self) -> Dict[str, Any]:
        with self._lock:
            return {
                "ok": self.ok,
                "failures": self.failures,
                "last_error": self.last_error,
                "last_error_at": self.last_error_at,
                "last_success_at": self.last_success_at,
            }


def _redacted(url: Any) -> str:
    try:
        return repr(sa.engine.make_url(str(url)))  # repr hides the password
    except Exception:  # noqa: BLE001 - only for a log line
        return "<invalid URL>"


def wait_for_database(url: Any, timeout: float, interval: float = 1.0) -> None:
    """Return once `SELECT 1` works on `url`; raise TrackerStoreUnavailable after `timeout` s."""
    try:
        engine = sa.create_engine(url, connect_args=connect_args_for(url))
    except Exception as error:  # noqa: BLE001 - bad URL, missing driver: all fatal here
        raise TrackerStoreUnavailable(
            f"tracker store: invalid database URL {_redacted(url)}: {type(error).__name__}: {error}"
        ) from None
    deadline = time.monotonic() + timeout
    try:
        while True:
            try:
                with engine.connect() as connection:
                    connection.exec_driver_sql("SELECT 1")
                return
            except Exception as error:  # noqa: BLE001 - retried until the deadline
                if time.monotonic() >= deadline:
                    raise TrackerStoreUnavailable(
                        f"tracker store: database {_redacted(url)} unreachable after "
                        f"{timeout:.0f} s: {type(error).__name__}: {error}"
                    ) from None
                logger.warning("tracker store: database not ready yet (%s), retrying", error)
                time.sleep(interval)
    finally:
        engine.dispose()


class HealthCheckedSQLTrackerStore(SQLTrackerStore):
    """SQLTrackerStore that refuses to start without its database and reports failures."""

    def __init__(
        self,
        domain=None,
        dialect: Text = "sqlite",
        host: Optional[Text] = None,
        port: Optional[int] = None,
        db: Text = "rasa.db",
        username: Optional[Text] = None,
        password: Optional[Text] = None,
        event_broker=None,
        login_db: Optional[Text] = None,
        query: Optional[Dict] = None,
        connect_timeout: Any = DEFAULT_CONNECT_TIMEOUT,
        **kwargs: Any,
    ) -> None:
        self.health = TrackerStoreHealth()
        try:
            timeout = float(
                os.environ.get("DIGOR_TRACKER_CONNECT_TIMEOUT")
                or connect_timeout
                or DEFAULT_CONNECT_TIMEOUT
            )
            url = self.get_db_url(
                dialect, host, port, db, username, password, login_db, query
            )
            if not login_db:
                wait_for_database(url, timeout)
            super().__init__(
                domain=domain,
                dialect=dialect,
                host=host,
                port=port,
                db=db,
                username=username,
                password=password,
                event_broker=event_broker,
                login_db=login_db,
                query=query,
                **kwargs,
            )
            # A database restart leaves dead connections in the pool: the
            # engine tests each one before use instead of failing a message.
            engine_url = self.engine.url
            self.engine.dispose()
            engine_kwargs = create_engine_kwargs(engine_url)
            connect_args = {**connect_args_for(engine_url), **engine_kwargs.get("connect_args", {})}
            sqlite = engine_url.get_backend_name() == "sqlite"
            sqlite_file = engine_url.database if sqlite and engine_url.database not in (None, "", ":memory:") else None
            if sqlite:
                # The store's threads share the engine (each its own connection).
                connect_args["check_same_thread"] = False
            if sqlite_file:
                # SQLAlchemy 1.4 opens a new connection for each use of a
                # SQLite file (NullPool), and each runs the pragmas below:
                # about a fifth of the store threads' samples under load
                # (make bench). One kept connection per thread instead.
                engine_kwargs["poolclass"] = sa.pool.QueuePool
                engine_kwargs["pool_size"] = SQL_THREADS
            if connect_args:
                engine_kwargs["connect_args"] = connect_args
            # A network database may drop an idle connection: ping it before
            # use. A local SQLite file cannot; the file-identity check below
            # covers what can happen to it (moved, deleted, replaced).
            self.engine = sa.create_engine(engine_url, pool_pre_ping=sqlite_file is None, **engine_kwargs)
            if sqlite:
                sa.event.listen(self.engine, "connect", _sqlite_pragmas)
            if sqlite_file:
                _reopen_when_the_file_changes(self.engine, sqlite_file)
            self.sessionmaker = sa.orm.sessionmaker(bind=self.engine)
            self._executor = ThreadPoolExecutor(SQL_THREADS, thread_name_prefix="tracker-sql")
        except TrackerStoreUnavailable as error:
            logger.error("%s", error)
            raise
        except Exception as error:  # noqa: BLE001 - see TrackerStoreUnavailable
            logger.error("tracker store: cannot start: %s: %s", type(error).__name__, error)
            raise TrackerStoreUnavailable(
                f"tracker store: cannot start: {type(error).__name__}: {error}"
            ) from None
        self.health.success()
        logger.info("tracker store: SQL database %s ready", _redacted(self.engine.url))

    async def _checked(self, operation: str, sender_id: Text, call):
        try:
            result = await call
        except Exception as error:
            self.health.failure(error, operation)
            logger.error(
                "tracker store: %s of conversation %s failed: %s: %s",
                operation, sender_id, type(error).__name__, error,
            )
            raise
        self.health.success()
        return result

    async def _in_thread(self, function, *args):
        loop = asyncio.get_running_loop()
        return await loop.run_in_executor(self._executor, function, *args)

    async def retrieve(self, sender_id: Text) -> Optional[DialogueStateTracker]:
        return await self._checked(
            "retrieve", sender_id, self._in_thread(self._retrieve_sync, sender_id, False)
        )

    async def retrieve_full_tracker(self, conversation_id: Text) -> Optional[DialogueStateTracker]:
        return await self._checked(
            "retrieve", conversation_id, self._in_thread(self._retrieve_sync, conversation_id, True)
        )

    async def save(self, tracker: DialogueStateTracker) -> None:
        await self.stream_events(tracker)
        await self._checked("save", tracker.sender_id, self._in_thread(self._save_sync, tracker))

    # -- the SQL, run in the store's threads ------------------------------------

    def _events_filter(self, sender_id: Text, all_sessions: bool) -> List[Any]:
        """Rasa's own selection (SQLTrackerStore._event_query): the events of the
        conversation since its latest session start, unless `all_sessions`."""
        table = self.SQLEvent.__table__
        conditions = [table.c.sender_id == sender_id]
        if not all_sessions:
            session_start = (
                sa.select(sa.func.max(table.c.timestamp))
                .where(table.c.sender_id == sender_id, table.c.type_name == SessionStarted.type_name)
                .scalar_subquery()
            )
            conditions.append(sa.or_(table.c.timestamp >= session_start, session_start.is_(None)))
        return conditions

    def _retrieve_sync(self, sender_id: Text, all_sessions: bool) -> Optional[DialogueStateTracker]:
        table = self.SQLEvent.__table__
        query = sa.select(table.c.data).where(*self._events_filter(sender_id, all_sessions)).order_by(table.c.id)
        with self.engine.connect() as connection:
            events = [json.loads(data) for data in connection.execute(query).scalars()]
        if not (self.domain and events):
            return None
        return DialogueStateTracker.from_dict(sender_id, events, self.domain.slots)

    def _save_sync(self, tracker: DialogueStateTracker) -> None:
        table = self.SQLEvent.__table__
        with self.engine.begin() as connection:
            stored = connection.execute(
                sa.select(sa.func.count()).select_from(table)
                .where(*self._events_filter(tracker.sender_id, False))
            ).scalar_one()
            rows = []
            for event in itertools.islice(tracker.events, stored, None):
                data = event.as_dict()
                rows.append({
                    "sender_id": tracker.sender_id,
                    "type_name": event.type_name,
                    "timestamp": data.get("timestamp"),
                    "intent_name": data.get("parse_data", {}).get("intent", {}).get(INTENT_NAME_KEY),
                    "action_name": data.get("name"),
                    "data": json.dumps(data),
                })
            if rows:
                connection.execute(table.insert(), rows)

    def ping(self) -> None:
        """Read the events table (one row at most); raises (and records it) when it fails.

        It sees what `SELECT 1` cannot (a missing table, no right to read it).
        When it works after a failed read, or after the database was out of
        reach, the store is green again with no conversation needed: after a
        database restart nobody may write before a load balancer trusts this
        replica again. After a write the database refused (a full disk) it
        stays red until a conversation's read or write works.
        """
        table = self.SQLEvent.__table__
        try:
            with self.engine.connect() as connection:
                connection.execute(sa.select(sa.literal(1)).select_from(table).limit(1)).all()
        except Exception as error:
            self.health.failure(error, "probe")
            raise
        self.health.read_worked()

    async def aping(self, timeout: float = 5.0) -> None:
        loop = asyncio.get_running_loop()
        await asyncio.wait_for(loop.run_in_executor(None, self.ping), timeout)


def unwrap_fail_safe(agent: Any) -> Optional[HealthCheckedSQLTrackerStore]:
    """Take Rasa's FailSafeTrackerStore away from `agent` when it wraps our store.

    Afterwards a database failure fails the message (the channel answers that
    the service is unavailable) instead of swapping the conversation for an
    empty one in memory. Returns our store, or None when the agent uses
    another one. Safe to call again.
    """
    if agent is None:
        return None
    store = getattr(agent, "tracker_store", None)
    if isinstance(store, FailSafeTrackerStore):
        inner = store._tracker_store
        if not isinstance(inner, HealthCheckedSQLTrackerStore):
            return None
        agent.tracker_store = inner
        store = inner
    if not isinstance(store, HealthCheckedSQLTrackerStore):
        return None
    processor = getattr(agent, "processor", None)
    if processor is not None and processor.tracker_store is not store:
        processor.tracker_store = store
    return store
