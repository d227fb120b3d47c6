"""python -m flowers_mtl.prepare: split files and classes.json from a folder of photos or a CSV."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from ..data import prepare
from ..errors import UserInputError
from .common import SPLITS, add_max_pixels, add_verbose, apply_max_pixels


def parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="python -m flowers_mtl.prepare", description=prepare.__doc__.split("\n")[0])
    source = p.add_mutually_exclusive_group(required=True)
    source.add_argument("--from-folder", type=Path, help="photos in ROOT/<type>/<colour>/*.jpg")
    source.add_argument("--from-csv", type=Path, help="CSV of path,type,colour (class names, or ids with --classes)")
    p.add_argument("--out", type=Path, default=SPLITS,
                   help=f"folder for train/val/test.txt and classes.json; default {SPLITS}")
    p.add_argument("--classes", type=Path, help="classes.json fixing the class order (CSV input)")
    p.add_argument("--fractions", default="0.6,0.25,0.15", help="train,val,test shares; default 0.6,0.25,0.15")
    p.add_argument("--seed", type=int, default=0, help="seed of the stratified split; default 0")
    add_max_pixels(p)
    add_verbose(p)
    return p


def main(argv=None) -> int:
    from ..data.splits import load_classes

    args = parser().parse_args(argv)
    apply_max_pixels(args)
    try:
        fractions = tuple(float(x) for x in args.fractions.split(","))
    except ValueError:
        raise UserInputError(f"--fractions: expected three numbers separated by commas, got {args.fractions!r}") from None
    if args.from_folder:
        photos, classes = prepare.photos_from_folder(args.from_folder)
    else:
        photos, classes = prepare.photos_from_csv(args.from_csv, load_classes(args.classes) if args.classes else None)
    prepared = prepare.prepare(photos, classes, fractions, args.seed)
    written = prepare.write(prepared, args.out)
    print(prepare.summary(prepared))
    for warning in prepare.thin_cells(prepared):
        print(f"warning: {warning}", file=sys.stderr)
    print("wrote " + ", ".join(str(p) for p in written))
    return 0
