"""Label suspects: photos whose given label an out-of-fold classifier disagrees with.

Per task, a logistic regression on the photos' features (fire8 and fire9, pooled) is fitted k times, each time on the photos
outside one fold, and predicts that fold; so no photo is judged by a classifier that saw its own
label. Folds keep each near-duplicate group together, or a copy would vouch for itself. The
score is the margin p(suggested) - p(given) in (0, 1], comparable across tasks (cleanlab's
"normalized margin"). Unknown labels (-1) are never judged, nor are photos of a class with fewer
than FOLDS photos (no fold could learn it).
"""

from __future__ import annotations

import warnings

import numpy as np
from sklearn.linear_model import LogisticRegression
from sklearn.model_selection import StratifiedGroupKFold
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

from .entries import Entries

FOLDS = 5
C = 0.1  # L2 strength of the probe: chosen by out-of-fold accuracy on the 5x6 photos
METHOD = (f"{FOLDS}-fold out-of-fold logistic regression (C={C}) on fire8 + fire9 features, folds keeping duplicate "
          "groups together; score = p(suggested) - p(given)")


def out_of_fold(features: np.ndarray, labels: np.ndarray, groups: np.ndarray, seed: int = 0) -> np.ndarray:
    """(N, classes) probabilities, each row predicted by a model fitted without that row's fold."""
    classes = int(labels.max()) + 1
    probs = np.zeros((len(labels), classes))
    folds = StratifiedGroupKFold(FOLDS, shuffle=True, random_state=seed)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)  # "the least populated class has only N members"
        for fit, held in folds.split(features, labels, groups):
            model = make_pipeline(StandardScaler(), LogisticRegression(C=C, max_iter=2000))
            model.fit(features[fit], labels[fit])
            probs[np.ix_(held, model.classes_)] = model.predict_proba(features[held])
    return probs


def judged(labels: np.ndarray, ok: np.ndarray) -> np.ndarray:
    """Known labels of decodable photos whose class has at least FOLDS such photos."""
    known = ok & (labels >= 0)
    counts = np.bincount(labels[known], minlength=1)
    return known & (counts[np.maximum(labels, 0)] >= FOLDS)


def group_ids(n: int, duplicate_groups: list[list[int]]) -> np.ndarray:
    ids = np.arange(n)
    for group in duplicate_groups:
        ids[group] = group[0]
    return ids


def find_suspects(entries: Entries, features, ok, duplicate_groups) -> tuple[list[dict], dict[str, int]]:
    """(suspects of every task, most suspect first; photos judged per task)."""
    groups = group_ids(len(entries), duplicate_groups)
    suspects, counted = [], {}
    for t, task in enumerate(entries.classes.tasks):
        labels = entries.labels[:, t]
        rows = np.flatnonzero(judged(labels, ok))
        if len(np.unique(labels[rows])) < 2 or len(np.unique(groups[rows])) < FOLDS:
            counted[task] = 0  # one class, or too few photos for FOLDS folds: nothing to judge against
            continue
        counted[task] = len(rows)
        probs = out_of_fold(features[rows], labels[rows], groups[rows])
        for row, p, given in zip(rows, probs, labels[rows]):
            suggested = int(np.argmax(p))
            if suggested != given:
                suspects.append(_suspect(entries, int(row), task, int(given), suggested, p))
    suspects.sort(key=lambda s: -s["score"])
    return suspects, counted


def _suspect(entries: Entries, row: int, task: str, given: int, suggested: int, p: np.ndarray) -> dict:
    return {
        "path": entries.shown_path(row),
        "split": entries.splits[row],
        "line": entries.lines[row],
        "task": task,
        "given": entries.label_name(task, given),
        "suggested": entries.label_name(task, suggested),
        "score": round(float(p[suggested] - p[given]), 4),
    }
