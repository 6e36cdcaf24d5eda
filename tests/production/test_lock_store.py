"""The lock store: unique tickets and one message at a time, across replicas (real Redis)."""

from __future__ import annotations

import asyncio
import os
import threading
import time
import uuid
from concurrent.futures import ThreadPoolExecutor
from typing import List
from urllib.parse import urlsplit

import pytest
from rasa.core.lock_store import InMemoryLockStore, LockStore, RedisLockStore
from rasa.utils.endpoints import EndpointConfig

from bot.lock_store import AtomicRedisLockStore, DigorLockStore

REDIS_URL = os.environ.get("DIGOR_TEST_REDIS_URL")
TYPE = "bot.lock_store.DigorLockStore"

needs_redis = pytest.mark.skipif(not REDIS_URL, reason="DIGOR_TEST_REDIS_URL is not set")


def endpoint() -> EndpointConfig:
    """As endpoints.yml gives it to Rasa."""
    parts = urlsplit(REDIS_URL or "redis://localhost:6379/0")
    return EndpointConfig(
        url=parts.hostname, type=TYPE, port=str(parts.port or 6379),
        db=(parts.path or "/0").strip("/") or "0", key_prefix="digortest",
    )


def test_in_memory_by_default_and_a_wrong_value_is_refused(monkeypatch):
    monkeypatch.delenv("DIGOR_LOCK_STORE", raising=False)
    assert isinstance(LockStore.create(endpoint()), InMemoryLockStore)
    monkeypatch.setenv("DIGOR_LOCK_STORE", "postgres")
    with pytest.raises(ValueError, match="in_memory' or 'redis"):
        LockStore.create(endpoint())


@needs_redis
def test_redis_from_the_endpoint_configuration(monkeypatch):
    monkeypatch.setenv("DIGOR_LOCK_STORE", "redis")
    store = LockStore.create(endpoint())
    assert isinstance(store, AtomicRedisLockStore) and isinstance(store, RedisLockStore)
    assert store.red.ping()
    assert store.key_prefix.startswith("digortest:")


class SlowRead:
    """Widens the window between reading a lock and writing it back, as a busy
    replica does, so that the race shows every time instead of now and then."""

    def get_lock(self, conversation_id):
        lock = super().get_lock(conversation_id)
        time.sleep(0.05)
        return lock


class SlowRasaStore(SlowRead, RedisLockStore):
    pass


class SlowAtomicStore(SlowRead, AtomicRedisLockStore):
    pass


def replicas(kind) -> List[RedisLockStore]:
    """Two stores with their own connections, like two Rasa servers."""
    config = endpoint()
    return [kind(host=config.url, **config.kwargs) for _ in range(2)]


def tickets_taken_at_once(stores: List[RedisLockStore], conversation: str) -> List[int]:
    with ThreadPoolExecutor(len(stores) * 2) as pool:
        return list(pool.map(lambda s: s.issue_ticket(conversation), stores * 2))


@needs_redis
def test_rasas_own_redis_store_gives_the_same_ticket_twice_under_a_race():
    """Why bot/lock_store.py exists: the check that the test below can fail."""
    stores = replicas(SlowRasaStore)
    conversation = f"race-{uuid.uuid4().hex}"
    try:
        tickets = tickets_taken_at_once(stores, conversation)
        assert len(set(tickets)) < len(tickets), tickets
    finally:
        stores[0].delete_lock(conversation)


@needs_redis
def test_tickets_are_unique_and_all_kept_when_replicas_race():
    stores = replicas(SlowAtomicStore)
    conversation = f"race-{uuid.uuid4().hex}"
    try:
        tickets = tickets_taken_at_once(stores, conversation)
        assert sorted(tickets) == [0, 1, 2, 3]
        assert [t.number for t in stores[1].get_lock(conversation).tickets] == sorted(tickets)
    finally:
        stores[0].delete_lock(conversation)


@needs_redis
def test_messages_of_one_conversation_never_overlap_across_replicas():
    """Each replica handles messages in its own event loop; the critical
    sections (what Rasa does between reading and saving the tracker) never
    overlap, and every message is handled once."""
    stores = replicas(SlowAtomicStore)
    conversation = f"order-{uuid.uuid4().hex}"
    inside = []
    handled = []
    guard = threading.Lock()

    async def handle(store: RedisLockStore, name: str) -> None:
        async with store.lock(conversation, wait_time_in_seconds=0.02):
            with guard:
                inside.append(name)
                assert len(inside) == 1, inside
            await asyncio.sleep(0.03)
            with guard:
                inside.remove(name)
                handled.append(name)

    def replica(index: int) -> None:
        async def messages() -> None:
            await asyncio.gather(*(handle(stores[index], f"{index}-{n}") for n in range(3)))

        asyncio.run(messages())

    with ThreadPoolExecutor(2) as pool:
        for future in [pool.submit(replica, 0), pool.submit(replica, 1)]:
            future.result()
    assert sorted(handled) == sorted(f"{i}-{n}" for i in range(2) for n in range(3))
    # The last one out removed the lock: nothing left behind in Redis.
    assert stores[0].get_lock(conversation) is None
