"""Settles two kinds of unsure intents with what the message itself shows.

Runs after Rasa's `FallbackClassifier`:

- A message made mostly of a detail the report needs (a commune, "depuis
  janvier", "tous les matins", "mes enfants") is an answer, `inform`, even
  when the classifier leans to `out_of_scope`, `gibberish` or is unsure:
  "a brest" is where the problem is, not a question off the subject.
- An unsure message whose two likeliest intents are `describe_irritant` and
  `inform` is the likelier of the two: both are the person telling about
  the problem, and the conversation handles them the same way. The fallback
  would make the person repeat a long description for nothing.
- A message of keyboard mash ("zerzerzer", "qsdfqsdf", "1234") is
  `gibberish`, whatever the classifier leaned to (bot/nlu/keyboard_mash.py):
  the conversation never keeps it as an answer.

Everything else is left as the classifiers and the fallback said.
"""

from __future__ import annotations

from typing import Any, Dict, List, Optional, Text

from rasa.engine.graph import ExecutionContext, GraphComponent
from rasa.engine.recipes.default_recipe import DefaultV1Recipe
from rasa.engine.storage.resource import Resource
from rasa.engine.storage.storage import ModelStorage
from rasa.shared.nlu.constants import (
    ENTITIES,
    ENTITY_ATTRIBUTE_END,
    ENTITY_ATTRIBUTE_START,
    ENTITY_ATTRIBUTE_TYPE,
    INTENT,
    INTENT_NAME_KEY,
    PREDICTED_CONFIDENCE_KEY,
    TEXT,
)
from rasa.shared.nlu.training_data.message import Message

from bot.nlu.keyboard_mash import is_keyboard_mash

FALLBACK = "nlu_fallback"
GIBBERISH = "gibberish"
INFORM = "inform"
TELLING = frozenset({"describe_irritant", INFORM})
# Intents that a message made of a detail overrides.
NOT_AN_ANSWER = frozenset({FALLBACK, "out_of_scope", GIBBERISH})
DETAILS = frozenset({"location", "service", "frequency", "since", "affected"})
# Share of the message's letters and digits that the details must cover.
DETAIL_SHARE = 0.5
# Together, describe_irritant and inform must be this likely.
TELLING_SHARE = 0.7


def _letters(text: str) -> int:
    return sum(character.isalnum() for character in text)


def detail_share(text: str, entities: List[Dict[str, Any]]) -> float:
    """How much of the message the detail entities cover (0 to 1)."""
    total = _letters(text)
    if not total:
        return 0.0
    covered = [False] * len(text)
    for entity in entities:
        if entity.get(ENTITY_ATTRIBUTE_TYPE) not in DETAILS:
            continue
        start, end = entity.get(ENTITY_ATTRIBUTE_START), entity.get(ENTITY_ATTRIBUTE_END)
        if isinstance(start, int) and isinstance(end, int):
            for index in range(max(start, 0), min(end, len(text))):
                covered[index] = True
    return sum(1 for index, character in enumerate(text) if covered[index] and character.isalnum()) / total


def resolve(text: str, intent: Dict[str, Any], ranking: List[Dict[str, Any]],
            entities: List[Dict[str, Any]]) -> Optional[Dict[str, Any]]:
    """The intent to use instead of `intent`, or None to keep it."""
    name = intent.get(INTENT_NAME_KEY)
    if name in NOT_AN_ANSWER and detail_share(text, entities) >= DETAIL_SHARE:
        confidence = next((i[PREDICTED_CONFIDENCE_KEY] for i in ranking if i.get(INTENT_NAME_KEY) == INFORM), 0.0)
        return {INTENT_NAME_KEY: INFORM, PREDICTED_CONFIDENCE_KEY: float(confidence)}
    if name != GIBBERISH and is_keyboard_mash(text):
        return {INTENT_NAME_KEY: GIBBERISH, PREDICTED_CONFIDENCE_KEY: 1.0}
    if name == FALLBACK:
        learned = [i for i in ranking if i.get(INTENT_NAME_KEY) != FALLBACK][:2]
        if (len(learned) == 2 and {i[INTENT_NAME_KEY] for i in learned} == TELLING
                and sum(i[PREDICTED_CONFIDENCE_KEY] for i in learned) >= TELLING_SHARE):
            return dict(learned[0])
    return None


@DefaultV1Recipe.register([DefaultV1Recipe.ComponentType.INTENT_CLASSIFIER], is_trainable=False)
class IntentResolver(GraphComponent):
    """Replaces an unsure or off-subject intent when the message shows what it is."""

    @classmethod
    def create(
        cls,
        config: Dict[Text, Any],
        model_storage: ModelStorage,
        resource: Resource,
        execution_context: ExecutionContext,
    ) -> "IntentResolver":
        return cls()

    def process(self, messages: List[Message]) -> List[Message]:
        for message in messages:
            intent = message.get(INTENT) or {}
            better = resolve(
                message.get(TEXT) or "", intent, message.get("intent_ranking") or [], message.get(ENTITIES) or []
            )
            if better is not None:
                message.set(INTENT, better, add_to_output=True)
        return messages
