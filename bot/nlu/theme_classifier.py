"""Theme classifier: adds `theme` and `theme_ranking` to every parse result.

Training examples carry their theme in their metadata, as written in
`nlu_data/themes/*.yml`:

    - intent: describe_irritant
      metadata: {theme: transports, register: sms_typos}
      examples: |
        - le car passe jamais

The ranking always covers every theme id of `themes.yml`, best first
(DESIGN.md contract 2).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Dict, List, Optional, Text

from rasa.engine.recipes.default_recipe import DefaultV1Recipe
from rasa.shared.nlu.training_data.message import Message
from rasa.shared.nlu.training_data.training_data import TrainingData

from backlog.themes import theme_ids
from bot.nlu.text_classifier import Ranking, TextClassifier

THEME = "theme"
THEME_RANKING = "theme_ranking"
FALLBACK_THEME = "autre"


def example_theme(message: Message) -> Optional[str]:
    """The theme label of a training example, from its metadata."""
    metadata = message.get("metadata") or {}
    for level in ("example", "intent"):
        value = (metadata.get(level) or {}).get(THEME)
        if value:
            return str(value)
    return None


@DefaultV1Recipe.register(
    [DefaultV1Recipe.ComponentType.INTENT_CLASSIFIER], is_trainable=True
)
class ThemeClassifier(TextClassifier):
    """Classify the irritant of a message into a theme of `themes.yml`."""

    @staticmethod
    def get_default_config() -> Dict[Text, Any]:
        # Routing rule 5: the topic the writer stresses wins (bot/nlu/emphasis.py).
        return {**TextClassifier.get_default_config(), "themes_file": "themes.yml", "emphasis_weight": 1.0}

    def label_of(self, message: Message) -> Optional[str]:
        return example_theme(message)

    def all_labels(self, training_data: TrainingData, seen: List[str]) -> List[str]:
        themes = theme_ids(Path(self.config["themes_file"]))
        unknown = sorted(set(seen) - set(themes))
        if unknown:
            raise ValueError(f"themes not in {self.config['themes_file']}: {unknown}")
        # The fallback theme first: it is what an untrained model says.
        return sorted(themes, key=lambda theme: theme != FALLBACK_THEME)

    def annotate(self, message: Message, ranking: Ranking) -> None:
        message.set(THEME, dict(ranking[0]), add_to_output=True)
        message.set(THEME_RANKING, ranking, add_to_output=True)

