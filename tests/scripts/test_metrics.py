import pytest

from scripts import metrics
from scripts.metrics import Prediction


def p(gold, *ranking, group=""):
    return Prediction(gold, tuple(ranking), group)


PREDICTIONS = [
    p("a", ("a", 0.9), ("b", 0.1), group="x"),
    p("a", ("b", 0.6), ("a", 0.4), group="x"),
    p("b", ("b", 0.8), ("a", 0.2), group="y"),
    p("c", ("a", 0.5), ("b", 0.3), ("c", 0.2), group="y"),
]


def test_accuracy_and_top_k():
    assert metrics.accuracy(PREDICTIONS) == 0.5
    assert metrics.top_k_accuracy(PREDICTIONS, 2) == 0.75
    assert metrics.top_k_accuracy(PREDICTIONS, 3) == 1.0
    assert metrics.accuracy([]) == 0.0


def test_f1_per_label_and_macro():
    scores = metrics.f1_per_label(PREDICTIONS)
    # a: precision 1/2, recall 1/2; b: precision 1/2, recall 1; c: 0.
    assert scores["a"] == pytest.approx(0.5)
    assert scores["b"] == pytest.approx(2 / 3)
    assert scores["c"] == 0.0
    assert metrics.macro_f1(PREDICTIONS) == pytest.approx((0.5 + 2 / 3 + 0) / 3)


def test_accuracy_per_group():
    assert metrics.accuracy_per_group(PREDICTIONS) == {"x": (0.5, 2), "y": (0.5, 2)}


def test_calibration_error():
    perfect = [p("a", ("a", 1.0))] * 4
    assert metrics.expected_calibration_error(perfect) == 0.0
    over_confident = [p("a", ("b", 0.95))] * 4
    assert metrics.expected_calibration_error(over_confident) == pytest.approx(0.95)
    bins = metrics.calibration_bins(PREDICTIONS, bins=2)
    assert [n for _, _, n in bins] == [0, 4]  # 0.5 and above fall in the upper half


def test_confusion_matrix():
    assert metrics.confusion(PREDICTIONS, ["a", "b", "c"]) == [[1, 1, 0], [0, 1, 0], [1, 0, 0]]


def test_entity_scores_on_exact_spans():
    gold = [[(0, 6, "location"), (10, 15, "since")], [(3, 6, "service")]]
    predicted = [[(0, 6, "location"), (10, 14, "since")], [(3, 6, "service"), (8, 9, "location")]]
    scores = metrics.entity_scores(gold, predicted)
    assert scores["location"]["precision"] == 0.5 and scores["location"]["recall"] == 1.0
    assert scores["since"]["recall"] == 0.0
    assert scores["all"]["precision"] == pytest.approx(2 / 4)
    assert scores["all"]["recall"] == pytest.approx(2 / 3)
