"""python -m flowers_mtl.prepare: split files and classes.json from a folder of photos or a CSV,
or (--format tfrecord) the same splits as TFRecord shards, also from existing split files."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from ..data import prepare
from ..errors import UserInputError
from ..spec import CLASSES_FILE, ModelSpec
from .common import SPLITS, add_max_pixels, add_verbose, apply_max_pixels, quiet_tensorflow

FORMATS = ("splits", "tfrecord")


def parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="python -m flowers_mtl.prepare", description=prepare.__doc__.split("\n")[0])
    source = p.add_mutually_exclusive_group(required=True)
    source.add_argument("--from-folder", type=Path, help="photos in ROOT/<type>/<colour>/*.jpg")
    source.add_argument("--from-csv", type=Path, help="CSV of path,type,colour (class names, or ids with --classes)")
    source.add_argument("--from-splits", type=Path, metavar="DIR",
                        help="existing train/val/test.txt and classes.json in DIR, as they are (with --format tfrecord)")
    p.add_argument("--out", type=Path, default=SPLITS,
                   help=f"folder for train/val/test.txt (or their shards) and classes.json; default {SPLITS}")
    p.add_argument("--format", choices=FORMATS, default="splits",
                   help="splits: text files naming the photos (decoded while training, cached in memory); tfrecord: "
                   "the photos themselves, decoded and resized once, in shards streamed while training; default splits")
    p.add_argument("--shards", type=int, default=8, help="--format tfrecord: shard files per split (a multiple of "
                   "the number of training workers; never more than the photos); default 8")
    p.add_argument("--image-size", type=int, default=ModelSpec.image_size,
                   help=f"--format tfrecord: the size S the photos are stored at, S x S (train with the same "
                   f"--image-size); default {ModelSpec.image_size}")
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
    if args.format == "tfrecord" and args.shards < 1:
        raise UserInputError(f"--shards must be positive, got {args.shards}")
    if args.from_splits:
        if args.format != "tfrecord":
            raise UserInputError("--from-splits converts split files to --format tfrecord; add --format tfrecord")
        return _write_shards(_read_splits(args.from_splits), args)
    if args.from_folder:
        photos, classes = prepare.photos_from_folder(args.from_folder)
    else:
        photos, classes = prepare.photos_from_csv(args.from_csv, load_classes(args.classes) if args.classes else None)
    prepared = prepare.prepare(photos, classes, fractions, args.seed)
    print(prepare.summary(prepared))
    for warning in prepare.thin_cells(prepared):
        print(f"warning: {warning}", file=sys.stderr)
    if args.format == "tfrecord":
        return _write_shards(prepare.as_splits(prepared, args.out), args)
    written = prepare.write(prepared, args.out)
    print("wrote " + ", ".join(str(p) for p in written))
    return 0


def _read_splits(folder: Path) -> dict:
    from ..data.splits import load_classes, read_split, split_files

    files = split_files(folder, "--from-splits")
    classes = load_classes(folder / CLASSES_FILE)
    splits = {name: read_split(path, classes) for name, path in files.items()}
    if "train" not in splits:
        raise UserInputError(f"--from-splits {folder}: no train.txt there")
    return splits


def _write_shards(splits: dict, args) -> int:
    """Each split as shards + NAME.shards.json, and classes.json, in --out."""
    ModelSpec(image_size=args.image_size).validate()  # (a size a model can be trained at)
    quiet_tensorflow()
    from ..data import tfrecord
    from ..spec import Preprocessing

    out = args.out
    try:
        out.mkdir(parents=True, exist_ok=True)
    except OSError as err:
        raise UserInputError(f"--out {out}: cannot write there ({err.strerror or err})") from None
    for name, split in splits.items():
        manifest, shards, dropped = tfrecord.write_shards(split, out, name, args.shards, args.image_size,
                                                          Preprocessing())
        for line in dropped:
            print(f"dropped {line}", file=sys.stderr)
        if manifest is None:
            raise UserInputError(f"{split.source}: none of its {len(split)} photos decodes; nothing written")
        size = sum(Path(f).stat().st_size for f in shards.files)
        kept = sum(shards.photos_per_file)
        print(f"{name}: {kept} photos ({len(dropped)} dropped) in {len(shards.files)} shard(s), {size / 1e6:.1f} MB, "
              f"{size / kept / 1e3:.1f} KB a photo -> {manifest}")
    next(iter(splits.values())).classes.save(out / CLASSES_FILE)
    print(f"wrote {out / CLASSES_FILE}; train on them with: python train.py --data {out} --image-size {args.image_size}")
    return 0
