"""Scoring a model on a split: per-task accuracy, macro-F1, per-class precision/recall,
confusion matrices, the share of photos with every task right, and the most confident
mistakes (where label noise shows first).

Unknown labels (-1) are left out of their task's scores and counted; photos that fail to decode
are left out of everything and counted.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
from sklearn.metrics import accuracy_score, confusion_matrix, f1_score, precision_recall_fscore_support

from . import pipeline
from .splits import UNKNOWN, ClassNames, Split


MISTAKES_LISTED = 10


def predict_split(probability_fn, split: Split, image_size: int, batch_size: int, dataset=None):
    """Run the model over a split. Returns ({task: probs (M, C)}, labels (M, tasks), rows (M,)):
    M <= N photos decode, and rows[i] is the split row of the i-th scored photo."""
    dataset = dataset if dataset is not None else pipeline.evaluation_dataset(split, image_size, batch_size)
    probs: dict[str, list[np.ndarray]] = {task: [np.zeros((0, len(names)))] for task, names in split.classes.by_task.items()}
    labels, rows = [np.zeros((0, len(split.classes.tasks)), np.int32)], [np.zeros(0, np.int32)]
    for images, batch_labels, batch_rows in dataset:
        for task, value in probability_fn(images).items():
            probs[task].append(np.asarray(value))
        labels.append(batch_labels.numpy())
        rows.append(batch_rows.numpy())
    return {task: np.concatenate(value) for task, value in probs.items()}, np.concatenate(labels), np.concatenate(rows)


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


def score_model(trained, split: Split, batch_size: int) -> dict:
    """The full report of a trained model (modeldir.TrainedModel) on a split it has read."""
    probs, labels, rows = predict_split(trained.probabilities, split, trained.image_size, batch_size)
    photos = [(split.paths[row], split.line_numbers[row]) for row in rows]
    report = evaluate(probs, labels, trained.classes, len(split), photos)
    return report | {"split": str(split.source), "model": str(trained.folder), "flip_tta": trained.flip_tta}


def format_report(report: dict, classes: ClassNames) -> str:
    """A human-readable version of the report."""
    lines = [
        f"photos: {report['n']} listed, {report['n_scored']} scored, {report['skipped_undecodable']} skipped (undecodable)"
    ]
    for task, names in classes.by_task.items():
        r = report[task]
        if r["n"] == 0:
            lines.append(f"\n{task}: no photo with a known label")
            continue
        lines.append(
            f"\n{task}: accuracy {r['accuracy']:.4f}  macro-F1 {r['macro_f1']:.4f}  "
            f"(n={r['n']}, {r['skipped_unknown']} unknown skipped)"
        )
        width = max(len(name) for name in names) + 2
        lines.append(f"  {'class':<{width}}precision  recall  f1      support")
        for name in names:
            c = r["per_class"][name]
            lines.append(f"  {name:<{width}}{c['precision']:<11.3f}{c['recall']:<8.3f}{c['f1']:<8.3f}{c['support']}")
        lines.append("  confusion matrix (rows: true, columns: predicted)")
        lines.append("  " + " " * width + " ".join(f"{name[:6]:>6}" for name in names))
        for name, row in zip(names, r["confusion_matrix"]):
            lines.append(f"  {name:<{width}}" + " ".join(f"{v:>6}" for v in row))
        mistakes = r.get("confident_mistakes")
        if mistakes:
            lines.append(f"  the {len(mistakes)} most confident mistakes (look for label noise):")
            for m in mistakes:
                lines.append(f"    {m['confidence']:.3f} {m['predicted']} (labelled {m['true']})  line {m['line']}: {m['path']}")
    if report["both_correct"] is not None:
        lines.append(f"\nall tasks right: {report['both_correct']:.4f} (of {report['both_n']} photos with every label known)")
    return "\n".join(lines)


def save_confusion_pngs(report: dict, classes: ClassNames, folder: Path, stem: str) -> list[Path]:
    """One PNG per task: the confusion matrix a person can look at."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    from sklearn.metrics import ConfusionMatrixDisplay

    folder.mkdir(parents=True, exist_ok=True)
    written = []
    for task, names in classes.by_task.items():
        matrix = report[task].get("confusion_matrix")
        if not matrix:
            continue
        fig, ax = plt.subplots(figsize=(1.2 + 0.8 * len(names), 1.0 + 0.7 * len(names)))
        ConfusionMatrixDisplay(np.asarray(matrix), display_labels=list(names)).plot(
            ax=ax, cmap="Blues", colorbar=False, xticks_rotation=45
        )
        ax.set_title(f"{task}: accuracy {report[task]['accuracy']:.3f}")
        fig.tight_layout()
        path = folder / f"{stem}_{task}_confusion.png"
        fig.savefig(path, dpi=100)
        plt.close(fig)
        written.append(path)
    return written


def write_report(report: dict, classes: ClassNames, folder: Path, stem: str) -> list[Path]:
    """JSON + text + PNGs under the model's evaluation folder."""
    folder.mkdir(parents=True, exist_ok=True)
    (folder / f"{stem}.json").write_text(json.dumps(report, indent=1) + "\n")
    (folder / f"{stem}.txt").write_text(format_report(report, classes) + "\n")
    return [folder / f"{stem}.json", folder / f"{stem}.txt"] + save_confusion_pngs(report, classes, folder, stem)
