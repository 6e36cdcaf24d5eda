"""Rate limits per sender and per address, in process and in Redis; request size."""

from __future__ import annotations

import os
import uuid
from types import SimpleNamespace

import pytest

from connectors import limits
from connectors.common import ask_rasa
from connectors.limits import Limit, LocalBuckets, RateLimiter

REDIS_URL = os.environ.get("DIGOR_TEST_REDIS_URL")


def test_a_bucket_allows_its_burst_then_one_message_per_interval():
    buckets = LocalBuckets()
    limit = Limit(per_minute=6, burst=3)  # one token every 10 s
    assert [buckets.take("k", limit, now=100.0) for _ in range(3)] == [None, None, None]
    wait = buckets.take("k", limit, now=100.0)
    assert wait == pytest.approx(10.0)
    assert buckets.take("k", limit, now=105.0) == pytest.approx(5.0)
    assert buckets.take("k", limit, now=110.5) is None
    # Another key has its own bucket.
    assert buckets.take("other", limit, now=110.5) is None


def test_old_keys_are_dropped_past_the_bound():
    buckets = LocalBuckets(max_keys=2)
    limit = Limit(per_minute=60, burst=1)
    for key in ("a", "b", "c"):
        buckets.take(key, limit, now=0.0)
    assert buckets.take("a", limit, now=0.0) is None  # forgotten, so full again
    assert buckets.take("c", limit, now=0.0) is not None


async def test_sender_and_address_limits_are_separate():
    limiter = RateLimiter(sender=Limit(60, 2), address=Limit(60, 3))
    assert await limiter.check("widget", "alice", "10.0.0.1") is None
    assert await limiter.check("widget", "alice", "10.0.0.1") is None
    assert await limiter.check("widget", "alice", "10.0.0.1") is not None  # alice's burst spent
    # The address's burst (3) is spent by alice's three messages: bob waits there,
    # not from another address.
    assert await limiter.check("widget", "bob", "10.0.0.1") is not None
    assert await limiter.check("widget", "bob", "10.0.0.2") is None
    # Without an address (Teams, Mattermost) only the sender counts.
    assert await limiter.check("teams", "dave", None) is None


def test_limits_come_from_the_environment_and_zero_turns_them_off():
    limiter = RateLimiter.from_env({"DIGOR_RATE_SENDER_PER_MINUTE": "0", "DIGOR_RATE_ADDRESS_BURST": "7"})
    assert not limiter.sender.enabled
    assert limiter.address == Limit(300, 7)
    assert limiter.redis is None
    default = RateLimiter.from_env({})
    assert default.sender == Limit(30, 20) and default.address == Limit(300, 100)


async def test_ask_rasa_answers_in_french_without_asking_rasa_past_the_limit():
    limits.reset_limiter(RateLimiter(sender=Limit(60, 2), address=Limit(0, 0)))
    calls = []

    async def on_new_message(message):
        calls.append(message.text)
        await message.output_channel.send_text_message(message.sender_id, "Bonjour.")

    try:
        for _ in range(2):
            assert (await ask_rasa(on_new_message, "bonjour", "s1", "widget"))[0]["text"] == "Bonjour."
        answer = await ask_rasa(on_new_message, "bonjour", "s1", "widget")
    finally:
        limits.reset_limiter()
    assert answer == [{"recipient_id": "s1", "text": limits.RATE_LIMITED}]
    assert len(calls) == 2
    assert "Attendez" in limits.RATE_LIMITED


def test_request_size_of_the_rasa_server():
    app = SimpleNamespace(config=SimpleNamespace(REQUEST_MAX_SIZE=100_000_000))
    assert limits.configure_request_size(app, {}) == 2 * 1024 * 1024
    assert app.config.REQUEST_MAX_SIZE == 2 * 1024 * 1024
    assert limits.configure_request_size(app, {"DIGOR_MAX_REQUEST_BYTES": "5000"}) == 5000
    app.config.REQUEST_MAX_SIZE = 123
    assert limits.configure_request_size(app, {"SANIC_REQUEST_MAX_SIZE": "123"}) == 123


@pytest.fixture
async def redis_env():
    if not REDIS_URL:
        pytest.skip("DIGOR_TEST_REDIS_URL is not set")
    from urllib.parse import urlsplit

    parts = urlsplit(REDIS_URL)
    yield {
        "DIGOR_LOCK_STORE": "redis",
        "DIGOR_REDIS_HOST": parts.hostname or "localhost",
        "DIGOR_REDIS_PORT": str(parts.port or 6379),
        "DIGOR_REDIS_DB": (parts.path or "/0").strip("/") or "0",
        "DIGOR_RATE_SENDER_PER_MINUTE": "60",
        "DIGOR_RATE_SENDER_BURST": "2",
    }


async def test_replicas_share_their_counts_through_redis(redis_env):
    first, second = RateLimiter.from_env(redis_env), RateLimiter.from_env(redis_env)
    assert first.redis is not None
    sender = "r-" + uuid.uuid4().hex
    try:
        assert await first.check("widget", sender) is None
        assert await second.check("widget", sender) is None
        wait = await first.check("widget", sender)
        assert wait is not None and 0 < wait <= 1.01
        assert await second.check("widget", sender) is not None
    finally:
        await first.redis.client.delete(f"digor:rate:s:widget:{sender}")
        await first.redis.client.close()
        await second.redis.client.close()


async def test_a_redis_failure_falls_back_to_local_counts(caplog):
    env = {"DIGOR_LOCK_STORE": "redis", "DIGOR_REDIS_HOST": "127.0.0.1", "DIGOR_REDIS_PORT": "1",
           "DIGOR_RATE_SENDER_BURST": "1"}
    limiter = RateLimiter.from_env(env)
    assert await limiter.check("widget", "x") is None
    assert await limiter.check("widget", "x") is not None  # still limited, locally
    assert any("Redis failed" in r.getMessage() for r in caplog.records)
    await limiter.redis.client.close()
