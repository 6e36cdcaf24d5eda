"""bot/nlu/intent_resolver.py: unsure or off-subject intents settled by what the message shows."""

from __future__ import annotations

import pytest
from rasa.shared.nlu.training_data.message import Message

from bot.nlu.intent_resolver import IntentResolver, detail_share, resolve


def entity(kind, text, value):
    start = text.lower().index(value.lower())
    return {"entity": kind, "start": start, "end": start + len(value), "value": value}


def ranking(*pairs):
    return [{"name": name, "confidence": confidence} for name, confidence in pairs]


@pytest.mark.parametrize("text, kind, value, intent", [
    ("a brest", "location", "brest", "out_of_scope"),
    ("à Quimperlé", "location", "Quimperlé", "nlu_fallback"),
    ("depuis janvier", "since", "depuis janvier", "gibberish"),
    ("tous les matins !", "frequency", "tous les matins", "nlu_fallback"),
])
def test_a_message_made_of_a_detail_is_an_answer(text, kind, value, intent):
    found = resolve(text, {"name": intent, "confidence": 0.4},
                    ranking((intent, 0.4), ("inform", 0.2)), [entity(kind, text, value)])
    assert found == {"name": "inform", "confidence": 0.2}


@pytest.mark.parametrize("text, kind, value, intent", [
    # Off the subject, a commune or not: the detail is a small part of it.
    ("quel temps fera-t-il demain à Brest pour le match", "location", "Brest", "out_of_scope"),
    # A detail inside a greeting or a thanks: those stay what they are.
    ("merci Brest", "location", "Brest", "thanks"),
    ("bonjour", "location", "", "greet"),
])
def test_other_messages_keep_their_intent(text, kind, value, intent):
    entities = [entity(kind, text, value)] if value else []
    assert resolve(text, {"name": intent, "confidence": 0.5}, ranking((intent, 0.5)), entities) is None


def test_unsure_between_telling_intents_takes_the_likelier():
    text = "je n'arrive pas à me connecter au site de la région avec FranceConnect depuis octobre"
    scores = ranking(("nlu_fallback", 0.35), ("describe_irritant", 0.495), ("inform", 0.472), ("correct", 0.01))
    assert resolve(text, scores[0], scores, []) == {"name": "describe_irritant", "confidence": 0.495}
    # Unsure between telling and something else: the fallback stands.
    scores = ranking(("nlu_fallback", 0.35), ("describe_irritant", 0.45), ("cancel", 0.44))
    assert resolve(text, scores[0], scores, []) is None
    # Both telling intents, but neither likely: the fallback stands.
    scores = ranking(("nlu_fallback", 0.35), ("inform", 0.3), ("describe_irritant", 0.25), ("deny", 0.2))
    assert resolve(text, scores[0], scores, []) is None


def test_detail_share_counts_letters_only():
    text = "à  Brest !!!"
    assert detail_share(text, [entity("location", text, "Brest")]) == pytest.approx(5 / 6)
    assert detail_share("", []) == 0.0
    assert detail_share("Brest", [{"entity": "theme", "start": 0, "end": 5}]) == 0.0


def test_the_component_sets_the_intent_on_the_message():
    message = Message.build("a brest")
    message.set("intent", {"name": "out_of_scope", "confidence": 0.36})
    message.set("intent_ranking", ranking(("out_of_scope", 0.36), ("inform", 0.11)))
    message.set("entities", [entity("location", "a brest", "brest")])
    IntentResolver().process([message])
    assert message.get("intent") == {"name": "inform", "confidence": 0.11}
    assert "intent" in message.output_properties


@pytest.mark.parametrize("intent", ["nlu_fallback", "out_of_scope", "describe_irritant"])
def test_keyboard_mash_is_gibberish(intent):
    found = resolve("fgfgfgfg", {"name": intent, "confidence": 0.4}, ranking((intent, 0.4)), [])
    assert found == {"name": "gibberish", "confidence": 1.0}
    assert resolve("fgfgfgfg", {"name": "gibberish", "confidence": 0.9}, ranking(("gibberish", 0.9)), []) is None
