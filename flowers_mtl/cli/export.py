"""export.py: a trained model as a SavedModel (TF Serving) and TFLite files (phones)."""

from __future__ import annotations

import argparse
from pathlib import Path

from ..errors import UserInputError
from ..signature import QUANTIZATIONS
from .common import add_verbose, quiet_tensorflow

FORMATS = ("savedmodel", "tflite", "all")
CALIBRATION_PHOTOS = 200


def parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="export.py", description="Export a trained model: a SavedModel that TF Serving "
                                "loads as is, and TFLite files for phones. Each carries its class names and "
                                "preprocessing; predict.py, evaluate.py and serve.py take any of them as --model.")
    p.add_argument("--model", type=Path, required=True, help="model folder written by train.py")
    p.add_argument("--format", choices=FORMATS, default="all",
                   help="savedmodel, tflite, or all (the SavedModel and every TFLite variant); default all")
    p.add_argument("--quantize", choices=QUANTIZATIONS, default=None,
                   help="TFLite: none (float32), float16 (half-size weights), dynamic (int8 weights, float "
                   "activations: the smallest file at float accuracy), or int8 (full integer, calibrated on training "
                   "photos, for integer-only accelerators; loses accuracy, see the README); default none, or every "
                   "one with --format all")
    p.add_argument("--out", type=Path, default=None, help="folder to write the exports into; default MODEL/export")
    p.add_argument("--calibration", type=Path, default=None,
                   help="int8: split file of photos to calibrate on; default the model's training split")
    p.add_argument("--calibration-photos", type=int, default=CALIBRATION_PHOTOS,
                   help=f"int8: how many photos to calibrate on; default {CALIBRATION_PHOTOS}")
    add_verbose(p)
    return p


def main(argv=None) -> int:
    args = parser().parse_args(argv)
    if args.format == "savedmodel" and args.quantize not in (None, "none"):
        raise UserInputError("--quantize applies to TFLite; a SavedModel keeps float32 weights")
    if args.calibration_photos < 1:
        raise UserInputError(f"--calibration-photos must be at least 1, got {args.calibration_photos}")
    out = args.out or args.model / "export"
    if out.exists() and not out.is_dir():
        raise UserInputError(f"--out {out}: exists and is not a folder")
    quiet_tensorflow()
    from ..export import bundle
    from ..model import store

    trained = store.load_trained(args.model)
    plan = bundle.planned(args.format, args.quantize)
    calibration = calibration_photos(trained, args) if ("tflite", "int8") in plan else None
    for form, quantize in plan:
        path = bundle.export(trained, out, form, quantize, calibration)
        weights = "" if form == "savedmodel" else " float32" if quantize == "none" else f" {quantize}"
        print(f"{path}  ({form}{weights}, {bundle.size_bytes(path) / 1e6:.2f} MB)")
    return 0


def calibration_photos(trained, args):
    from ..config import TrainConfig
    from ..data.splits import read_split
    from ..export import bundle

    split_path = args.calibration or TrainConfig.load(args.model).train
    if split_path is None or not Path(split_path).is_file():
        raise UserInputError(f"int8 needs calibration photos: the training split {split_path} is not there; "
                             "give --calibration SPLIT_FILE")
    split = read_split(split_path, trained.all_classes)
    return bundle.calibration_pixels(split, trained.image_size, trained.spec.preprocessing, args.calibration_photos)
