"""Running a trained model over a split file: probabilities per photo, then the full report."""

from __future__ import annotations

import numpy as np

from ..data import pipeline
from ..data.splits import Split, read_split
from ..spec import ModelSpec
from .metrics import evaluate


def read_split_for(trained, path) -> Split:
    """A split file read with the data's classes, narrowed to the tasks this model answers."""
    return read_split(path, trained.all_classes).only(trained.classes.tasks)


def predict_split(probability_fn, split: Split, spec: ModelSpec, batch_size: int, dataset=None):
    """Run the model over a split. Returns ({task: probs (M, C)}, labels (M, tasks), rows (M,)):
    M <= N photos decode, and rows[i] is the split row of the i-th scored photo."""
    dataset = dataset if dataset is not None else pipeline.evaluation_dataset(split, spec, batch_size)
    probs: dict[str, list[np.ndarray]] = {task: [np.zeros((0, len(names)))] for task, names in split.classes.by_task.items()}
    labels, rows = [np.zeros((0, len(split.classes.tasks)), np.int32)], [np.zeros(0, np.int32)]
    for images, batch_labels, batch_rows in dataset:
        for task, value in probability_fn(images).items():
            probs[task].append(np.asarray(value))
        labels.append(batch_labels.numpy())
        rows.append(batch_rows.numpy())
    return {task: np.concatenate(value) for task, value in probs.items()}, np.concatenate(labels), np.concatenate(rows)


def score_model(trained, split: Split, batch_size: int) -> dict:
    """The full report of a loaded model (any kind: inference.load_predictor) on a split it has read."""
    probs, labels, rows = predict_split(trained.probabilities, split, trained.spec, batch_size)
    photos = [(split.paths[row], split.line_numbers[row]) for row in rows]
    report = evaluate(probs, labels, trained.classes, len(split), photos)
    return report | {"split": str(split.source), "model": str(trained.source), "model_kind": trained.kind, "flip_tta": trained.flip_tta}
