"""The health channel's message wrapper: a failed message is answered in French."""

from __future__ import annotations

from types import SimpleNamespace

import pytest
from rasa.core.channels.channel import CollectingOutputChannel, UserMessage
from sqlalchemy.exc import OperationalError

from connectors import health
from connectors.common import ask_rasa
from connectors.health import SERVICE_UNAVAILABLE, instrument


def agent_that(outcome):
    """A stand-in for Rasa's Agent whose handle_message answers or raises."""

    async def handle_message(message: UserMessage):
        if isinstance(outcome, Exception):
            raise outcome
        await message.output_channel.send_text_message(message.sender_id, outcome)

    return SimpleNamespace(handle_message=handle_message)


def count(channel: str, outcome: str) -> float:
    return health.MESSAGES.labels(channel, outcome)._value.get()


async def test_a_failed_message_is_answered_in_french_then_still_fails():
    down = OperationalError("SELECT 1", {}, Exception("connection refused"))
    agent = agent_that(down)
    instrument(agent)
    errors = count("rest-test", "error")
    collector = CollectingOutputChannel()
    with pytest.raises(OperationalError):
        await agent.handle_message(UserMessage("oui", collector, "s1", input_channel="rest-test"))
    # What Rasa's REST channel returns after the failure: the French notice, not [].
    assert collector.messages == [{"recipient_id": "s1", "text": SERVICE_UNAVAILABLE}]
    assert "Rien n'est perdu" in SERVICE_UNAVAILABLE
    assert count("rest-test", "error") == errors + 1


async def test_a_handled_message_gets_no_notice():
    agent = agent_that("Bonjour.")
    instrument(agent)
    collector = CollectingOutputChannel()
    await agent.handle_message(UserMessage("bonjour", collector, "s1", input_channel="rest-test"))
    assert [message["text"] for message in collector.messages] == ["Bonjour."]


async def test_a_broken_output_channel_does_not_hide_the_failure():
    class Broken(CollectingOutputChannel):
        async def send_text_message(self, recipient_id, text, **kwargs):
            raise ConnectionResetError("client gone")

    agent = agent_that(RuntimeError("tracker store down"))
    instrument(agent)
    with pytest.raises(RuntimeError, match="tracker store down"):
        await agent.handle_message(UserMessage("oui", Broken(), "s1", input_channel="rest-test"))


async def test_the_channels_of_connectors_keep_their_own_answer():
    """ask_rasa drops what was collected before a failure: the widget, the desk,
    Teams and Mattermost answer with their own notice, never twice."""
    agent = agent_that(RuntimeError("tracker store down"))
    instrument(agent)
    assert await ask_rasa(agent.handle_message, "oui", "s1", "widget") is None


def test_the_notice_reads_like_the_other_channels_one():
    """Same opening as connectors.common.UNAVAILABLE, so whoever looks for that
    notice (people, tests of hostile input) finds it on the REST channel too."""
    from connectors.common import UNAVAILABLE

    opening = "Le service ne répond pas pour le moment."
    assert UNAVAILABLE.startswith(opening) and SERVICE_UNAVAILABLE.startswith(opening)
