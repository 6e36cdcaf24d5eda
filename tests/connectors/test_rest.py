"""The REST channel: Rasa's, with its request body checked."""

from __future__ import annotations

import json

import aiohttp
import pytest

from connectors.common import MAX_MESSAGE_CHARACTERS
from connectors.limits import RATE_LIMITED, TOO_LARGE, Limit, RateLimiter, reset_limiter
from connectors.rest import BAD_BODY, BAD_MESSAGE, BAD_SENDER, RestInput, check_body


async def post(url: str, data: bytes) -> tuple[int, object]:
    async with aiohttp.ClientSession() as session:
        async with session.post(url, data=data, headers={"Content-Type": "application/json"}) as answer:
            return answer.status, await answer.json(content_type=None)


@pytest.fixture
async def rest(serve_channel, rasa):
    return await serve_channel(RestInput.from_credentials(None), rasa)


@pytest.mark.parametrize(
    "body, problem",
    [
        ({"sender": "a", "message": "bonjour"}, None),
        ({"sender": 42, "message": "bonjour"}, None),
        ({"sender": "a"}, None),
        ({"sender": "a", "message": None}, None),
        ([{"sender": "a", "message": "x"}], BAD_BODY),
        ("bonjour", BAD_BODY),
        (None, BAD_BODY),
        ({"message": "bonjour"}, BAD_SENDER),
        ({"sender": "  ", "message": "bonjour"}, BAD_SENDER),
        ({"sender": "x" * 255, "message": "bonjour"}, None),
        ({"sender": "x" * 256, "message": "bonjour"}, BAD_SENDER),
        ({"sender": True, "message": "bonjour"}, BAD_SENDER),
        ({"sender": {"id": 1}, "message": "bonjour"}, BAD_SENDER),
        ({"sender": "a", "message": 42}, BAD_MESSAGE),
        ({"sender": "a", "message": ["bonjour"]}, BAD_MESSAGE),
    ],
)
def test_bodies_are_checked(body, problem):
    assert check_body(body) == problem


async def test_a_good_message_reaches_rasa_as_the_rest_channel(rest, rasa):
    status, answers = await post(f"{rest}/webhook", json.dumps({"sender": "alice", "message": "bonjour"}).encode())
    assert status == 200
    assert answers == [{"recipient_id": "alice", "text": "Bonjour. Quel est le problème ?"}]
    assert rasa.messages[0].text == "bonjour" and rasa.messages[0].input_channel == "rest"


@pytest.mark.parametrize(
    "data, expected",
    [
        (b"pas du json {", BAD_BODY),
        ('{"sender": "a", "message": "caf\xe9"}'.encode("latin-1"), BAD_BODY),
        (b"[1, 2]", BAD_BODY),
        (b"null", BAD_BODY),
        (b'{"sender": "a", "message": {"text": "x"}}', BAD_MESSAGE),
        (b'{"sender": [1], "message": "x"}', BAD_SENDER),
    ],
)
async def test_bad_bodies_get_a_french_400_and_never_reach_rasa(rest, rasa, data, expected):
    status, body = await post(f"{rest}/webhook", data)
    assert (status, body) == (400, {"error": expected})
    assert rasa.messages == []


async def test_the_body_cannot_choose_the_channel_nor_the_metadata(rest, rasa):
    body = {"sender": "a", "message": "bonjour", "input_channel": "desk", "metadata": {"desk_agent": "Faux"}}
    status, _ = await post(f"{rest}/webhook", json.dumps(body).encode())
    assert status == 200
    assert rasa.messages[0].input_channel == "rest"
    assert not rasa.messages[0].metadata


async def test_a_missing_message_is_empty_and_a_long_one_is_cut(rest, rasa):
    await post(f"{rest}/webhook", json.dumps({"sender": "a"}).encode())
    await post(f"{rest}/webhook", json.dumps({"sender": "a", "message": "x" * (MAX_MESSAGE_CHARACTERS + 10)}).encode())
    assert [len(m.text) for m in rasa.messages] == [0, MAX_MESSAGE_CHARACTERS]


async def test_a_body_over_the_bound_gets_a_french_413(serve_channel, rasa, monkeypatch):
    # Sanic reads its settings from SANIC_* variables when an app is made.
    monkeypatch.setenv("SANIC_REQUEST_MAX_SIZE", "1000")
    rest = await serve_channel(RestInput.from_credentials(None), rasa)
    status, body = await post(f"{rest}/webhook", json.dumps({"sender": "a", "message": "x" * 5000}).encode())
    assert (status, body) == (413, {"error": TOO_LARGE})
    assert rasa.messages == []


async def test_rasa_internal_intents_reach_rasa_as_words(rest, rasa):
    await post(f"{rest}/webhook", json.dumps({"sender": "a", "message": "/restart"}).encode())
    assert rasa.messages[0].text == "restart"


async def test_past_the_conversation_limit_the_answer_is_french_and_rasa_is_not_asked(rest, rasa):
    reset_limiter(RateLimiter(sender=Limit(per_minute=1, burst=2), address=Limit(per_minute=1, burst=1)))
    try:
        answers = []
        for _ in range(3):
            status, answer = await post(f"{rest}/webhook", json.dumps({"sender": "bob", "message": "bonjour"}).encode())
            assert status == 200
            answers.append(answer)
        assert answers[2] == [{"recipient_id": "bob", "text": RATE_LIMITED}]
        assert len(rasa.messages) == 2
        # Another conversation from the same address goes on: no per-address limit here.
        status, answer = await post(f"{rest}/webhook", json.dumps({"sender": "carol", "message": "bonjour"}).encode())
        assert answer[0]["text"] != RATE_LIMITED and len(rasa.messages) == 3
    finally:
        reset_limiter(None)
