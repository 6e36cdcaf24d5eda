"""Guards around the NLU pipeline for input nobody can classify.

`InputGuard` comes first in the pipeline: it cleans the text (markup, control
characters) and cuts very long messages, so that spaCy never sees a megabyte,
and notes what was wrong as `input_issue` on the parse result.
`InputIssueClassifier` comes last: when the message had no usable words or was
too long, it sets the intent `bad_input`, which the dialogue answers kindly
according to `input_issue`.
"""

from __future__ import annotations

from typing import Any, Dict, List, Optional, Text

from rasa.engine.graph import ExecutionContext, GraphComponent
from rasa.engine.recipes.default_recipe import DefaultV1Recipe
from rasa.engine.storage.resource import Resource
from rasa.engine.storage.storage import ModelStorage
from rasa.shared.nlu.constants import INTENT, INTENT_NAME_KEY, PREDICTED_CONFIDENCE_KEY, TEXT
from rasa.shared.nlu.training_data.message import Message
from rasa.shared.nlu.training_data.training_data import TrainingData

from backlog.sanitize import clean_text

INPUT_ISSUE = "input_issue"
BAD_INPUT_INTENT = "bad_input"
# Issues after which the message cannot be understood as it stands.
BLOCKING_ISSUES = ("empty", "too_long", "no_words")


def find_issue(raw: str, cleaned: str, max_characters: int) -> Optional[str]:
    """Name what is wrong with a message, or None when it is fine."""
    if not cleaned.strip():
        return "empty"
    if len(raw) > max_characters:
        return "too_long"
    if not any(ch.isalnum() for ch in cleaned):
        return "no_words"
    if cleaned != raw.strip():
        return "markup"
    return None


@DefaultV1Recipe.register(
    [DefaultV1Recipe.ComponentType.MESSAGE_TOKENIZER], is_trainable=False
)
class InputGuard(GraphComponent):
    """Clean and bound the text before any other component reads it."""

    @staticmethod
    def get_default_config() -> Dict[Text, Any]:
        return {"max_characters": 4000}

    def __init__(self, config: Dict[Text, Any]) -> None:
        self.max_characters = int(config["max_characters"])

    @classmethod
    def create(
        cls,
        config: Dict[Text, Any],
        model_storage: ModelStorage,
        resource: Resource,
        execution_context: ExecutionContext,
    ) -> "InputGuard":
        return cls({**cls.get_default_config(), **config})

    def process_training_data(self, training_data: TrainingData) -> TrainingData:
        return training_data

    def process(self, messages: List[Message]) -> List[Message]:
        for message in messages:
            raw = message.get(TEXT) or ""
            # Cut before cleaning so the cleaning itself stays cheap.
            cleaned = clean_text(raw[: self.max_characters * 2], self.max_characters)
            message.set(INPUT_ISSUE, find_issue(raw, cleaned, self.max_characters), add_to_output=True)
            message.set(TEXT, cleaned)
        return messages


@DefaultV1Recipe.register(
    [DefaultV1Recipe.ComponentType.INTENT_CLASSIFIER], is_trainable=False
)
class InputIssueClassifier(GraphComponent):
    """Set the intent `bad_input` for messages the guard found unusable."""

    @classmethod
    def create(
        cls,
        config: Dict[Text, Any],
        model_storage: ModelStorage,
        resource: Resource,
        execution_context: ExecutionContext,
    ) -> "InputIssueClassifier":
        return cls()

    def process(self, messages: List[Message]) -> List[Message]:
        for message in messages:
            if message.get(INPUT_ISSUE) in BLOCKING_ISSUES:
                intent = {INTENT_NAME_KEY: BAD_INPUT_INTENT, PREDICTED_CONFIDENCE_KEY: 1.0}
                message.set(INTENT, intent, add_to_output=True)
                message.set("intent_ranking", [intent], add_to_output=True)
                message.set("entities", [], add_to_output=True)
        return messages
