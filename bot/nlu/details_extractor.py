"""Rasa component around bot/nlu/details.py: rule-based details win over CRF guesses.

Place it after the CRF and regex extractors. For each detail the rules find,
the learned entities that overlap it are dropped, except a learned place that
contains a commune ("gare de Rennes"): it stays, with the commune's official
name and INSEE code added.
"""

from __future__ import annotations

from typing import Any, Dict, List, Text

from rasa.engine.graph import ExecutionContext, GraphComponent
from rasa.engine.recipes.default_recipe import DefaultV1Recipe
from rasa.engine.storage.resource import Resource
from rasa.engine.storage.storage import ModelStorage
from rasa.shared.nlu.constants import ENTITIES, TEXT
from rasa.shared.nlu.training_data.message import Message
from rasa.shared.nlu.training_data.training_data import TrainingData

from bot.nlu.details import find_details

EXTRACTOR = "DetailsExtractor"


def merge(text: str, learned: List[Dict[str, Any]]) -> List[Dict[str, Any]]:
    kept = list(learned)
    added = []
    for span in find_details(text):
        contained_in = [
            e for e in kept
            if span.entity == "location" and e.get("entity") == "location"
            and e["start"] <= span.start and span.end <= e["end"] and (e["end"] - e["start"]) > (span.end - span.start)
        ]
        if contained_in:
            for entity in contained_in:
                entity.setdefault("additional_info", {}).update(span.info)
            continue
        kept = [e for e in kept if e.get("end", 0) <= span.start or e.get("start", 0) >= span.end]
        added.append(span.as_entity(text, EXTRACTOR))
    return sorted(kept + added, key=lambda e: e.get("start", 0))


@DefaultV1Recipe.register(
    [DefaultV1Recipe.ComponentType.ENTITY_EXTRACTOR], is_trainable=False
)
class DetailsExtractor(GraphComponent):
    """Frequency, since, service, who is affected and commune of Brittany, with normalised values."""

    @classmethod
    def create(
        cls,
        config: Dict[Text, Any],
        model_storage: ModelStorage,
        resource: Resource,
        execution_context: ExecutionContext,
    ) -> "DetailsExtractor":
        return cls()

    def process(self, messages: List[Message]) -> List[Message]:
        for message in messages:
            text = message.get(TEXT) or ""
            message.set(ENTITIES, merge(text, message.get(ENTITIES) or []), add_to_output=True)
        return messages

    def process_training_data(self, training_data: TrainingData) -> TrainingData:
        return training_data
