"""Which way of learning the two tasks to pick: train named configurations on the same data,
budget and seeds, score each on the same split, and write one Markdown + JSON table.

Each run lands in `<out>/<configuration>/seed-<n>/` with its result beside it, so rerunning the
same command after an interruption only trains what is missing.
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

import numpy as np

from flowers_mtl.cli.common import MODELS, add_verbose, quiet_tensorflow
from flowers_mtl.config import TrainConfig, read_recipe
from flowers_mtl.errors import UserInputError

from .timing import median_seconds

# name -> settings that differ from the base configuration
CONFIGURATIONS = {
    "joint": {},
    "alternate": {"mode": "alternate"},
    "type-only": {"tasks": ["type"]},
    "colour-only": {"tasks": ["colour"]},
    "soft": {"sharing": "soft"},
    "uncertainty": {"loss_weighting": "uncertainty"},
    "split-fire5": {"split_after": "fire5"},
    "split-fire9": {"split_after": "fire9"},
}
# Rows made by putting single-task models side by side: name -> {task: configuration}.
COMBINED = {"separate (type-only + colour-only)": {"type": "type-only", "colour": "colour-only"}}
RESULT_FILE = "compare_result.json"


def _inference_ms_per_image(trained, split, batch_size: int, repeats: int = 5) -> float:
    """Median time of one batched forward pass on decoded test photos, per image."""
    from flowers_mtl.data import pipeline

    images = next(iter(pipeline.evaluation_dataset(split, trained.spec, batch_size)))[0]
    return median_seconds(lambda: trained.probabilities(images), repeats) / int(images.shape[0]) * 1000


def run_one(config: TrainConfig, test_split_path: Path, log=print) -> dict:
    """Train (or resume, or reuse) one run and score it; the result is cached in the run folder."""
    from flowers_mtl.eval.scoring import read_split_for, score_model
    from flowers_mtl.model import cost, store
    from flowers_mtl.train.loop import train

    folder = Path(config.out)
    cached = folder / RESULT_FILE
    if cached.is_file():
        return json.loads(cached.read_text())
    started = time.time()
    train(config, log=lambda line: log(f"  {line}"))
    train_seconds = time.time() - started
    trained = store.load_trained(folder)
    split = read_split_for(trained, test_split_path)
    report = score_model(trained, split, config.batch_size)
    network_cost = cost.measure(trained.model)
    result = {
        "tasks": {task: {k: report[task][k] for k in ("accuracy", "macro_f1", "n")} for task in trained.classes.tasks},
        "params": network_cost.params,
        "macs_per_image": network_cost.macs,
        "infer_ms_per_image": _inference_ms_per_image(trained, split, config.batch_size),
        "train_seconds": train_seconds,
        "seed": config.seed,
    }
    cached.write_text(json.dumps(result, indent=1) + "\n")
    return result


def _spread(values: list[float]) -> dict:
    values = [v for v in values if v is not None]
    if not values:
        return {"mean": None, "std": None, "values": []}
    return {"mean": float(np.mean(values)), "std": float(np.std(values, ddof=1)) if len(values) > 1 else 0.0, "values": values}


def summarise(runs: dict[str, list[dict]], tasks) -> dict[str, dict]:
    """Per configuration: mean and spread over seeds of each figure."""
    rows = {}
    for name, results in runs.items():
        row = {
            task: {
                metric: _spread([r["tasks"][task][metric] for r in results])
                for metric in ("accuracy", "macro_f1")
            }
            for task in tasks
            if task in results[0]["tasks"]
        }
        for key in ("params", "macs_per_image", "infer_ms_per_image", "train_seconds"):
            row[key] = _spread([r[key] for r in results])
        rows[name] = row
    for name, parts in COMBINED.items():
        if not all(part in rows for part in parts.values()):
            continue
        row = {task: rows[part][task] for task, part in parts.items()}
        for key in ("params", "macs_per_image", "infer_ms_per_image", "train_seconds"):
            row[key] = _spread([sum(rows[part][key]["mean"] for part in parts.values())])
        rows[name] = row
    return rows


def markdown(rows: dict[str, dict], tasks, seeds: int) -> str:
    def figure(cell: dict | None) -> str:
        if not cell or cell["mean"] is None:
            return "-"
        return f"{cell['mean']:.3f} ± {cell['std']:.3f}" if seeds > 1 else f"{cell['mean']:.3f}"

    header = ["configuration"]
    for task in tasks:
        header += [f"{task} acc", f"{task} macro-F1"]
    header += ["parameters", "M mult-adds / image", "inference ms / image", "training s"]
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    for name, row in rows.items():
        cells = [name]
        for task in tasks:
            cells += [figure(row.get(task, {}).get("accuracy")), figure(row.get(task, {}).get("macro_f1"))]
        cells += [
            f"{row['params']['mean']:,.0f}",
            f"{row['macs_per_image']['mean'] / 1e6:.0f}",
            f"{row['infer_ms_per_image']['mean']:.2f}",
            f"{row['train_seconds']['mean']:.0f}",
        ]
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines)


def main(argv=None) -> int:
    p = argparse.ArgumentParser(prog="compare.py", description="Train named configurations on the same data, "
                                "budget and seeds, score each on test.txt, and write one Markdown + JSON table.")
    p.add_argument("--data", type=Path, required=True, help="folder with train.txt, val.txt, test.txt, classes.json")
    p.add_argument("--out", type=Path, default=MODELS / "compare", help="where the runs and the tables go; default models/compare")
    p.add_argument("--configs", default=",".join(CONFIGURATIONS),
                   help=f"configurations to train, comma-separated; default all: {', '.join(CONFIGURATIONS)}")
    p.add_argument("--seeds", type=int, default=1, help="repeats per configuration (seeds 0..N-1); default 1")
    p.add_argument("--config", type=Path, help="JSON recipe of the shared budget (e.g. configs/compare.json); the "
                   "flags below override it")
    p.add_argument("--pretrained", help="ImageNet weights, as for train.py")
    add_verbose(p)
    p.add_argument("--epochs", type=int, help=f"epochs per run; default {TrainConfig.epochs}")
    p.add_argument("--image-size", type=int, help="input size of every run; default 224")
    p.add_argument("--batch-size", type=int, help=f"photos per step; default {TrainConfig.batch_size}")
    p.add_argument("--max-steps", type=int, help="cap every run at this many steps; default 0 (no cap)")
    args = p.parse_args(argv)
    names = [name.strip() for name in args.configs.split(",") if name.strip()]
    unknown = [name for name in names if name not in CONFIGURATIONS]
    if unknown:
        raise UserInputError(f"--configs: unknown configuration {', '.join(unknown)} (known: {', '.join(CONFIGURATIONS)})")
    if args.seeds < 1:
        raise UserInputError(f"--seeds must be at least 1, got {args.seeds}")
    for name in ("train.txt", "val.txt", "test.txt", "classes.json"):
        if not (args.data / name).is_file():
            raise UserInputError(f"{args.data}: no {name} in the --data folder")
    pretrained = str(Path(args.pretrained).resolve()) if args.pretrained and args.pretrained != "imagenet" else args.pretrained
    flags = {"pretrained": pretrained, "epochs": args.epochs, "image_size": args.image_size,
             "batch_size": args.batch_size, "max_steps": args.max_steps}
    base = TrainConfig.from_json(
        (read_recipe(args.config) if args.config else {}) | {k: v for k, v in flags.items() if v is not None} | {
            "train": str((args.data / "train.txt").resolve()), "val": str((args.data / "val.txt").resolve()),
            "classes": str((args.data / "classes.json").resolve())},
        str(args.config or "compare settings"))
    quiet_tensorflow()
    from flowers_mtl.data.splits import load_classes

    tasks = load_classes(base.classes).tasks
    runs: dict[str, list[dict]] = {}
    for name in names:
        for seed in range(args.seeds):
            config = base.replace(**CONFIGURATIONS[name], seed=seed, out=str(args.out / name / f"seed-{seed}"))
            config.validate()
            print(f"{name}, seed {seed}: {config.out}", flush=True)
            runs.setdefault(name, []).append(run_one(config, args.data / "test.txt"))
    rows = summarise(runs, tasks)
    table = markdown(rows, tasks, args.seeds)
    args.out.mkdir(parents=True, exist_ok=True)
    settings = {k: v for k, v in base.to_json().items() if k not in ("train", "val", "test", "classes", "out")}
    (args.out / "comparison.json").write_text(
        json.dumps({"data": str(args.data), "seeds": args.seeds, "base": settings, "rows": rows}, indent=1) + "\n"
    )
    (args.out / "comparison.md").write_text(table + "\n")
    print(table)
    print(f"written: {args.out / 'comparison.md'}, {args.out / 'comparison.json'}")
    return 0
