"""The Mattermost channel against a local server that speaks Mattermost's API v4."""

from __future__ import annotations

from urllib.parse import urlencode

import aiohttp
import pytest
from rasa.core.tracker_store import InMemoryTrackerStore
from rasa.shared.core.domain import Domain
from rasa.shared.core.events import BotUttered, UserUttered
from rasa.shared.core.trackers import DialogueStateTracker

from connectors.mattermost import (
    CHANNEL_NAME,
    UNAVAILABLE,
    MattermostInput,
    choice_payload,
    render_post,
    split_tokens,
    token_is_valid,
)

WEBHOOK_TOKEN = "9jrxak1ykxrmnaed9cps9i4cim"
COMMAND_TOKEN = "c1ks8g3jyfn5zdp5mkmg7b4moh"
TEAM_ID = "rdc9bgriktyx9p4kowh3dmgqyc"


def channel_for(mattermost, token: str = f"{WEBHOOK_TOKEN},{COMMAND_TOKEN}") -> MattermostInput:
    credentials = {"url": mattermost.url + "/", "token": token, "bot_token": mattermost.bot_token}
    return MattermostInput.from_credentials(credentials)


def webhook_payload(post_id: str, user_id: str, channel_id: str, text: str, token: str = WEBHOOK_TOKEN) -> dict:
    """What Mattermost sends for an outgoing webhook (model.OutgoingWebhookPayload)."""
    return {
        "token": token,
        "team_id": TEAM_ID,
        "team_domain": "incubateur",
        "channel_id": channel_id,
        "channel_name": "irritants",
        "timestamp": 1700000000,
        "user_id": user_id,
        "user_name": "agent.dupont",
        "post_id": post_id,
        "text": text,
        "trigger_word": "@digor",
        "file_ids": "",
    }


def command_payload(user_id: str, channel_id: str, text: str, token: str = COMMAND_TOKEN) -> dict:
    """What Mattermost sends for a custom slash command."""
    return {
        "channel_id": channel_id,
        "channel_name": "ddd",
        "command": "/digor",
        "response_url": "http://mattermost.invalid/hooks/commands/qsdgqzbqu3r8fm3mbd7kajpwkr",
        "team_domain": "incubateur",
        "team_id": TEAM_ID,
        "text": text,
        "token": token,
        "trigger_id": "dHJpZ2dlcg==",
        "user_id": user_id,
        "user_name": "agent.dupont",
    }


async def post_form(url: str, payload: dict, headers: dict = None):
    async with aiohttp.ClientSession() as http:
        async with http.post(
            url,
            data=urlencode(payload),
            headers={"Content-Type": "application/x-www-form-urlencoded", **(headers or {})},
        ) as answer:
            return answer.status, await answer.json(content_type=None)


async def post_json(url: str, payload: dict):
    async with aiohttp.ClientSession() as http:
        async with http.post(url, json=payload) as answer:
            return answer.status, await answer.json(content_type=None)


async def test_outgoing_webhook_form_answers_in_a_new_thread(mattermost, rasa, serve_channel, wait_until):
    user, channel_id = mattermost.new_id(), mattermost.new_id()
    post_id = mattermost.add_post(user, channel_id, "@digor le formulaire de la crèche plante")
    rasa.replies = [
        {"text": "Merci. J'ai bien noté le problème."},
        {
            "text": "Cela arrive souvent ?",
            "buttons": [
                {"title": "Tous les jours", "payload": "tous les jours"},
                {"title": "Une seule fois", "payload": "une seule fois"},
            ],
        },
    ]
    base = await serve_channel(channel_for(mattermost), rasa)

    status, body = await post_form(
        f"{base}/webhook", webhook_payload(post_id, user, channel_id, "@digor le formulaire de la crèche plante")
    )

    assert status == 200
    assert body == {}  # no "text": Mattermost posts nothing itself
    await wait_until(lambda: len(mattermost.created) == 2)
    [message] = rasa.messages
    assert message.text == "le formulaire de la crèche plante"
    assert message.sender_id == f"mattermost:{user}:{post_id}"
    assert message.input_channel == CHANNEL_NAME == "mattermost_digor"
    first, second = mattermost.created
    assert (first["channel_id"], first["root_id"]) == (channel_id, post_id)
    assert first["message"] == "Merci. J'ai bien noté le problème."
    assert second["root_id"] == post_id
    assert "1. Tous les jours\n2. Une seule fois" in second["message"]


async def test_outgoing_webhook_json_reply_in_a_thread_keeps_the_conversation(
    mattermost, rasa, serve_channel, wait_until
):
    user, channel_id = mattermost.new_id(), mattermost.new_id()
    root = mattermost.add_post(user, channel_id, "@digor bonjour")
    reply = mattermost.add_post(user, channel_id, "@digor à Quimperlé", root_id=root)
    base = await serve_channel(channel_for(mattermost), rasa)

    status, _ = await post_json(f"{base}/webhook", webhook_payload(reply, user, channel_id, "@digor à Quimperlé"))

    assert status == 200
    await wait_until(lambda: len(mattermost.created) == 1)
    assert rasa.messages[0].sender_id == f"mattermost:{user}:{root}"
    assert rasa.messages[0].text == "à Quimperlé"
    assert mattermost.created[0]["root_id"] == root  # a reply's root, never the reply itself


async def test_two_people_in_one_thread_have_two_conversations(mattermost, rasa, serve_channel, wait_until):
    first, second, channel_id = mattermost.new_id(), mattermost.new_id(), mattermost.new_id()
    root = mattermost.add_post(first, channel_id, "@digor bonjour")
    reply = mattermost.add_post(second, channel_id, "@digor moi aussi", root_id=root)
    base = await serve_channel(channel_for(mattermost), rasa)

    await post_form(f"{base}/webhook", webhook_payload(root, first, channel_id, "@digor bonjour"))
    await post_form(f"{base}/webhook", webhook_payload(reply, second, channel_id, "@digor moi aussi"))

    await wait_until(lambda: len(mattermost.created) == 2)
    assert {m.sender_id for m in rasa.messages} == {
        f"mattermost:{first}:{root}",
        f"mattermost:{second}:{root}",
    }


async def test_slash_command_with_token_header(mattermost, rasa, serve_channel, wait_until):
    user, channel_id = mattermost.new_id(), mattermost.new_id()
    base = await serve_channel(channel_for(mattermost), rasa)
    payload = command_payload(user, channel_id, "le site des impôts refuse mon RIB")
    payload.pop("token")  # Mattermost 7+ sends it in the header too; either is enough

    status, body = await post_form(f"{base}/webhook", payload, headers={"Authorization": f"Token {COMMAND_TOKEN}"})

    assert status == 200
    assert body == {"response_type": "ephemeral", "text": "> le site des impôts refuse mon RIB"}
    await wait_until(lambda: len(mattermost.created) == 1)
    assert rasa.messages[0].sender_id == f"mattermost:{user}:{channel_id}"
    assert rasa.messages[0].text == "le site des impôts refuse mon RIB"
    assert mattermost.created[0]["channel_id"] == channel_id
    assert mattermost.created[0]["root_id"] == ""


async def test_trigger_word_alone_greets(mattermost, rasa, serve_channel, wait_until):
    user, channel_id = mattermost.new_id(), mattermost.new_id()
    post_id = mattermost.add_post(user, channel_id, "@digor")
    base = await serve_channel(channel_for(mattermost), rasa)

    await post_form(f"{base}/webhook", webhook_payload(post_id, user, channel_id, "@digor"))

    await wait_until(lambda: len(mattermost.created) == 1)
    assert rasa.messages[0].text == "/greet"


@pytest.mark.parametrize(
    "configured, sent, header",
    [
        (WEBHOOK_TOKEN, "x" * 26, None),
        (WEBHOOK_TOKEN, None, None),
        (WEBHOOK_TOKEN, WEBHOOK_TOKEN[:-1], None),
        (WEBHOOK_TOKEN, None, f"Token {COMMAND_TOKEN}"),
        (WEBHOOK_TOKEN, None, f"Bearer {WEBHOOK_TOKEN}"),
        ("", "", None),  # not configured: refuses everything, even an empty token
        ("", WEBHOOK_TOKEN, None),
    ],
)
async def test_refused_requests_leave_no_trace(mattermost, rasa, serve_channel, configured, sent, header):
    user, channel_id = mattermost.new_id(), mattermost.new_id()
    post_id = mattermost.add_post(user, channel_id, "@digor bonjour")
    base = await serve_channel(channel_for(mattermost, token=configured), rasa)
    payload = webhook_payload(post_id, user, channel_id, "@digor bonjour")
    if sent is None:
        payload.pop("token")
    else:
        payload["token"] = sent

    status, _ = await post_form(f"{base}/webhook", payload, headers={"Authorization": header} if header else None)
    status_json, _ = await post_json(f"{base}/webhook", payload)

    assert status == status_json == 401
    assert rasa.messages == []
    assert mattermost.requests == []  # not even a look-up of the post


async def test_posts_by_bots_are_ignored(mattermost, rasa, serve_channel):
    channel_id = mattermost.new_id()
    post_id = mattermost.add_post(mattermost.bot_user_id, channel_id, "@digor Merci.", from_bot=True)
    channel = channel_for(mattermost)
    base = await serve_channel(channel, rasa)

    status, _ = await post_form(f"{base}/webhook", webhook_payload(post_id, mattermost.bot_user_id, channel_id, "@digor Merci."))

    assert status == 200
    await channel.close()  # waits for the background work
    assert rasa.messages == []
    assert mattermost.created == []


async def test_a_number_picks_the_choice_shown_last(mattermost, rasa, serve_channel, wait_until):
    user, channel_id = mattermost.new_id(), mattermost.new_id()
    root = mattermost.add_post(user, channel_id, "@digor bonjour")
    reply = mattermost.add_post(user, channel_id, "@digor 2", root_id=root)
    sender = f"mattermost:{user}:{root}"
    store = InMemoryTrackerStore(Domain.empty())
    tracker = DialogueStateTracker.from_events(
        sender,
        [
            UserUttered("bonjour"),
            BotUttered(
                "Est-ce que c'est juste ?",
                data={"buttons": [{"title": "Oui", "payload": "/affirm"}, {"title": "Non", "payload": "/deny"}]},
            ),
        ],
    )
    await store.save(tracker)

    class Agent:
        tracker_store = store

    base = await serve_channel(channel_for(mattermost), rasa, agent=Agent())
    await post_form(f"{base}/webhook", webhook_payload(reply, user, channel_id, "@digor 2"))

    await wait_until(lambda: len(rasa.messages) == 1)
    assert rasa.messages[0].text == "/deny"


async def test_a_post_id_that_is_not_an_id_is_never_looked_up(mattermost, rasa, serve_channel, wait_until):
    user, channel_id = mattermost.new_id(), mattermost.new_id()
    base = await serve_channel(channel_for(mattermost), rasa)

    await post_form(f"{base}/webhook", webhook_payload("../users/me", user, channel_id, "@digor bonjour"))

    await wait_until(lambda: len(mattermost.created) == 1)
    assert mattermost.requests == ["POST /api/v4/posts"]
    assert rasa.messages[0].sender_id == f"mattermost:{user}:{channel_id}"
    assert mattermost.created[0]["root_id"] == ""


async def test_when_rasa_fails_the_person_is_told(mattermost, serve_channel, wait_until):
    async def failing_rasa(message):
        raise RuntimeError("lock timeout")

    user, channel_id = mattermost.new_id(), mattermost.new_id()
    post_id = mattermost.add_post(user, channel_id, "@digor bonjour")
    base = await serve_channel(channel_for(mattermost), failing_rasa)

    await post_form(f"{base}/webhook", webhook_payload(post_id, user, channel_id, "@digor bonjour"))

    await wait_until(lambda: len(mattermost.created) == 1)
    assert mattermost.created[0]["message"] == UNAVAILABLE
    assert mattermost.created[0]["root_id"] == post_id


@pytest.mark.parametrize("field", ["user_id", "channel_id"])
async def test_missing_or_malformed_ids_are_refused(mattermost, rasa, serve_channel, field):
    user, channel_id = mattermost.new_id(), mattermost.new_id()
    base = await serve_channel(channel_for(mattermost), rasa)
    for value in ("", "x:y", "A" * 26):
        payload = command_payload(user, channel_id, "bonjour")
        payload[field] = value
        status, _ = await post_form(f"{base}/webhook", payload)
        assert status == 400
    assert rasa.messages == []


@pytest.mark.parametrize(
    "typed, shown",
    [
        ("[cliquez ici](http://phishing.example)", "\\[cliquez ici\\]\\(http://phishing.example\\)"),
        ("![x](http://tracker.example/p.png)", "\\!\\[x\\]\\(http://tracker.example/p.png\\)"),
        ("**gras** _italique_ `code` ~barré~", "\\*\\*gras\\*\\* \\_italique\\_ \\`code\\` \\~barré\\~"),
        ("# titre\n> citation", "\\# titre\n\\> citation"),
        ("urgent @channel @all", "urgent @\u2060channel @\u2060all"),
        ("écrivez à jean.dupont@example.org", "écrivez à jean.dupont@example.org"),
        ("Le car de 7h : en retard, tous les jours.", "Le car de 7h : en retard, tous les jours."),
    ],
)
def test_the_persons_words_repeated_by_the_bot_are_shown_as_typed(typed, shown):
    assert render_post({"text": f"• Le problème : {typed}"}) == f"• Le problème : {shown}"
    assert render_post({"text": "?", "buttons": [{"title": typed, "payload": "/x"}]}).split("\n\n")[1] == f"1. {shown}"


def test_render_post_numbers_the_choices():
    text = render_post(
        {
            "text": "Cela arrive souvent ?",
            "buttons": [{"title": "Tous les jours", "payload": "x"}, {"title": "Je ne sais pas", "payload": "y"}],
        }
    )
    assert text.startswith("Cela arrive souvent ?\n\n1. Tous les jours\n2. Je ne sais pas\n\n_")
    assert "x" not in text.split("\n\n")[1]  # payloads are never shown
    assert render_post({"text": "a" * 20_000}) == "a" * 16_000
    assert render_post({}) == ""


@pytest.mark.parametrize(
    "text, expected",
    [("1", "/affirm"), (" 2. ", "/deny"), ("2)", "/deny"), ("3", None), ("0", None), ("oui", None), ("12 ans", None)],
)
def test_choice_payload(text, expected):
    buttons = [{"title": "Oui", "payload": "/affirm"}, {"title": "Non", "payload": "/deny"}]
    assert choice_payload(text, buttons) == expected
    assert choice_payload(text, None) is None


def test_tokens():
    tokens = split_tokens(f" {WEBHOOK_TOKEN} , {COMMAND_TOKEN},")
    assert token_is_valid(tokens, WEBHOOK_TOKEN) and token_is_valid(tokens, COMMAND_TOKEN)
    assert not token_is_valid(tokens, "") and not token_is_valid(tokens, None)
    assert not token_is_valid(tokens, ["list"]) and not token_is_valid(tokens, "é")
    assert not token_is_valid(split_tokens(""), "")
