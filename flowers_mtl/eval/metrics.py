"""Scoring predictions against labels, with numpy and scikit-learn only: per-task accuracy,
macro-F1, per-class precision/recall, confusion matrices, the share of photos with every task
right, and the most confident mistakes (where label noise shows first).

Unknown labels (-1) are left out of their task's scores and counted; photos that fail to decode
are left out of everything and counted.
"""

from __future__ import annotations

import numpy as np
from sklearn.metrics import accuracy_score, confusion_matrix, f1_score, precision_recall_fscore_support

from ..data.splits import UNKNOWN
from ..spec import ClassNames

MISTAKES_LISTED = 10


def loss_and_accuracy(probs: dict[str, np.ndarray], labels: np.ndarray, tasks) -> dict[str, dict[str, float]]:
    """Per task masked cross-entropy and accuracy: the cheap figures shown every epoch."""
    result = {}
    for i, task in enumerate(tasks):
        known = labels[:, i] != UNKNOWN
        y, p = labels[known, i], probs[task][known]
        if len(y) == 0:
            result[task] = {"loss": float("nan"), "accuracy": float("nan"), "n": 0}
            continue
        picked = np.clip(p[np.arange(len(y)), y], 1e-12, 1.0)
        result[task] = {
            "loss": float(-np.log(picked).mean()),
            "accuracy": float((p.argmax(axis=1) == y).mean()),
            "n": int(len(y)),
        }
    return result


def confident_mistakes(y_true: np.ndarray, probs: np.ndarray, names: tuple[str, ...], photos, limit: int) -> list[dict]:
    """The wrong answers the model was surest of, surest first. `photos[i]` is (path, line)."""
    predicted, confidence = probs.argmax(axis=1), probs.max(axis=1)
    wrong = np.flatnonzero((y_true != UNKNOWN) & (predicted != y_true))
    worst = wrong[np.argsort(-confidence[wrong], kind="stable")][:limit]
    return [
        {
            "path": photos[i][0],
            "line": int(photos[i][1]),
            "true": names[y_true[i]],
            "predicted": names[predicted[i]],
            "confidence": round(float(confidence[i]), 4),
        }
        for i in worst
    ]


def task_report(y_true: np.ndarray, probs: np.ndarray, names: tuple[str, ...], photos=None) -> dict:
    known = y_true != UNKNOWN
    y, p = y_true[known], probs[known]
    report = {"n": int(known.sum()), "skipped_unknown": int((~known).sum())}
    if report["n"] == 0:
        return report | {"accuracy": None, "macro_f1": None, "per_class": {}, "confusion_matrix": []}
    predicted = p.argmax(axis=1)
    ids = list(range(len(names)))
    present = sorted(set(y.tolist()) | set(predicted.tolist()))
    precision, recall, f1, support = precision_recall_fscore_support(y, predicted, labels=ids, zero_division=0)
    report["accuracy"] = float(accuracy_score(y, predicted))
    # Macro over the classes that occur in the split or the predictions (sklearn's default set),
    # so a class absent from a small test split does not count as a zero.
    report["macro_f1"] = float(f1_score(y, predicted, labels=present, average="macro", zero_division=0))
    report["per_class"] = {
        name: {"precision": float(precision[i]), "recall": float(recall[i]), "f1": float(f1[i]), "support": int(support[i])}
        for i, name in enumerate(names)
    }
    report["confusion_matrix"] = confusion_matrix(y, predicted, labels=ids).tolist()
    if photos is not None:
        report["confident_mistakes"] = confident_mistakes(y_true, probs, names, photos, MISTAKES_LISTED)
    return report


def evaluate(probs: dict[str, np.ndarray], labels: np.ndarray, classes: ClassNames, n_listed: int, photos=None) -> dict:
    """The full report as a JSON-ready dict. `n_listed` is the split's line count; `photos`, when
    given, names each scored row as (path, line) so the confident mistakes can be listed."""
    report: dict = {"n": int(n_listed), "n_scored": int(len(labels)), "skipped_undecodable": int(n_listed - len(labels))}
    all_known = np.all(labels != UNKNOWN, axis=1)
    all_right = np.ones(len(labels), dtype=bool)
    for i, (task, names) in enumerate(classes.by_task.items()):
        report[task] = task_report(labels[:, i], probs[task], names, photos)
        all_right &= probs[task].argmax(axis=1) == labels[:, i]
    both_n = int(all_known.sum())
    report["both_correct"] = float((all_right & all_known).sum() / both_n) if both_n else None
    report["both_n"] = both_n
    return report
