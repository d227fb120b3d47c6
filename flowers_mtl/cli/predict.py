"""predict.py: type and colour of single photos, one line (or JSON object) per photo."""

from __future__ import annotations

import argparse
import csv
import json
import sys

from ..errors import UserInputError
from .common import add_max_pixels, add_model_flags, add_verbose, apply_max_pixels, load_models, quiet_tensorflow

PROGRESS_FROM = 50  # photos


def parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="predict.py", description="Predict flower type and colour for photos.")
    add_model_flags(p)
    p.add_argument("images", nargs="+", help="photo files (JPEG, PNG, GIF, BMP, TIFF, WebP), folders (searched "
                   "recursively) or glob patterns in quotes ('photos/**/*.jpg')")
    p.add_argument("--top-k", type=int, default=1, help="show the k most likely classes per task; default 1")
    output = p.add_mutually_exclusive_group()
    output.add_argument("--json", action="store_true", help="one JSON object per line")
    output.add_argument("--csv", action="store_true", help="CSV with a header: path, then each task's label and "
                        "probability")
    add_max_pixels(p)
    add_verbose(p)
    return p


def main(argv=None) -> int:
    """Exit 2 if any photo could not be read (each named on stderr); the others are answered."""
    args = parser().parse_args(argv)
    apply_max_pixels(args)
    if args.top_k < 1:
        raise UserInputError(f"--top-k must be at least 1, got {args.top_k}")
    if args.csv and args.top_k > 1:
        raise UserInputError("--csv gives each task's top answer; use --json for --top-k")
    quiet_tensorflow()
    from ..data.locate import photo_paths
    from ..eval.prediction import predict_paths

    paths, errors = photo_paths(args.images)
    for error in errors:
        print(f"error: {error}", file=sys.stderr)
    trained = load_models(args)
    write = _writer(args, trained.classes.tasks)
    failed = len(errors)
    for outcome in _with_progress(predict_paths(trained, paths, top_k=args.top_k), len(paths)):
        if isinstance(outcome, UserInputError):
            print(f"error: {outcome}", file=sys.stderr)
            failed += 1
        else:
            write(outcome)
    return 2 if failed else 0


def _writer(args, tasks):
    """One line per answered photo, as text, JSON or CSV (the CSV header first)."""
    if args.csv:
        rows = csv.writer(sys.stdout, lineterminator="\n")
        rows.writerow(["path", *[column for task in tasks for column in (task, f"{task}_prob")]])

        def write_row(prediction):
            best = [prediction.top[task][0] for task in tasks]
            rows.writerow([prediction.path, *[value for label, prob in best for value in (label, f"{prob:.6f}")]])
            sys.stdout.flush()

        return write_row
    return lambda p: print(json.dumps(p.to_json()) if args.json else p.to_text(), flush=True)


def _with_progress(outcomes, total: int):
    """A progress bar on stderr for many photos, when stderr is a terminal (never in logs)."""
    if total < PROGRESS_FROM or not sys.stderr.isatty():
        return outcomes
    from tqdm import tqdm

    return tqdm(outcomes, total=total, unit="photo", leave=False)
