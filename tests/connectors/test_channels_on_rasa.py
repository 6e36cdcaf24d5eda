"""Both channels on the real Rasa server (with credentials.yml), talking to local fakes."""

from __future__ import annotations

import time
import uuid
from typing import Callable, Dict
from urllib.parse import quote

import pytest
import requests

from connectors.teams import sender_id as teams_sender_id
from scripts.personas import REFERENCE, RasaConversation, load_personas, play
from tests.connectors.conftest import channel_env
from tests.e2e.conftest import start_stack
from tests.e2e.test_personas import check

pytestmark = pytest.mark.e2e

MATTERMOST_TOKEN = "9jrxak1ykxrmnaed9cps9i4cim"


def wait_until(predicate: Callable[[], bool], timeout: float = 60.0) -> None:
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            raise AssertionError("condition not met in time")
        time.sleep(0.1)


@pytest.fixture(scope="module")
def stack(remote_fakes, tmp_path_factory):
    mattermost, microsoft = remote_fakes
    data = tmp_path_factory.mktemp("data")
    running = start_stack(
        tmp_path_factory,
        db_url=f"sqlite:///{data / 'backlog.db'}",
        tracker_url=f"sqlite:///{data / 'tracker.db'}",
        **channel_env(mattermost, microsoft, MATTERMOST_TOKEN),
    )
    yield running.env
    running.stop()


def rasa_url(env: Dict[str, str]) -> str:
    return f"http://127.0.0.1:{env['DIGOR_RASA_PORT']}"


def user_turns(env: Dict[str, str], sender: str) -> int:
    """How many user messages Rasa holds for this conversation."""
    answer = requests.get(
        f"{rasa_url(env)}/conversations/{quote(sender, safe=':')}/tracker",
        params={"token": env["DIGOR_RASA_TOKEN"]},
        timeout=30,
    )
    assert answer.status_code == 200, answer.text
    return sum(1 for event in answer.json().get("events", []) if event.get("event") == "user")


def test_mattermost_thread_on_the_real_server(stack, remote_fakes):
    mattermost, _ = remote_fakes
    user, channel_id = mattermost.new_id(), mattermost.new_id()
    root = mattermost.add_post(user, channel_id, "@digor bonjour")
    webhook = f"{rasa_url(stack)}/webhooks/mattermost_digor/webhook"
    form = {
        "token": MATTERMOST_TOKEN,
        "team_id": mattermost.new_id(),
        "channel_id": channel_id,
        "user_id": user,
        "user_name": "agent.dupont",
        "post_id": root,
        "text": "@digor bonjour",
        "trigger_word": "@digor",
    }

    answer = requests.post(webhook, data=form, timeout=30)

    assert answer.status_code == 200
    wait_until(lambda: any(p["root_id"] == root for p in mattermost.created))
    in_thread = [p for p in mattermost.created if p["root_id"] == root]
    assert "Bonjour" in " ".join(p["message"] for p in in_thread)

    before = len(in_thread)
    reply = mattermost.add_post(user, channel_id, "@digor le car de 7h ne passe jamais", root_id=root)
    requests.post(webhook, data={**form, "post_id": reply, "text": "@digor le car de 7h ne passe jamais"}, timeout=30)
    wait_until(lambda: len([p for p in mattermost.created if p["root_id"] == root]) > before)
    assert user_turns(stack, f"mattermost:{user}:{root}") == 2

    refused = requests.post(webhook, data={**form, "token": "x" * 26, "text": "@digor encore"}, timeout=30)
    assert refused.status_code == 401
    time.sleep(1)
    assert user_turns(stack, f"mattermost:{user}:{root}") == 2


def test_teams_on_the_real_server(stack, remote_fakes):
    _, microsoft = remote_fakes
    activity = {
        "type": "message",
        "id": "1700000000" + uuid.uuid4().hex[:6],
        "serviceUrl": microsoft.service_url,
        "channelId": "msteams",
        "from": {"id": "29:1" + uuid.uuid4().hex, "name": "Agent Dupont"},
        "conversation": {"conversationType": "personal", "id": "a:1" + uuid.uuid4().hex, "tenantId": microsoft.tenant_id},
        "recipient": {"id": "28:" + microsoft.app_id, "name": "Digor"},
        "text": "bonjour",
        "locale": "fr-FR",
    }
    endpoint = f"{rasa_url(stack)}/webhooks/teams/api/messages"
    sender = teams_sender_id(activity)

    forged = requests.post(
        endpoint, json=activity, headers={"Authorization": f"Bearer {microsoft.mint(key=microsoft.new_key())}"}, timeout=30
    )
    assert forged.status_code == 401
    assert user_turns(stack, sender) == 0

    answer = requests.post(endpoint, json=activity, headers={"Authorization": f"Bearer {microsoft.mint()}"}, timeout=30)

    assert answer.status_code == 200
    wait_until(lambda: any(a["reply_to"] == activity["id"] for a in microsoft.activities))
    replies = [a["body"] for a in microsoft.activities if a["reply_to"] == activity["id"]]
    assert "Bonjour" in " ".join(r.get("text", "") for r in replies)
    assert all(r["conversation"]["id"] == activity["conversation"]["id"] for r in replies)
    assert user_turns(stack, sender) == 1


AGENT_PERSONAS = [p for p in load_personas() if p.channel in ("mattermost", "teams")]


def mattermost_sender(stack, mattermost):
    """A send function posting in one Mattermost thread, and its conversation id."""
    user, channel_id, team = mattermost.new_id(), mattermost.new_id(), mattermost.new_id()
    thread: Dict[str, str] = {}

    def send(_sender: str, text: str) -> None:
        post = mattermost.add_post(user, channel_id, text, root_id=thread.get("root", ""))
        thread.setdefault("root", post)
        form = {"token": MATTERMOST_TOKEN, "team_id": team, "channel_id": channel_id,
                "user_id": user, "user_name": "agent.le-goff", "post_id": post,
                "text": text if text.startswith("@digor") else f"@digor {text}",
                "trigger_word": "@digor"}
        answer = requests.post(f"{rasa_url(stack)}/webhooks/mattermost_digor/webhook", data=form, timeout=30)
        assert answer.status_code == 200, answer.text

    def sender() -> str:
        return f"mattermost:{user}:{thread['root']}"

    return send, sender


def teams_sender(stack, microsoft):
    conversation = {"conversationType": "personal", "id": "a:1" + uuid.uuid4().hex,
                    "tenantId": microsoft.tenant_id}
    base = {"type": "message", "serviceUrl": microsoft.service_url, "channelId": "msteams",
            "from": {"id": "29:1" + uuid.uuid4().hex, "name": "Agent Le Goff"},
            "conversation": conversation, "recipient": {"id": "28:" + microsoft.app_id, "name": "Digor"},
            "locale": "fr-FR"}

    def send(_sender: str, text: str) -> None:
        activity = {**base, "id": "17" + uuid.uuid4().hex[:10], "text": text}
        answer = requests.post(f"{rasa_url(stack)}/webhooks/teams/api/messages", json=activity,
                               headers={"Authorization": f"Bearer {microsoft.mint()}"}, timeout=30)
        assert answer.status_code in (200, 201, 202), answer.text

    return send, lambda: teams_sender_id({**base, "id": "x", "text": ""})


@pytest.mark.parametrize("persona", AGENT_PERSONAS, ids=[p.name for p in AGENT_PERSONAS])
def test_agent_persona_files_a_ticket_through_its_channel(persona, stack, remote_fakes):
    mattermost, microsoft = remote_fakes
    send, sender = (mattermost_sender(stack, mattermost) if persona.channel == "mattermost"
                    else teams_sender(stack, microsoft))
    # The conversation id of Mattermost is known after the first post: open it first.
    send("", persona.opening[0])
    conversation = RasaConversation(rasa_url(stack), stack["DIGOR_RASA_TOKEN"], sender(), send=send)
    wait_until(lambda: conversation.requested_slot() is not None or bool(REFERENCE.search(
        " ".join(e.get("text") or "" for e in conversation.tracker().get("events", [])
                 if e.get("event") == "bot"))))
    conversation._seen_events = len(conversation.tracker().get("events") or [])
    persona.opening = persona.opening[1:]
    result = play(persona, conversation)
    transcript = "\n".join(f"> {t['user']}\n{t['bot']}" for t in result.transcript)
    assert result.error is None and result.filed, transcript
    assert result.user_messages + 1 <= 8, transcript
    found = requests.get(f"http://127.0.0.1:{stack['DIGOR_WEB_PORT']}/api/tickets/{result.reference}",
                         headers={"Authorization": f"Bearer {stack['DIGOR_API_TOKEN']}"}, timeout=30).json()
    check(persona.expect, found, transcript)
