"""Test-time levers on trained model folders (one per seed): input size, a central crop, flip, and
the ensemble of the seeds, scored on validation (to choose) and test (to report), each as mean +- std over seeds.

    python -m tools.levers --models M0 M1 M2 --data ../shared/datasets/flowers [--sizes 224,256,288]
        [--crops 256,280] [--splits test]

Each model's probabilities are computed once per (split, view, flip); an ensemble is the average
of its members' stored probabilities, exactly what `evaluate.py --model M0 --model M1 ...` does.
Prints one row per lever, with the compute it costs relative to one model at its own size.
"""

from __future__ import annotations

import argparse
import dataclasses
import statistics
import sys
import time
from pathlib import Path

import numpy as np

SPLITS = ("val", "test")  # val to choose, test to report; a refit model has trained on val: --splits test


def accuracy(probs: dict, labels: np.ndarray, tasks) -> dict[str, float]:
    """Per task on known labels, and both right on photos with every label known."""
    right = {}
    for i, task in enumerate(tasks):
        known = labels[:, i] >= 0
        right[task] = (probs[task].argmax(axis=1) == labels[:, i]) | ~known
    all_known = (labels >= 0).all(axis=1)
    scores = {task: float(right[task][labels[:, i] >= 0].mean()) for i, task in enumerate(tasks)}
    scores["both"] = float(np.logical_and.reduce([right[t] for t in tasks])[all_known].mean())
    return scores


@dataclasses.dataclass(frozen=True)
class View:
    """What the network sees: photos resized to `load` px, then (if smaller) their central
    `run` x `run` crop, the part of a photo where the flower usually is."""

    load: int
    run: int

    @property
    def name(self) -> str:
        return f"{self.run}px" if self.load == self.run else f"centre {self.run}px of {self.load}px"

    def crop(self, images):
        start = (self.load - self.run) // 2
        return images[:, start:start + self.run, start:start + self.run, :]

    def probabilities(self, trained):
        """The model's probability function on this view of a batch."""
        return lambda images: trained.probabilities(self.crop(images))


def collect(models, data: Path, views, batch: int, splits=SPLITS) -> tuple[dict, dict]:
    """{(model, split, view, flip): probs} and {split: labels}, every model read once per view."""
    from flowers_mtl.data import pipeline
    from flowers_mtl.eval.scoring import predict_split, read_split_for
    from flowers_mtl.model.store import load_trained

    probs, labels, datasets = {}, {}, {}
    for model in models:
        for view in views:
            read_once = load_trained(model, image_size=view.run)
            load_spec = dataclasses.replace(read_once.spec, image_size=view.load)
            for flip in (False, True):
                trained = dataclasses.replace(read_once, flip_tta=flip)  # the same weights, flip or not
                for split_name in splits:
                    split = read_split_for(trained, data / f"{split_name}.txt")
                    key = (split_name, view.load)
                    if key not in datasets:
                        datasets[key] = pipeline.evaluation_dataset(split, load_spec, batch, cache=True)
                    p, y, rows = predict_split(view.probabilities(trained), split, load_spec, batch,
                                               datasets[key])
                    order = np.argsort(rows)
                    probs[(model, split_name, view, flip)] = {task: v[order] for task, v in p.items()}
                    labels[split_name] = y[order]
                print(f"  {model}, {view.name}{' + flip' if flip else ''}: done", file=sys.stderr, flush=True)
    return probs, labels


def main(argv=None) -> int:
    p = argparse.ArgumentParser(prog="python -m tools.levers", description=__doc__.split("\n")[0])
    p.add_argument("--models", type=Path, nargs="+", required=True, help="model folders, one per seed")
    p.add_argument("--data", type=Path, required=True, help="folder with val.txt and test.txt")
    p.add_argument("--sizes", default="224,256,288", help="input sizes to try; the first is the training size")
    p.add_argument("--crops", default="", help="load sizes to take a central crop of the first size from, e.g. "
                   "256,280")
    p.add_argument("--splits", default=",".join(SPLITS), help="splits to score (a refit model trained on val.txt)")
    p.add_argument("--batch-size", type=int, default=32)
    args = p.parse_args(argv)
    splits = tuple(args.splits.split(","))
    from flowers_mtl.cli.common import quiet_tensorflow

    quiet_tensorflow()
    sizes = [int(s) for s in args.sizes.split(",")]
    views = [View(size, size) for size in sizes] + [View(int(load), sizes[0]) for load in args.crops.split(",") if load]
    started = time.time()
    probs, labels = collect(args.models, args.data, views, args.batch_size, splits)
    tasks = tuple(next(iter(probs.values())).keys())
    rows = []
    for view in views:
        for flip in (False, True):
            cost = (view.run / sizes[0]) ** 2 * (2 if flip else 1)
            name = f"{view.name}{' + flip' if flip else ''}"
            single = {s: [accuracy(probs[(m, s, view, flip)], labels[s], tasks) for m in args.models] for s in splits}
            rows.append((f"one model, {name}", cost, single))
            mean = {s: {t: np.mean([probs[(m, s, view, flip)][t] for m in args.models], axis=0) for t in tasks}
                    for s in splits}
            rows.append((f"ensemble of {len(args.models)}, {name}", cost * len(args.models),
                         {s: [accuracy(mean[s], labels[s], tasks)] for s in splits}))
    print(f"| lever | compute | {' | '.join(f'{s} {t}' for s in splits for t in (*tasks, 'both'))} |")
    print("|---|---|" + "---|" * (len(splits) * (len(tasks) + 1)))
    for name, cost, scores in rows:
        cells = []
        for s in splits:
            for t in (*tasks, "both"):
                values = [score[t] for score in scores[s]]
                spread = f" +- {statistics.stdev(values):.3f}" if len(values) > 1 else ""
                cells.append(f"{statistics.mean(values):.3f}{spread}")
        print(f"| {name} | {cost:.1f}x | {' | '.join(cells)} |")
    print(f"({len(args.models)} models; {time.time() - started:.0f} s)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
