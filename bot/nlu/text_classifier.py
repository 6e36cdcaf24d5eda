"""A message classifier on normalised text, shared by intents and themes.

Features: TF-IDF of words and word pairs and TF-IDF of character n-grams,
both on the normalised text (bot/nlu/normalize.py: no accents, SMS spellings
expanded, elisions split), plus the spaCy document vector when `SpacyNLP`
runs before. With `emphasis_weight` above 0, the part the writer stresses
(bot/nlu/emphasis.py) is added again with that weight to both TF-IDF parts.
Model: multinomial logistic regression (scikit-learn, already a Rasa
dependency), which trains in seconds on CPU and gives probabilities.

Subclasses say where the label of a training example comes from
(`label_of`) and where the prediction goes (`annotate`).
"""

from __future__ import annotations

import json
import logging
from pathlib import Path
from typing import Any, Dict, List, Optional, Text, Tuple

import numpy as np
from scipy.sparse import csr_matrix, hstack
from sklearn.feature_extraction.text import CountVectorizer, TfidfVectorizer
from sklearn.linear_model import LogisticRegression
from sklearn.preprocessing import normalize as l2_normalize

from rasa.engine.graph import ExecutionContext, GraphComponent
from rasa.engine.storage.resource import Resource
from rasa.engine.storage.storage import ModelStorage
from rasa.shared.nlu.constants import TEXT
from rasa.shared.nlu.training_data.message import Message
from rasa.shared.nlu.training_data.training_data import TrainingData

from bot.nlu.emphasis import stressed_part
from bot.nlu.normalize import normalize

logger = logging.getLogger(__name__)

SPACY_DOC = "text_spacy_doc"
STATE_FILE = "text_classifier.json"
ARRAYS_FILE = "text_classifier.npz"
# The TF-IDF parts of the features, in their order (see `_vectorizers`).
TFIDF_PARTS = ("words", "chars")

Ranking = List[Dict[str, Any]]


def tfidf(vectorizer: TfidfVectorizer, idf: np.ndarray, texts: List[str]) -> csr_matrix:
    """`vectorizer.transform(texts)`, without recomputing the idf vector at
    every call (scikit-learn 1.1 sums its diagonal matrix each time)."""
    matrix = CountVectorizer.transform(vectorizer, texts).astype(np.float64)
    if vectorizer.sublinear_tf:
        np.log(matrix.data, matrix.data)
        matrix.data += 1
    matrix.data *= idf[matrix.indices]
    return l2_normalize(matrix, norm=vectorizer.norm, copy=False)


def fast_ready(model: Dict[str, Any]) -> Dict[str, Any]:
    """Precompute what every prediction needs: the idf vectors, and the
    classifier's weights in Fortran order, so that the sparse product with
    their transpose reads them in place instead of copying the whole matrix
    (a quarter of the parse time before)."""
    model["idf"] = {name: np.asarray(model[name].idf_) for name in TFIDF_PARTS}
    classifier = model.get("classifier")
    if classifier is not None:
        classifier.coef_ = np.asfortranarray(classifier.coef_)
    return model


class TextClassifier(GraphComponent):
    """Base class: train, persist, load and rank; labels are the subclass's business."""

    @staticmethod
    def get_default_config() -> Dict[Text, Any]:
        return {
            "C": 8.0,
            "char_ngram_range": [2, 5],
            "word_ngram_range": [1, 2],
            "use_spacy_vectors": True,
            "spacy_weight": 1.0,
            "emphasis_weight": 0.0,
            "random_state": 42,
        }

    def __init__(
        self,
        config: Dict[Text, Any],
        model_storage: ModelStorage,
        resource: Resource,
        labels: Optional[List[str]] = None,
        model: Optional[Dict[str, Any]] = None,
    ) -> None:
        self.config = {**self.get_default_config(), **config}
        self._model_storage = model_storage
        self._resource = resource
        self.labels = labels or []
        self.model = model

    @classmethod
    def create(
        cls,
        config: Dict[Text, Any],
        model_storage: ModelStorage,
        resource: Resource,
        execution_context: ExecutionContext,
    ) -> "TextClassifier":
        return cls(config, model_storage, resource)

    # -- to be provided by subclasses ----------------------------------------

    def label_of(self, message: Message) -> Optional[str]:
        """The label of a training example, or None to leave it out."""
        raise NotImplementedError

    def all_labels(self, training_data: TrainingData, seen: List[str]) -> List[str]:
        """Every label the ranking must cover (at least those seen in training)."""
        return seen

    def annotate(self, message: Message, ranking: Ranking) -> None:
        """Write the ranking (best first) onto the message."""
        raise NotImplementedError

    # -- features ------------------------------------------------------------

    def _vectorizers(self) -> Dict[str, TfidfVectorizer]:
        """The two TF-IDF parts, unfitted: `train` fits them, `load` restores them."""
        return {
            "words": TfidfVectorizer(ngram_range=tuple(self.config["word_ngram_range"]), sublinear_tf=True),
            "chars": TfidfVectorizer(
                analyzer="char_wb",
                ngram_range=tuple(self.config["char_ngram_range"]),
                sublinear_tf=True,
                min_df=2,
            ),
        }

    def _classifier(self) -> LogisticRegression:
        return LogisticRegression(
            C=float(self.config["C"]),
            max_iter=3000,
            class_weight="balanced",
            random_state=int(self.config["random_state"]),
        )

    def _spacy_matrix(self, messages: List[Message]) -> Optional[csr_matrix]:
        vectors = []
        for message in messages:
            doc = message.get(SPACY_DOC)
            if doc is None or not getattr(doc, "has_vector", False):
                return None
            vector = np.asarray(doc.vector, dtype=np.float32)
            norm = np.linalg.norm(vector)
            vectors.append(vector / norm if norm else vector)
        return csr_matrix(np.vstack(vectors) * float(self.config["spacy_weight"]))

    def _features(self, messages: List[Message]) -> csr_matrix:
        raw = [message.get(TEXT) or "" for message in messages]
        texts = [normalize(text) for text in raw]
        parts = [tfidf(self.model[name], self.model["idf"][name], texts) for name in TFIDF_PARTS]
        weight = float(self.config["emphasis_weight"])
        stressed = [normalize(stressed_part(text)) for text in raw] if weight else []
        if any(stressed):
            parts = [
                part + weight * tfidf(self.model[name], self.model["idf"][name], stressed)
                for part, name in zip(parts, TFIDF_PARTS)
            ]
        if self.model["spacy_dim"]:
            dense = self._spacy_matrix(messages)
            if dense is None:
                dense = csr_matrix((len(messages), self.model["spacy_dim"]), dtype=np.float32)
            parts.append(dense)
        return hstack(parts).tocsr()

    # -- training ------------------------------------------------------------

    def train(self, training_data: TrainingData) -> Resource:
        examples: List[Tuple[Message, str]] = []
        for message in training_data.training_examples:
            label = self.label_of(message)
            if label is not None:
                examples.append((message, label))
        seen = sorted({label for _, label in examples})
        self.labels = self.all_labels(training_data, seen)
        if len(seen) < 2:
            logger.warning("%s needs examples of two labels at least.", type(self).__name__)
            self.model = None
            self.persist()
            return self._resource

        messages = [message for message, _ in examples]
        texts = [normalize(message.get(TEXT) or "") for message in messages]
        self.model = {name: vectorizer.fit(texts) for name, vectorizer in self._vectorizers().items()}
        self.model["spacy_dim"] = 0
        fast_ready(self.model)
        if self.config["use_spacy_vectors"]:
            dense = self._spacy_matrix(messages)
            if dense is not None:
                self.model["spacy_dim"] = dense.shape[1]
        classifier = self._classifier()
        classifier.fit(self._features(messages), [label for _, label in examples])
        self.model["classifier"] = classifier
        self.persist()
        fast_ready(self.model)
        return self._resource

    # -- inference -----------------------------------------------------------

    def rank(self, messages: List[Message]) -> List[Ranking]:
        """A ranking over all labels, best first, for each message."""
        if self.model is None:
            fallback = self.labels[:1]
            return [
                [{"name": label, "confidence": 1.0 if label in fallback else 0.0} for label in self.labels]
                for _ in messages
            ]
        classifier = self.model["classifier"]
        probabilities = classifier.predict_proba(self._features(messages))
        rankings = []
        for row in probabilities:
            scores = {label: 0.0 for label in self.labels}
            scores.update({label: float(p) for label, p in zip(classifier.classes_, row)})
            ranking = [{"name": name, "confidence": round(score, 6)} for name, score in scores.items()]
            ranking.sort(key=lambda item: -item["confidence"])
            rankings.append(ranking)
        return rankings

    def process(self, messages: List[Message]) -> List[Message]:
        if messages:
            for message, ranking in zip(messages, self.rank(messages)):
                self.annotate(message, ranking)
        return messages

    # -- persistence ---------------------------------------------------------
    # Plain JSON (labels, vocabularies) and NumPy arrays (idf, weights), read
    # back without pickle. It loads in a fraction of a second, where a generic
    # safe format (skops) took about ten for the two classifiers, walking the
    # vocabularies item by item.

    def persist(self) -> None:
        with self._model_storage.write_to(self._resource) as directory:
            state: Dict[str, Any] = {"labels": self.labels, "model": None}
            if self.model is not None:
                classifier = self.model["classifier"]
                state["model"] = {
                    "spacy_dim": int(self.model["spacy_dim"]),
                    "classes": [str(label) for label in classifier.classes_],
                    "vocabulary": {
                        name: {term: int(index) for term, index in self.model[name].vocabulary_.items()}
                        for name in TFIDF_PARTS
                    },
                }
                np.savez(
                    Path(directory) / ARRAYS_FILE,
                    coef=classifier.coef_,
                    intercept=classifier.intercept_,
                    **{f"idf_{name}": self.model[name].idf_ for name in TFIDF_PARTS},
                )
            (Path(directory) / STATE_FILE).write_text(json.dumps(state, ensure_ascii=False), encoding="utf-8")

    @classmethod
    def load(
        cls,
        config: Dict[Text, Any],
        model_storage: ModelStorage,
        resource: Resource,
        execution_context: ExecutionContext,
        **kwargs: Any,
    ) -> "TextClassifier":
        component = cls(config, model_storage, resource)
        with model_storage.read_from(resource) as directory:
            state = json.loads((Path(directory) / STATE_FILE).read_text(encoding="utf-8"))
            saved = state["model"]
            if saved is not None:
                with np.load(Path(directory) / ARRAYS_FILE, allow_pickle=False) as arrays:
                    arrays = dict(arrays)
        component.labels = state["labels"]
        if saved is None:
            return component
        model: Dict[str, Any] = component._vectorizers()
        for name, vectorizer in model.items():
            vectorizer.vocabulary_ = saved["vocabulary"][name]
            vectorizer.idf_ = arrays[f"idf_{name}"]
        classifier = component._classifier()
        classifier.classes_ = np.array(saved["classes"])
        classifier.coef_ = arrays["coef"]
        classifier.intercept_ = arrays["intercept"]
        classifier.n_features_in_ = classifier.coef_.shape[1]
        model["classifier"] = classifier
        model["spacy_dim"] = saved["spacy_dim"]
        component.model = fast_ready(model)
        return component
