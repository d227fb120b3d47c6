"""evaluate.py: score a trained model on a split file and write its report."""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from ..errors import UserInputError
from ..spec import CLASSES_FILE
from .common import add_max_pixels, add_model_flags, add_verbose, apply_max_pixels, load_models, quiet_tensorflow

DEFAULT_BATCH = 32


def parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="evaluate.py", description="Score a trained model on a split file; the report "
                                "(JSON, text, confusion-matrix PNGs) goes to MODEL/evaluation/.")
    add_model_flags(p)
    p.add_argument("--split", type=Path, required=True, help="split file (path, type, colour per line), or a NAME.shards.json of TFRecord shards")
    p.add_argument("--batch-size", type=int, default=DEFAULT_BATCH, help=f"photos per forward pass; default {DEFAULT_BATCH}")
    p.add_argument("--json", action="store_true", help="print the report as one JSON object")
    add_max_pixels(p)
    add_verbose(p)
    return p


def main(argv=None) -> int:
    args = parser().parse_args(argv)
    apply_max_pixels(args)
    if args.batch_size < 1:
        raise UserInputError(f"--batch-size must be positive, got {args.batch_size}")
    from ..data.splits import check_split_file

    check_split_file(args.split)
    quiet_tensorflow()

    trained = load_models(args)
    evaluate_split(trained, args.split, args.batch_size, args.json, args.image_size)
    return 0


def evaluate_split(trained, split_path: Path, batch_size: int, as_json: bool, resized: int | None = None) -> dict:
    """Score, print and write the report of one split; the flip_tta setting is the model's, and
    `resized` the input size it was loaded at, if not its own (each names its own report)."""
    from ..data.splits import load_classes
    from ..eval import report as reports
    from ..eval.scoring import read_split_for, score_model

    beside = split_path.parent / CLASSES_FILE
    if beside.is_file() and load_classes(beside) != trained.all_classes:
        raise UserInputError(
            f"{beside}: these classes differ from the model's ({trained.source}); "
            "the split's ids would mean other classes"
        )
    split = read_split_for(trained, split_path)
    report = score_model(trained, split, batch_size)
    if as_json:
        print(json.dumps(report), flush=True)
    else:
        print(f"evaluation of {trained.source} ({trained.kind}) on {split.source}")
        print(reports.format_report(report, trained.classes), flush=True)
    stem = split_path.stem + ("-flip-tta" if trained.flip_tta else "") + (f"-{resized}px" if resized else "")
    try:  # printed first: a read-only model folder or a full disk loses the files, not the result
        written = reports.write_report(report, trained.classes, trained.report_dir, stem)
    except OSError as err:
        print(f"warning: the report could not be saved in {trained.report_dir} ({err.strerror or err})",
              file=sys.stderr)
        return report
    if not as_json:
        print(f"report written to {written[0].parent}")
    return report
