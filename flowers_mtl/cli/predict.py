"""predict.py: type and colour of single photos, one line (or JSON object) per photo."""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from ..errors import UserInputError
from .common import FLIP_TTA_HELP, MODEL_HELP, add_verbose, quiet_tensorflow


def parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="predict.py", description="Predict flower type and colour for photos.")
    p.add_argument("--model", type=Path, required=True, help=MODEL_HELP)
    p.add_argument("images", nargs="+", help="photo files (JPEG, PNG, GIF, BMP, TIFF, WebP)")
    p.add_argument("--top-k", type=int, default=1, help="show the k most likely classes per task; default 1")
    p.add_argument("--json", action="store_true", help="one JSON object per line")
    p.add_argument("--flip-tta", action="store_true", help=FLIP_TTA_HELP)
    add_verbose(p)
    return p


def main(argv=None) -> int:
    """Exit 2 if any photo could not be read (each named on stderr); the others are answered."""
    args = parser().parse_args(argv)
    if args.top_k < 1:
        raise UserInputError(f"--top-k must be at least 1, got {args.top_k}")
    quiet_tensorflow()
    from ..eval.prediction import predict_paths
    from ..inference import load_predictor

    trained = load_predictor(args.model, flip_tta=args.flip_tta)
    failed = 0
    for outcome in predict_paths(trained, args.images, top_k=args.top_k):
        if isinstance(outcome, UserInputError):
            print(f"error: {outcome}", file=sys.stderr)
            failed += 1
        else:
            print(json.dumps(outcome.to_json()) if args.json else outcome.to_text(), flush=True)
    return 2 if failed else 0
