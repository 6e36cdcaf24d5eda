"""Pure metrics for `make eval`: accuracy, top-k, F1, calibration, entities."""

from __future__ import annotations

from collections import Counter, defaultdict
from dataclasses import dataclass
from typing import Dict, Iterable, List, Optional, Sequence, Tuple


@dataclass(frozen=True)
class Prediction:
    """One labelled example and what a model said of it."""

    gold: str
    ranking: Tuple[Tuple[str, float], ...]  # (label, confidence), best first
    group: str = ""  # register, or any slice to report apart

    @property
    def predicted(self) -> str:
        return self.ranking[0][0] if self.ranking else ""

    @property
    def confidence(self) -> float:
        return self.ranking[0][1] if self.ranking else 0.0


def accuracy(predictions: Sequence[Prediction]) -> float:
    if not predictions:
        return 0.0
    return sum(p.predicted == p.gold for p in predictions) / len(predictions)


def top_k_accuracy(predictions: Sequence[Prediction], k: int) -> float:
    if not predictions:
        return 0.0
    hits = sum(p.gold in [label for label, _ in p.ranking[:k]] for p in predictions)
    return hits / len(predictions)


def f1_per_label(predictions: Sequence[Prediction], labels: Optional[Iterable[str]] = None) -> Dict[str, float]:
    """F1 of each label (0 for a label never predicted nor present)."""
    labels = sorted(set(labels or []) | {p.gold for p in predictions})
    true_pos: Counter = Counter()
    predicted: Counter = Counter()
    actual: Counter = Counter()
    for p in predictions:
        predicted[p.predicted] += 1
        actual[p.gold] += 1
        if p.predicted == p.gold:
            true_pos[p.gold] += 1
    scores = {}
    for label in labels:
        precision = true_pos[label] / predicted[label] if predicted[label] else 0.0
        recall = true_pos[label] / actual[label] if actual[label] else 0.0
        scores[label] = 2 * precision * recall / (precision + recall) if precision + recall else 0.0
    return scores


def macro_f1(predictions: Sequence[Prediction], labels: Optional[Iterable[str]] = None) -> float:
    """Mean F1 over the labels present in the gold data."""
    present = {p.gold for p in predictions}
    scores = f1_per_label(predictions, labels)
    values = [score for label, score in scores.items() if label in present]
    return sum(values) / len(values) if values else 0.0


def accuracy_per_group(predictions: Sequence[Prediction]) -> Dict[str, Tuple[float, int]]:
    groups: Dict[str, List[Prediction]] = defaultdict(list)
    for p in predictions:
        groups[p.group].append(p)
    return {group: (accuracy(items), len(items)) for group, items in sorted(groups.items())}


def calibration_bins(predictions: Sequence[Prediction], bins: int = 10) -> List[Tuple[float, float, int]]:
    """(mean confidence, accuracy, count) of each equal-width confidence bin."""
    buckets: List[List[Prediction]] = [[] for _ in range(bins)]
    for p in predictions:
        index = min(int(p.confidence * bins), bins - 1)
        buckets[index].append(p)
    result = []
    for bucket in buckets:
        if bucket:
            mean_conf = sum(p.confidence for p in bucket) / len(bucket)
            result.append((mean_conf, accuracy(bucket), len(bucket)))
        else:
            result.append((0.0, 0.0, 0))
    return result


def expected_calibration_error(predictions: Sequence[Prediction], bins: int = 10) -> float:
    """Weighted mean gap between confidence and accuracy over the bins."""
    total = len(predictions)
    if not total:
        return 0.0
    return sum(count / total * abs(conf - acc) for conf, acc, count in calibration_bins(predictions, bins) if count)


def confusion(predictions: Sequence[Prediction], labels: Sequence[str]) -> List[List[int]]:
    index = {label: i for i, label in enumerate(labels)}
    matrix = [[0] * len(labels) for _ in labels]
    for p in predictions:
        if p.gold in index and p.predicted in index:
            matrix[index[p.gold]][index[p.predicted]] += 1
    return matrix


Span = Tuple[int, int, str]


def entity_scores(gold: Sequence[Iterable[Span]], predicted: Sequence[Iterable[Span]]) -> Dict[str, Dict[str, float]]:
    """Precision, recall and F1 per entity type, on exact spans; "all" pools every type."""
    true_pos: Counter = Counter()
    n_pred: Counter = Counter()
    n_gold: Counter = Counter()
    for gold_spans, pred_spans in zip(gold, predicted):
        gold_set, pred_set = set(gold_spans), set(pred_spans)
        for span in gold_set:
            n_gold[span[2]] += 1
            n_gold["all"] += 1
        for span in pred_set:
            n_pred[span[2]] += 1
            n_pred["all"] += 1
            if span in gold_set:
                true_pos[span[2]] += 1
                true_pos["all"] += 1
    scores = {}
    for entity in sorted(set(n_gold) | set(n_pred)):
        precision = true_pos[entity] / n_pred[entity] if n_pred[entity] else 0.0
        recall = true_pos[entity] / n_gold[entity] if n_gold[entity] else 0.0
        f1 = 2 * precision * recall / (precision + recall) if precision + recall else 0.0
        scores[entity] = {"precision": precision, "recall": recall, "f1": f1, "support": n_gold[entity]}
    return scores
