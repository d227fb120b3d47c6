"""How far each export of a model strays from its checkpoint on a split: per task, the share of
photos whose label agrees with the checkpoint's, accuracy, and the largest probability change;
the SavedModel twice (pixels decoded by Pillow; encoded bytes decoded in the graph). The table
behind the README's export section.

    python -m tools.export_check --model DIR [--exports DIR/export] --split test.txt [--json]
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import numpy as np

from flowers_mtl.cli.common import quiet_tensorflow, run
from flowers_mtl.signature import BYTES_INPUT, BYTES_SIGNATURE, label_output, probs_output


def row(kind: str, path, probs: dict, reference: dict, labels: np.ndarray, tasks) -> dict:
    """One table row: agreement with the checkpoint's labels, accuracy on known labels, size."""
    from flowers_mtl.export.bundle import size_bytes

    out = {"kind": kind, "megabytes": round(size_bytes(path) / 1e6, 3) if path else None}
    for i, task in enumerate(tasks):
        mine, theirs = np.argmax(probs[task], 1), np.argmax(reference[task], 1)
        known = labels[:, i] >= 0
        out[task] = {
            "agreement": float(np.mean(mine == theirs)),
            "accuracy": float(np.mean(mine[known] == labels[known, i])),
            "max_prob_diff": float(np.max(np.abs(probs[task] - reference[task]))),
        }
    return out


def bytes_probs(runner, paths: list[str], batch: int = 32) -> dict:
    """The SavedModel's serving_default on the files' bytes (decoded in the graph); checks on the
    way that each label output names the most probable class."""
    answers = {task: [] for task in runner.classes.tasks}
    for start in range(0, len(paths), batch):
        blobs = np.array([Path(p).read_bytes() for p in paths[start : start + batch]], dtype=object)
        out = runner.outputs(BYTES_SIGNATURE, **{BYTES_INPUT: blobs})
        for task, names in runner.classes.by_task.items():
            probs = out[probs_output(task)]
            assert [names[i] for i in probs.argmax(1)] == list(out[label_output(task)]), "labels disagree with probs"
            answers[task].append(probs)
    return {task: np.concatenate(parts) for task, parts in answers.items()}


def check(model: Path, exports: Path, split_path: Path, batch: int = 32) -> list[dict]:
    from flowers_mtl.eval.scoring import predict_split, read_split_for
    from flowers_mtl.export import bundle
    from flowers_mtl.inference import load_predictor

    checkpoint = load_predictor(model)
    split = read_split_for(checkpoint, split_path)
    reference, labels, rows = predict_split(checkpoint.probabilities, split, checkpoint.spec, batch)
    tasks = checkpoint.classes.tasks
    table = [row("checkpoint", None, reference, reference, labels, tasks)]
    saved = bundle.export_path(exports, "savedmodel")
    if saved.exists():
        runner = load_predictor(saved.parent)
        table.append(row("savedmodel (pixels)", saved, predict_split(runner.probabilities, split, runner.spec, batch)[0],
                         reference, labels, tasks))
        table.append(row("savedmodel (bytes)", saved, bytes_probs(runner, [split.paths[r] for r in rows]),
                         reference, labels, tasks))
    for quantize in bundle.TFLITE_NAME:
        path = bundle.export_path(exports, "tflite", quantize)
        if path.exists():
            runner = load_predictor(path)
            probs = predict_split(runner.probabilities, split, runner.spec, batch)[0]
            table.append(row(runner.kind, path, probs, reference, labels, tasks))
    return table


def markdown(table: list[dict], tasks) -> str:
    head = "| export | MB | " + " | ".join(f"{t} agree | {t} acc" for t in tasks) + " | max prob diff |"
    lines = [head, "|" + "---|" * (2 + 2 * len(tasks) + 1)]
    for r in table:
        cells = " | ".join(f"{r[t]['agreement']:.4f} | {r[t]['accuracy']:.4f}" for t in tasks)
        diff = max(r[t]["max_prob_diff"] for t in tasks)
        lines.append(f"| {r['kind']} | {r['megabytes'] or ''} | {cells} | {diff:.4f} |")
    return "\n".join(lines)


def main(argv=None) -> int:
    p = argparse.ArgumentParser(prog="python -m tools.export_check", description=__doc__.split("\n\n")[0])
    p.add_argument("--model", type=Path, required=True, help="model folder (the checkpoint is the reference)")
    p.add_argument("--exports", type=Path, default=None, help="folder export.py wrote; default MODEL/export")
    p.add_argument("--split", type=Path, required=True, help="split file to compare on")
    p.add_argument("--json", action="store_true", help="print the rows as JSON")
    args = p.parse_args(argv)
    quiet_tensorflow()
    table = check(args.model, args.exports or args.model / "export", args.split)
    tasks = [k for k in table[0] if k not in ("kind", "megabytes")]
    print(json.dumps(table, indent=1) if args.json else markdown(table, tasks))
    return 0


if __name__ == "__main__":
    raise SystemExit(run(main))
