"""The phone desk's channel: agent sign-in, signed sessions, metadata, the running summary."""

from __future__ import annotations

import json
import time
from types import SimpleNamespace

import aiohttp
import pytest
from rasa.core.tracker_store import InMemoryTrackerStore
from rasa.shared.core.domain import Domain
from rasa.shared.core.events import SlotSet, UserUttered

from connectors.desk import (
    SESSION_SECONDS,
    SUMMARY_SLOTS,
    DeskInput,
    _b64decode,
    _b64encode,
    new_session,
    parse_agents,
    read_session,
    sender_id,
    session_key,
)
from connectors.common import UNREADABLE
from connectors.limits import Limit, RateLimiter, reset_limiter
from connectors.widget import new_session_token

SECRET = "desk-test-secret-0123456789"
MARIE = "marie-0123456789abcdef"
YANN = "yann-0123456789abcdef"
AGENTS = f"Marie:{MARIE}, Yann:{YANN}"


def domain() -> Domain:
    slots = {name: {"type": "text", "mappings": [{"type": "custom"}]} for name in SUMMARY_SLOTS}
    return Domain.from_dict({"slots": slots})


class RasaWithTracker:
    """Records each message and keeps it in a real tracker store, with the slots an intake sets."""

    def __init__(self, store: InMemoryTrackerStore) -> None:
        self.store = store
        self.messages = []
        self.slots = {"description": "le car de 7h ne passe pas", "location": "Quimper", "since": "__skipped__"}

    async def __call__(self, message) -> None:
        self.messages.append(message)
        tracker = await self.store.get_or_create_tracker(message.sender_id)
        tracker.update(UserUttered(message.text, input_channel=message.input_channel, metadata=message.metadata))
        for name, value in self.slots.items():
            tracker.update(SlotSet(name, value))
        await self.store.save(tracker)
        await message.output_channel.send_response(
            message.sender_id,
            {"text": "Cela arrive souvent ?", "buttons": [{"title": "Tous les jours", "payload": "tous les jours"}]},
        )


@pytest.fixture
def store() -> InMemoryTrackerStore:
    return InMemoryTrackerStore(domain())


@pytest.fixture
async def desk(serve_channel, store):
    rasa = RasaWithTracker(store)
    channel = DeskInput.from_credentials({"agents": AGENTS, "secret": SECRET})
    url = await serve_channel(channel, rasa, agent=SimpleNamespace(tracker_store=store))
    return SimpleNamespace(url=url, rasa=rasa, store=store, channel=channel)


async def post(url: str, body) -> tuple[int, dict]:
    async with aiohttp.ClientSession() as session:
        data = body if isinstance(body, (bytes, str)) else json.dumps(body)
        async with session.post(url, data=data, headers={"Content-Type": "application/json"}) as answer:
            return answer.status, await answer.json()


async def sign_in(desk, token: str = MARIE) -> dict:
    status, body = await post(f"{desk.url}/session", {"agent_token": token})
    assert status == 200, body
    return body


def test_agents_are_read_from_the_configuration():
    assert parse_agents(AGENTS) == {MARIE: "Marie", YANN: "Yann"}
    assert parse_agents("") == {}
    assert parse_agents(None) == {}
    for wrong in ("Marie", f"Marie:{MARIE},Yann:{MARIE}", "Marie:court", f":{MARIE}"):
        with pytest.raises(ValueError):
            parse_agents(wrong)


def test_a_session_binds_agent_conversation_and_expiry():
    key = session_key(SECRET)
    token, expires_at = new_session(key, "Marie", now=1_000)
    claims = read_session(key, token, now=1_001)
    assert claims["a"] == "Marie" and claims["e"] == expires_at == 1_000 + SESSION_SECONDS
    assert len(claims["c"]) >= 24
    assert read_session(key, token, now=expires_at) is None  # expired
    assert read_session(session_key("another secret"), token, now=1_001) is None
    # The agent's name cannot be changed without the key.
    payload, signature = token.split(".")
    forged = json.loads(_b64decode(payload))
    forged["a"] = "Yann"
    assert read_session(key, f"{_b64encode(json.dumps(forged).encode())}.{signature}", now=1_001) is None
    # A widget session, signed with the same secret, is not a desk session.
    assert read_session(key, new_session_token(SECRET.encode()), now=1_001) is None
    for junk in (None, "", ".", "a.b", "x" * 2000, 42, ["a", "b"]):
        assert read_session(key, junk, now=1_001) is None


async def test_sign_in_with_an_agent_token(desk):
    body = await sign_in(desk)
    assert body["agent"] == "Marie"
    assert body["expires_at"] > time.time() + SESSION_SECONDS - 60

    status, refused = await post(f"{desk.url}/session", {"agent_token": "not-a-token-of-anyone"})
    assert status == 401 and refused["error"]
    status, _ = await post(f"{desk.url}/session", {})
    assert status == 401


async def test_a_new_call_is_a_new_conversation_for_the_same_agent(desk):
    first = await sign_in(desk)
    status, second = await post(f"{desk.url}/session", {"session": first["session"]})
    assert status == 200 and second["agent"] == "Marie"
    key = desk.channel.key
    assert read_session(key, first["session"])["c"] != read_session(key, second["session"])["c"]


async def test_each_message_carries_the_agent_and_the_summary_comes_back(desk):
    session = (await sign_in(desk))["session"]
    status, body = await post(f"{desk.url}/webhook", {"session": session, "message": "la dame dit que le car ne passe pas"})

    assert status == 200
    assert body["messages"] == [
        {"recipient_id": sender_id(read_session(desk.channel.key, session)["c"]), "text": "Cela arrive souvent ?",
         "buttons": [{"title": "Tous les jours", "payload": "tous les jours"}]}
    ]
    assert set(body["summary"]) == set(SUMMARY_SLOTS)
    assert body["summary"]["location"] == "Quimper"
    assert body["summary"]["since"] == "__skipped__"
    assert body["summary"]["frequency"] is None

    message = desk.rasa.messages[-1]
    assert message.input_channel == "desk"
    assert message.metadata == {"desk_agent": "Marie"}
    tracker = await desk.store.retrieve(message.sender_id)
    assert tracker.latest_message.metadata == {"desk_agent": "Marie"}
    assert tracker.get_latest_input_channel() == "desk"

    status, read = await post(f"{desk.url}/summary", {"session": session})
    assert status == 200 and read["summary"] == body["summary"]


async def test_two_agents_two_conversations(desk):
    marie = (await sign_in(desk, MARIE))["session"]
    yann = (await sign_in(desk, YANN))["session"]
    await post(f"{desk.url}/webhook", {"session": marie, "message": "bonjour"})
    await post(f"{desk.url}/webhook", {"session": yann, "message": "bonjour"})
    first, second = desk.rasa.messages[-2:]
    assert first.metadata == {"desk_agent": "Marie"} and second.metadata == {"desk_agent": "Yann"}
    assert first.sender_id != second.sender_id


@pytest.mark.parametrize(
    "make_session",
    [
        lambda key: None,
        lambda key: "",
        lambda key: new_session(session_key("wrong secret"), "Marie")[0],
        lambda key: new_session(key, "Marie", now=time.time() - SESSION_SECONDS - 1)[0],
        lambda key: new_session(key, "Ancien agent")[0],  # no longer in DIGOR_DESK_AGENTS
        lambda key: new_session_token(SECRET.encode()),
    ],
    ids=["missing", "empty", "wrong-key", "expired", "unknown-agent", "widget-session"],
)
async def test_refused_requests_leave_no_trace(desk, make_session):
    session = make_session(desk.channel.key)
    status, body = await post(f"{desk.url}/webhook", {"session": session, "message": "bonjour"})
    assert status == 401 and body["error"]
    status, _ = await post(f"{desk.url}/summary", {"session": session})
    assert status == 401
    status, _ = await post(f"{desk.url}/session", {"session": session})
    assert status == 401
    assert desk.rasa.messages == []
    assert list(await desk.store.keys()) == []


@pytest.mark.parametrize("route", ["webhook", "session", "summary"])
async def test_malformed_bodies_are_refused(desk, route):
    for body in (b"{not json", b"[]", b'"text"', b""):
        status, answer = await post(f"{desk.url}/{route}", body)
        assert status == 400
        assert answer["error"] == UNREADABLE
    assert desk.rasa.messages == []


async def test_the_desk_is_off_without_agents(serve_channel, store):
    rasa = RasaWithTracker(store)
    channel = DeskInput.from_credentials({"agents": "", "secret": SECRET})
    url = await serve_channel(channel, rasa, agent=SimpleNamespace(tracker_store=store))
    status, _ = await post(f"{url}/session", {"agent_token": ""})
    assert status == 401
    status, _ = await post(f"{url}/session", {"agent_token": MARIE})
    assert status == 401


async def test_rasa_failing_gives_a_french_notice(serve_channel, store):
    async def broken(message) -> None:
        raise RuntimeError("model not loaded")

    channel = DeskInput.from_credentials({"agents": AGENTS, "secret": SECRET})
    url = await serve_channel(channel, broken, agent=SimpleNamespace(tracker_store=store))
    status, body = await post(f"{url}/session", {"agent_token": MARIE})
    status, body = await post(f"{url}/webhook", {"session": body["session"], "message": "bonjour"})
    assert status == 503
    assert "Réessayez" in body["error"]


def test_the_channel_needs_a_secret():
    with pytest.raises(ValueError):
        DeskInput.from_credentials({"agents": AGENTS, "secret": ""})
    assert DeskInput.name() == "desk"


async def test_sign_in_attempts_are_limited(desk):
    reset_limiter(RateLimiter(Limit(per_minute=1, burst=3), Limit(per_minute=0, burst=0)))
    try:
        statuses = [(await post(f"{desk.url}/session", {"agent_token": f"guess-{n:08d}-xxxx"}))[0] for n in range(3)]
        assert statuses == [401, 401, 401]
        status, body = await post(f"{desk.url}/session", {"agent_token": MARIE})
        assert status == 429 and "Attendez" in body["error"]
    finally:
        reset_limiter(None)
