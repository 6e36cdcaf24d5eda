"""The Teams channel against local stand-ins for the Bot Framework (keys, token endpoint, connector)."""

from __future__ import annotations

import asyncio
import time
import uuid
from urllib.parse import unquote

import aiohttp
import pytest

from connectors.teams import (
    CHANNEL_NAME,
    UNAVAILABLE,
    TeamsInput,
    reply_activity,
    sender_id,
    strip_mentions,
)

BOT_ID = "28:0a1b2c3d-digor"
CONVERSATION_ID = "19:abcdef0123456789@thread.tacv2;messageid=1700000000000"


def channel_for(microsoft, app_id=None) -> TeamsInput:
    return TeamsInput.from_credentials(
        {
            "app_id": microsoft.app_id if app_id is None else app_id,
            "app_password": microsoft.app_password,
            "tenant_id": microsoft.tenant_id,
            "openid_url": microsoft.openid_url,
            "token_url": microsoft.token_url,
        }
    )


def message_activity(microsoft, text="<at>Digor</at> le badge de la cantine ne marche plus", **overrides):
    activity = {
        "type": "message",
        "id": "1700000000123",
        "timestamp": "2026-11-21T10:00:00.000Z",
        "serviceUrl": microsoft.service_url,
        "channelId": "msteams",
        "from": {"id": "29:1agent-x", "name": "Agent Dupont", "aadObjectId": str(uuid.uuid4())},
        "conversation": {"conversationType": "channel", "id": CONVERSATION_ID, "tenantId": microsoft.tenant_id},
        "recipient": {"id": BOT_ID, "name": "Digor"},
        "textFormat": "plain",
        "locale": "fr-FR",
        "text": text,
        "entities": [
            {"type": "mention", "mentioned": {"id": BOT_ID, "name": "Digor"}, "text": "<at>Digor</at>"},
            {"type": "clientInfo", "locale": "fr-FR", "country": "FR", "platform": "Web"},
        ],
        "channelData": {"tenant": {"id": microsoft.tenant_id}},
    }
    activity.update(overrides)
    return activity


async def send(base: str, activity: dict, token: str = None):
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    async with aiohttp.ClientSession() as http:
        started = time.monotonic()
        async with http.post(f"{base}/api/messages", json=activity, headers=headers) as answer:
            await answer.read()
            return answer.status, time.monotonic() - started


async def test_valid_activity_is_answered_through_the_connector(microsoft, rasa, serve_channel, wait_until):
    rasa.replies = [
        {"text": "Merci. J'ai bien noté le problème."},
        {
            "text": "Est-ce que c'est juste ?",
            "buttons": [
                {"title": "Oui, c'est juste", "payload": "/affirm"},
                {"title": "Tous les jours", "payload": "tous les jours"},
            ],
        },
    ]
    base = await serve_channel(channel_for(microsoft), rasa)
    activity = message_activity(microsoft)

    status, _ = await send(base, activity, microsoft.mint())

    assert status == 200
    await wait_until(lambda: len(microsoft.activities) == 2)
    [message] = rasa.messages
    assert message.text == "le badge de la cantine ne marche plus"
    assert message.input_channel == CHANNEL_NAME == "teams"
    assert message.sender_id == sender_id(activity)
    first, second = microsoft.activities
    assert unquote(first["conversation"]) == CONVERSATION_ID
    assert first["reply_to"] == activity["id"]
    assert "%3Bmessageid%3D" in first["raw_path"]  # the conversation id is escaped in the URL
    assert first["body"]["text"] == "Merci. J'ai bien noté le problème."
    assert first["body"]["replyToId"] == activity["id"]
    assert first["body"]["from"]["id"] == BOT_ID
    assert first["body"]["recipient"]["id"] == "29:1agent-x"
    [card] = second["body"]["attachments"]
    assert card["contentType"] == "application/vnd.microsoft.card.hero"
    assert card["content"]["buttons"] == [
        {"type": "messageBack", "title": "Oui, c'est juste", "text": "/affirm", "displayText": "Oui, c'est juste"},
        {"type": "imBack", "title": "Tous les jours", "value": "tous les jours"},
    ]


async def test_answers_200_before_rasa_has_finished(microsoft, rasa, serve_channel, wait_until):
    rasa.gate = asyncio.Event()
    base = await serve_channel(channel_for(microsoft), rasa)

    status, _ = await send(base, message_activity(microsoft), microsoft.mint())

    assert status == 200
    await wait_until(lambda: len(rasa.messages) == 1)
    assert microsoft.activities == []  # Rasa still working, Teams already answered
    rasa.gate.set()
    await wait_until(lambda: len(microsoft.activities) == 1)


async def test_token_is_fetched_once_and_cached(microsoft, rasa, serve_channel, wait_until):
    base = await serve_channel(channel_for(microsoft), rasa)

    for text in ("bonjour", "le car ne passe pas", "à Quimperlé"):
        status, _ = await send(base, message_activity(microsoft, text=text), microsoft.mint())
        assert status == 200
    await wait_until(lambda: len(microsoft.activities) == 3)

    [token_request] = microsoft.token_requests
    assert token_request == {
        "grant_type": "client_credentials",
        "client_id": microsoft.app_id,
        "client_secret": microsoft.app_password,
        "scope": "https://api.botframework.com/.default",
    }
    assert microsoft.metadata_requests == 1  # the keys are cached too


async def test_concurrent_first_activities_fetch_the_keys_once(microsoft, rasa, serve_channel, wait_until):
    base = await serve_channel(channel_for(microsoft), rasa)

    results = await asyncio.gather(
        *(send(base, message_activity(microsoft, text=f"message {n}"), microsoft.mint()) for n in range(5))
    )

    assert [status for status, _ in results] == [200] * 5
    await wait_until(lambda: len(microsoft.activities) == 5)
    assert microsoft.metadata_requests == 1
    assert len(microsoft.token_requests) == 1


async def test_when_rasa_fails_the_person_is_told(microsoft, serve_channel, wait_until):
    async def failing_rasa(message):
        raise RuntimeError("lock timeout")

    base = await serve_channel(channel_for(microsoft), failing_rasa)

    status, _ = await send(base, message_activity(microsoft), microsoft.mint())

    assert status == 200
    await wait_until(lambda: len(microsoft.activities) == 1)
    assert microsoft.activities[0]["body"]["text"] == UNAVAILABLE


async def test_a_refused_token_is_fetched_again(microsoft, rasa, serve_channel, wait_until):
    base = await serve_channel(channel_for(microsoft), rasa)
    await send(base, message_activity(microsoft, text="bonjour"), microsoft.mint())
    await wait_until(lambda: len(microsoft.activities) == 1)
    microsoft.issued_tokens.append("revoked")  # the connector now refuses the cached token

    await send(base, message_activity(microsoft, text="lost"), microsoft.mint())
    await wait_until(lambda: microsoft.refused_replies == 1)
    await send(base, message_activity(microsoft, text="again"), microsoft.mint())

    await wait_until(lambda: len(microsoft.activities) == 2)
    assert len(microsoft.token_requests) == 2


async def test_greets_when_the_bot_is_added(microsoft, rasa, serve_channel, wait_until):
    base = await serve_channel(channel_for(microsoft), rasa)
    activity = message_activity(microsoft, type="conversationUpdate", text=None)
    activity["membersAdded"] = [{"id": BOT_ID}, {"id": "29:1agent-x"}]

    status, _ = await send(base, activity, microsoft.mint())

    assert status == 200
    await wait_until(lambda: len(microsoft.activities) == 1)
    assert rasa.messages[0].text == "/greet"


async def test_someone_else_added_is_not_greeted(microsoft, rasa, serve_channel):
    channel = channel_for(microsoft)
    base = await serve_channel(channel, rasa)
    activity = message_activity(microsoft, type="conversationUpdate", text=None)
    activity["membersAdded"] = [{"id": "29:1someone-else"}]

    status, _ = await send(base, activity, microsoft.mint())

    assert status == 200
    await channel.close()
    assert rasa.messages == []


def _forged(microsoft):
    return microsoft.mint(key=microsoft.new_key())  # same kid, another private key


@pytest.mark.parametrize(
    "make_token",
    [
        pytest.param(_forged, id="forged signature"),
        pytest.param(lambda ms: ms.mint(exp=int(time.time()) - 3600, nbf=int(time.time()) - 7200), id="expired"),
        pytest.param(lambda ms: ms.mint(exp=None), id="no expiry"),
        pytest.param(lambda ms: ms.mint(aud=str(uuid.uuid4())), id="wrong audience"),
        pytest.param(lambda ms: ms.mint(aud=None), id="no audience"),
        pytest.param(lambda ms: ms.mint(iss="https://sts.windows.net/evil/"), id="wrong issuer"),
        pytest.param(lambda ms: ms.mint(serviceurl="https://evil.example/teams/"), id="serviceUrl mismatch"),
        pytest.param(lambda ms: ms.mint(serviceurl=None), id="no serviceurl claim"),
        pytest.param(lambda ms: ms.mint(kid="unknown-key"), id="unknown key"),
        pytest.param(lambda ms: "not-a-jwt", id="garbage"),
        pytest.param(lambda ms: None, id="no header"),
    ],
)
async def test_invalid_tokens_are_refused_and_reach_nothing(microsoft, rasa, serve_channel, make_token):
    channel = channel_for(microsoft)
    base = await serve_channel(channel, rasa)

    status, _ = await send(base, message_activity(microsoft), make_token(microsoft))

    assert status == 401
    await channel.close()
    assert rasa.messages == []
    assert microsoft.activities == []
    assert microsoft.token_requests == []


async def test_activity_service_url_must_match_the_token(microsoft, rasa, serve_channel):
    channel = channel_for(microsoft)
    base = await serve_channel(channel, rasa)
    activity = message_activity(microsoft, serviceUrl="https://evil.example/teams/")

    status, _ = await send(base, activity, microsoft.mint())

    assert status == 401
    await channel.close()
    assert rasa.messages == [] and microsoft.activities == []


async def test_unconfigured_channel_refuses_everything(microsoft, rasa, serve_channel):
    channel = channel_for(microsoft, app_id="")
    base = await serve_channel(channel, rasa)

    for token in (microsoft.mint(), microsoft.mint(aud=None), microsoft.mint(aud="")):
        status, _ = await send(base, message_activity(microsoft), token)
        assert status == 401
    await channel.close()
    assert rasa.messages == []
    assert microsoft.metadata_requests == 0


@pytest.mark.parametrize("where", ["conversation", "channelData", "nowhere"])
async def test_activities_from_another_tenant_are_refused(microsoft, rasa, serve_channel, where):
    channel = channel_for(microsoft)
    base = await serve_channel(channel, rasa)
    activity = message_activity(microsoft)
    other = str(uuid.uuid4())
    activity["conversation"].pop("tenantId")
    activity["channelData"]["tenant"]["id"] = other
    if where == "conversation":
        activity["conversation"]["tenantId"] = other
    elif where == "nowhere":
        activity.pop("channelData")

    status, _ = await send(base, activity, microsoft.mint())

    assert status == 403
    await channel.close()
    assert rasa.messages == [] and microsoft.activities == []


async def test_malformed_body_is_refused(microsoft, rasa, serve_channel):
    base = await serve_channel(channel_for(microsoft), rasa)
    async with aiohttp.ClientSession() as http:
        async with http.post(
            f"{base}/api/messages",
            data=b"{not json",
            headers={"Authorization": f"Bearer {microsoft.mint()}", "Content-Type": "application/json"},
        ) as answer:
            assert answer.status == 401
    assert rasa.messages == []


@pytest.mark.parametrize(
    "field, value",
    [("from", "29:1agent-x"), ("from", 12345), ("conversation", "a:1"), ("recipient", ["Digor"]),
     ("text", {"text": "bonjour"}), ("text", 42), ("entities", 5), ("channelData", {"tenant": "t"}),
     ("conversation", {"id": 7})],
)
async def test_an_activity_with_fields_of_the_wrong_type_is_refused(microsoft, rasa, serve_channel, field, value):
    channel = channel_for(microsoft)
    base = await serve_channel(channel, rasa)
    activity = message_activity(microsoft)
    if field == "conversation" and isinstance(value, dict):
        value = {**activity["conversation"], **value}
    activity[field] = value

    status, _ = await send(base, activity, microsoft.mint())

    assert status == 400
    await channel.close()
    assert rasa.messages == [] and microsoft.activities == []


def test_strip_mentions_only_removes_the_bot():
    activity = {
        "text": "<at>Digor</at> voir avec <at>Marie</at> pour la cantine",
        "recipient": {"id": BOT_ID},
        "entities": [
            {"type": "mention", "mentioned": {"id": BOT_ID}, "text": "<at>Digor</at>"},
            {"type": "mention", "mentioned": {"id": "29:marie"}, "text": "<at>Marie</at>"},
        ],
    }
    assert strip_mentions(activity) == "voir avec <at>Marie</at> pour la cantine"
    assert strip_mentions({"text": "  bonjour  "}) == "bonjour"


def test_sender_id_per_person_and_conversation():
    base = {"from": {"id": "29:a"}, "conversation": {"id": "19:x;messageid=1"}}
    other_person = {"from": {"id": "29:b"}, "conversation": {"id": "19:x;messageid=1"}}
    other_thread = {"from": {"id": "29:a"}, "conversation": {"id": "19:x;messageid=2"}}
    ids = {sender_id(base), sender_id(other_person), sender_id(other_thread)}
    assert len(ids) == 3
    assert all(i.startswith("teams:") and len(i) < 64 for i in ids)


def test_reply_without_content_is_skipped():
    assert reply_activity({"id": "1"}, {}) is None
