"""Intent (dialogue act) classifier on normalised text.

Same features and model as the theme classifier (bot/nlu/text_classifier.py),
so SMS spellings, missing accents and typos are understood alike. Sets Rasa's
`intent` and `intent_ranking`, which the FallbackClassifier then reads.
"""

from __future__ import annotations

from typing import Optional

from rasa.engine.recipes.default_recipe import DefaultV1Recipe
from rasa.shared.nlu.constants import INTENT, INTENT_RANKING_KEY
from rasa.shared.nlu.training_data.message import Message

from bot.nlu.text_classifier import Ranking, TextClassifier

RANKING_LENGTH = 10


@DefaultV1Recipe.register(
    [DefaultV1Recipe.ComponentType.INTENT_CLASSIFIER], is_trainable=True
)
class IntentClassifier(TextClassifier):
    """Classify a message into one of the intents of the training data."""

    def label_of(self, message: Message) -> Optional[str]:
        return message.get(INTENT)

    def annotate(self, message: Message, ranking: Ranking) -> None:
        message.set(INTENT, dict(ranking[0]), add_to_output=True)
        message.set(INTENT_RANKING_KEY, ranking[:RANKING_LENGTH], add_to_output=True)
