"""The evaluation report as people read it: text, JSON and a confusion-matrix PNG per task."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np

from .. import files
from ..spec import ClassNames


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
    files.write_text(folder / f"{stem}.json", json.dumps(report, indent=1) + "\n")
    files.write_text(folder / f"{stem}.txt", format_report(report, classes) + "\n")
    return [folder / f"{stem}.json", folder / f"{stem}.txt"] + save_confusion_pngs(report, classes, folder, stem)
