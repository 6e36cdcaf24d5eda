"""The widget's channel: server-issued, signed conversation ids."""

from __future__ import annotations

import json

import aiohttp
import pytest

from connectors.common import UNREADABLE
from connectors.widget import WidgetInput, new_session_token, session_from_token, sign

SECRET = "widget-test-secret-0123456789"


async def post(url: str, body) -> tuple[int, object]:
    async with aiohttp.ClientSession() as session:
        data = body if isinstance(body, (bytes, str)) else json.dumps(body)
        async with session.post(url, data=data, headers={"Content-Type": "application/json"}) as answer:
            return answer.status, await answer.json()


@pytest.fixture
async def widget(serve_channel, rasa):
    return await serve_channel(WidgetInput.from_credentials({"secret": SECRET}), rasa)


def test_a_token_is_checked_against_its_signature():
    token = new_session_token(SECRET.encode())
    session_id, signature = token.split(".")
    assert session_from_token(SECRET.encode(), token) == session_id
    assert len(session_id) >= 32  # 24 random bytes
    assert session_from_token(b"another secret", token) is None
    assert session_from_token(SECRET.encode(), f"{session_id}x.{signature}") is None
    assert session_from_token(SECRET.encode(), f"{session_id}.{sign(b'x', session_id)}") is None
    for junk in (None, "", ".", "a.b.c", "x" * 500, 12):
        assert session_from_token(SECRET.encode(), junk) is None


def test_tokens_are_not_guessable():
    tokens = {new_session_token(SECRET.encode()) for _ in range(200)}
    assert len(tokens) == 200


async def test_the_server_issues_a_session_and_answers_with_it(widget, rasa):
    status, body = await post(f"{widget}/session", {})
    assert status == 200
    session = body["session"]

    status, answers = await post(f"{widget}/webhook", {"session": session, "message": "bonjour"})

    assert status == 200
    assert answers[0]["text"] == "Bonjour. Quel est le problème ?"
    message = rasa.messages[-1]
    assert message.text == "bonjour"
    assert message.input_channel == "widget"
    assert message.sender_id == session.split(".")[0]


async def test_two_sessions_are_two_conversations(widget, rasa):
    first = (await post(f"{widget}/session", {}))[1]["session"]
    second = (await post(f"{widget}/session", {}))[1]["session"]
    assert first != second
    await post(f"{widget}/webhook", {"session": first, "message": "a"})
    await post(f"{widget}/webhook", {"session": second, "message": "b"})
    assert rasa.messages[0].sender_id != rasa.messages[1].sender_id


@pytest.mark.parametrize(
    "body",
    [
        {"message": "bonjour"},
        {"session": "made-up-id", "message": "bonjour"},
        {"session": "made-up-id.c2lnbmF0dXJl", "message": "bonjour"},
        {"session": new_session_token(b"another secret"), "message": "bonjour"},
    ],
    ids=["no-session", "no-signature", "bad-signature", "other-secret"],
)
async def test_unsigned_messages_are_refused_before_rasa(widget, rasa, body):
    status, answer = await post(f"{widget}/webhook", body)
    assert status == 401
    assert "Session inconnue" in answer["error"]
    assert rasa.messages == []


@pytest.mark.parametrize("body", [b"{not json", b"[]", b""], ids=["bad-json", "not-an-object", "empty"])
async def test_unreadable_bodies_are_refused_before_rasa(widget, rasa, body):
    status, answer = await post(f"{widget}/webhook", body)
    assert status == 400
    assert answer["error"] == UNREADABLE
    assert rasa.messages == []


async def test_a_message_that_is_not_text_reaches_rasa_empty(widget, rasa):
    session = (await post(f"{widget}/session", {}))[1]["session"]
    status, _ = await post(f"{widget}/webhook", {"session": session, "message": {"html": "<b>"}})
    assert status == 200
    assert rasa.messages[-1].text == ""


async def test_rasa_failing_gives_a_french_notice(serve_channel):
    async def broken(message) -> None:
        raise RuntimeError("model not loaded")

    url = await serve_channel(WidgetInput.from_credentials({"secret": SECRET}), broken)
    session = (await post(f"{url}/session", {}))[1]["session"]
    status, body = await post(f"{url}/webhook", {"session": session, "message": "bonjour"})
    assert status == 503
    assert "Réessayez" in body["error"]


def test_the_channel_needs_a_secret():
    with pytest.raises(ValueError):
        WidgetInput.from_credentials({})
    assert WidgetInput.name() == "widget"
