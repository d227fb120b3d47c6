"""train.py: flags (and an optional --config recipe) -> TrainConfig -> the training loop, then a
test-split evaluation. TensorFlow is imported only once the flags are valid, so --help and a
flag mistake answer at once."""

from __future__ import annotations

import argparse
from pathlib import Path

from ..config import TrainConfig, read_recipe
from ..errors import UserInputError
from ..spec import CLASSES_FILE
from . import flags
from .common import (
    MODELS,
    RECIPES,
    SPLITS,
    SYNTHETIC_DATA,
    add_max_pixels,
    add_verbose,
    apply_max_pixels,
    quiet_tensorflow,
)
from .evaluate import evaluate_split

DEMO_RECIPE = RECIPES / "demo.json"  # `python train.py` with no data: a quick run on generated pictures
GROUPS = ("data", "model", "optimisation", "augmentation", "bookkeeping", "distribution")


def parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="train.py",
        description="Train one SqueezeNet v1.1 for flower type and colour. With no --data: trains on data/splits/ "
        "if it holds a train.txt, else on a generated SYNTHETIC set as a demo. Rerun the same command to resume.",
    )
    p.add_argument("--config", type=Path, help="JSON recipe of settings (e.g. configs/finetune.json); flags override it")
    groups = {name: p.add_argument_group(name) for name in GROUPS}
    groups["data"].add_argument("--data", type=Path, help="folder with train.txt, val.txt, test.txt and classes.json "
                                "(or their .shards.json, from prepare --format tfrecord)")
    groups["model"].add_argument("--from-scratch", action="store_true",
                                 help="start from random weights, not ImageNet's (--pretrained)")
    groups["bookkeeping"].add_argument("--restart", action="store_true",
                                       help="start over in --out: its old content moves to OUT.backup-N first")
    flags.add_flags(p, TrainConfig, groups)
    add_max_pixels(groups["data"])
    add_verbose(p)
    return p


def main(argv=None) -> int:
    args = parser().parse_args(argv)
    apply_max_pixels(args)
    settings = read_recipe(args.config) if args.config else {}
    if args.data is None and args.train is None and "train" not in settings and (SPLITS / "train.txt").is_file():
        print(f"no --data given: training on {SPLITS}/ (it holds a train.txt)")
        args.data = SPLITS
    demo = args.data is None and args.train is None and "train" not in settings
    if demo:
        settings = read_recipe(DEMO_RECIPE) | settings
    unknown = sorted(set(settings) - flags.field_names(TrainConfig))
    if unknown:
        raise UserInputError(f"{args.config or DEMO_RECIPE}: unknown settings {', '.join(unknown)}")
    own = ("config", "data", "verbose", "from_scratch", "restart", "max_pixels", "debug")  # this command's flags, not settings
    settings |= {name: value for name, value in vars(args).items() if value is not None and name not in own}
    if args.from_scratch:
        if args.pretrained is not None:
            raise UserInputError("give --from-scratch or --pretrained, not both")
        settings["pretrained"] = None
    settings |= _paths(args.data, demo, settings)
    config = TrainConfig.from_json(settings, "settings")
    config.validate()
    if args.restart:
        _move_aside(Path(config.out))
    quiet_tensorflow()
    from ..model import store
    from ..train.loop import train

    result = train(config)
    if not result.chief:
        print(f"this worker is done ({result.steps} steps, {result.seconds:.0f} s); the chief writes {result.folder}")
        return 0
    print(f"model folder: {result.folder} ({result.steps} steps, {result.seconds:.0f} s)")
    if config.test:
        trained = store.load_trained(result.folder)
        evaluate_split(trained, Path(config.test), config.batch_size, as_json=False)
        if demo:
            _predict_one(trained, config)
    return 0


def _paths(data: Path | None, demo: bool, settings: dict) -> dict:
    """--data DIR (or the demo's generated set) -> absolute split, classes, output and weights paths."""
    if demo:
        from ..data import synthetic

        print(f"no --data given and no {SPLITS}/train.txt: a demo on SYNTHETIC pictures (drawn shapes, not photos) "
              f"in {SYNTHETIC_DATA}; for your own photos, fill {SPLITS}/ (python -m flowers_mtl.prepare --from-folder "
              f"PHOTOS, see {SPLITS}/README.md) and rerun")
        data = synthetic.generate(SYNTHETIC_DATA)
    paths = {key: settings.get(key) for key in ("train", "val", "test", "classes", "out")}
    if data is not None:
        if paths["train"] is not None:
            raise UserInputError("give either --data DIR or --train FILE, not both")
        if not data.is_dir():
            raise UserInputError(f"{data}: --data must be a folder holding train.txt, val.txt, test.txt and classes.json "
                                 "(or their .shards.json)")
        paths["train"] = _split_in(data, "train")
        if paths["train"] is None:
            raise UserInputError(f"{data}: no train.txt (or train.shards.json) in the --data folder")
        for key in ("val", "test"):
            paths[key] = paths[key] or _split_in(data, key)
    if paths["train"] is None:
        raise UserInputError("no training data: give --data DIR or --train FILE")
    train = Path(paths["train"])
    from ..data.splits import check_split_file  # (no TensorFlow)

    check_split_file(train)
    paths["classes"] = paths["classes"] or train.parent / CLASSES_FILE
    paths["out"] = paths["out"] or MODELS / (data or train.parent).resolve().name
    if settings.get("pretrained") not in (None, "imagenet"):
        paths["pretrained"] = settings["pretrained"]
    return {key: str(Path(value).resolve()) if value is not None else None for key, value in paths.items()}


def _split_in(folder: Path, name: str) -> Path | None:
    """NAME.txt, or else the NAME.shards.json that prepare --format tfrecord writes."""
    from ..data.shards import manifest_name  # (no TensorFlow)

    for candidate in (folder / f"{name}.txt", folder / manifest_name(name)):
        if candidate.is_file():
            return candidate
    return None


def _move_aside(folder: Path) -> None:
    """--restart: the old model folder becomes FOLDER.backup-N (never deleted); training starts afresh."""
    if not folder.exists():
        return
    number = 1
    while (backup := folder.with_name(f"{folder.name}.backup-{number}")).exists():
        number += 1
    try:
        folder.rename(backup)
    except OSError as err:
        raise UserInputError(f"--restart: cannot move {folder} to {backup} ({err.strerror}); move it yourself") from None
    print(f"--restart: the old {folder} is now {backup}")


def _predict_one(trained, config: TrainConfig) -> None:
    from ..data.splits import load_classes, read_split
    from ..eval.prediction import predict_paths

    example = read_split(config.test, load_classes(config.classes)).paths[0]
    print("\nprediction for one test picture (python predict.py --model ... PATH):")
    for outcome in predict_paths(trained, [example], top_k=2):
        print(outcome.to_text())
    print("\nnext, on your own photos (folders PHOTOS/<type>/<colour>/*.jpg):\n"
          f"  python -m flowers_mtl.prepare --from-folder PHOTOS      # writes {SPLITS}/\n"
          "  python train.py                                          # fine-tunes the bundled ImageNet weights\n"
          f"  python predict.py --model {MODELS / SPLITS.name} NEW_PHOTOS/ --csv")

