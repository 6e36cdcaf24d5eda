"""The lock store: one message of a conversation at a time, across replicas.

Rasa processes the messages of one conversation one after the other with a
ticket lock: each message takes a ticket, waits until its number is served,
then reads the tracker, handles the message and saves the tracker. Rasa 3.6's
`RedisLockStore` keeps each lock as one JSON value and changes it by reading
it, changing it in Python and writing it back. Two replicas that take a ticket
for the same conversation at the same moment both read "no ticket", both
write ticket 1 and both think they are served: they then handle their
messages at the same time, and the second save drops the first message from
the conversation (the store only appends the events past those it already
has). Seen in tests/production/test_replicas.py on a loaded machine.

`AtomicRedisLockStore` keeps Rasa's lock format and waiting loop, but makes
every read-change-write of a lock one critical section under a short Redis
mutex (redis-py's `Lock`: `SET NX PX` to take it, a Lua script to release
it only by its owner), so tickets are unique and always saved.

`DigorLockStore` is what endpoints.yml names: it builds the store chosen by
`DIGOR_LOCK_STORE` (`in_memory` for one server, `redis` for several), with
the Redis address of the endpoint configuration.
"""

from __future__ import annotations

import logging
import os
from typing import Any, Optional, Text

from rasa.core.lock import TicketLock
from rasa.core.lock_store import LOCK_LIFETIME, InMemoryLockStore, LockError, LockStore, RedisLockStore

logger = logging.getLogger(__name__)

# How long a mutex may be held (it only covers a few Redis round trips) and
# how long to wait for it before the message fails with a LockError.
MUTEX_SECONDS = 10.0
MUTEX_WAIT_SECONDS = 10.0


class AtomicRedisLockStore(RedisLockStore):
    """Rasa's Redis lock store, with each change of a lock made atomic."""

    def _mutex(self, conversation_id: Text):
        return self.red.lock(
            f"{self.key_prefix}{conversation_id}:mutex",
            timeout=MUTEX_SECONDS,
            blocking_timeout=MUTEX_WAIT_SECONDS,
        )

    def _critical(self, conversation_id: Text, change):
        mutex = self._mutex(conversation_id)
        if not mutex.acquire():
            raise LockError(f"Could not change the lock of conversation '{conversation_id}' in time.")
        try:
            return change()
        finally:
            try:
                mutex.release()
            except Exception as error:  # noqa: BLE001 - expired: the next change simply takes it
                logger.warning("lock store: mutex of %s released late: %s", conversation_id, error)

    def issue_ticket(self, conversation_id: Text, lock_lifetime: float = LOCK_LIFETIME) -> int:
        try:
            return self._critical(
                conversation_id, lambda: LockStore.issue_ticket(self, conversation_id, lock_lifetime)
            )
        except LockError:
            raise
        except Exception as error:
            raise LockError(f"Error while acquiring lock. Error:\n{error}")

    def update_lock(self, conversation_id: Text) -> None:
        self._critical(conversation_id, lambda: LockStore.update_lock(self, conversation_id))

    def finish_serving(self, conversation_id: Text, ticket_number: int) -> None:
        self._critical(
            conversation_id, lambda: LockStore.finish_serving(self, conversation_id, ticket_number)
        )

    def cleanup(self, conversation_id: Text, ticket_number: int) -> None:
        """Remove this ticket, and the lock when nobody else waits, in one step."""

        def change() -> None:
            lock: Optional[TicketLock] = self.get_lock(conversation_id)
            if lock is None:
                return
            lock.remove_ticket_for(ticket_number)
            if lock.is_someone_waiting():
                self.save_lock(lock)
            else:
                self.delete_lock(conversation_id)

        self._critical(conversation_id, change)


class DigorLockStore(LockStore):
    """The lock store of `DIGOR_LOCK_STORE`: `in_memory` (default) or `redis`."""

    def __new__(cls, endpoint_config: Any = None, **kwargs: Any) -> LockStore:  # type: ignore[misc]
        kind = (os.environ.get("DIGOR_LOCK_STORE") or "in_memory").strip().lower()
        if kind == "in_memory":
            return InMemoryLockStore()
        if kind == "redis":
            settings = dict(getattr(endpoint_config, "kwargs", None) or {})
            settings.update(kwargs)
            host = getattr(endpoint_config, "url", None) or settings.pop("host", None) or "localhost"
            settings.pop("type", None)
            return AtomicRedisLockStore(host=host, **settings)
        # Neither ImportError nor AttributeError: Rasa would hide those.
        raise ValueError(f"DIGOR_LOCK_STORE={kind!r}: expected 'in_memory' or 'redis'")
