"""The buttons of the domain's responses reach the person as written."""

from __future__ import annotations

import json

import pytest
from rasa.core.nlg.response import TemplatedNaturalLanguageGenerator
from rasa.shared.core.domain import Domain
from rasa.shared.core.events import SlotSet
from rasa.shared.core.trackers import DialogueStateTracker

from backlog.settings import PROJECT_ROOT

DOMAIN = Domain.load(str(PROJECT_ROOT / "bot" / "domain"))
WITH_ENTITIES = sorted(
    name for name, variants in DOMAIN.responses.items()
    if any("{" in button.get("payload", "") for variant in variants for button in variant.get("buttons", []))
)


def test_some_buttons_carry_entities():
    assert {"utter_ask_summary_ok", "utter_ask_change_field", "utter_ask_reporter_role"} <= set(WITH_ENTITIES)


@pytest.mark.parametrize("name", WITH_ENTITIES)
async def test_payloads_with_entities_are_sent_whole_and_log_no_error(name, monkeypatch):
    """Rasa fills {slot} placeholders in buttons too: a payload's JSON is
    written with doubled braces, or Rasa logs an error at every summary."""
    from rasa.core.nlg import interpolator

    def fail(*args, **kwargs):
        raise AssertionError(f"Rasa could not fill {name}: {kwargs}")

    monkeypatch.setattr(interpolator.structlogger, "exception", fail)
    tracker = DialogueStateTracker.from_events("s", [SlotSet("description", "le car ne passe pas")], DOMAIN.slots)
    response = await TemplatedNaturalLanguageGenerator(DOMAIN.responses).generate(
        name, tracker, "rest", summary="• Le problème : le car ne passe pas"
    )
    for button in response["buttons"]:
        payload = button["payload"]
        if "{" in payload:
            intent, _, entities = payload.partition("{")
            assert intent in ("/correct", "/inform")
            assert len(json.loads("{" + entities)) == 1
