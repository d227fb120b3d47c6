"""Command-line entry points: flags -> TrainConfig -> the library. User mistakes become one line
on stderr and exit status 2; bugs keep their traceback."""

from __future__ import annotations

import os

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")  # keep TensorFlow's C++ start-up chatter out of the output

import argparse
import dataclasses
import json
import sys
import warnings
from pathlib import Path

from .config import TrainConfig
from .errors import UserInputError
from .network import SPLIT_POINTS

PROJECT_ROOT = Path(__file__).resolve().parent.parent
SYNTHETIC_DATA = PROJECT_ROOT / "data" / "synthetic"
MODELS = PROJECT_ROOT / "models"
# `python train.py` with no data: a quick run on generated pictures that shows every step.
DEMO_SETTINGS = {"image_size": 96, "epochs": 30}
FLIP_TTA_HELP = "average each photo's answer with its mirror image's (twice the compute)"


def _quiet() -> None:
    warnings.filterwarnings("ignore", message=r".*`layer\.(apply|updates)`.*")
    import tensorflow as tf

    tf.get_logger().setLevel("ERROR")


def run(main, argv=None) -> int:
    try:
        return main(argv)
    except UserInputError as err:
        print(f"error: {err}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("interrupted: rerun the same command to resume from the last checkpoint", file=sys.stderr)
        return 130


# ---------------------------------------------------------------- train

def _task_list(text: str) -> list[str]:
    names = [name.strip() for name in text.split(",") if name.strip()]
    if not names:
        raise argparse.ArgumentTypeError("expected task names separated by commas, e.g. type,colour")
    return names


def _per_task(kind):
    """Parse `type=1.0,colour=0.5` into {task: value}."""

    def parse(text: str) -> dict:
        values = {}
        for item in text.split(","):
            task, sep, value = item.partition("=")
            try:
                if not sep or not task.strip():
                    raise ValueError
                values[task.strip()] = kind(value)
            except ValueError:
                raise argparse.ArgumentTypeError(f"expected task=value pairs separated by commas, got {item!r}") from None
        return values

    parse.__name__ = f"task={kind.__name__}"
    return parse


def _train_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="train.py",
        description="Train one SqueezeNet v1.1 for flower type and colour. With no --data, trains on a "
        "generated SYNTHETIC set as a demo.",
    )
    data = p.add_argument_group("data")
    data.add_argument("--data", type=Path, help="folder with train.txt, val.txt, test.txt and classes.json")
    data.add_argument("--train", type=Path, help="training split file (instead of --data)")
    data.add_argument("--val", type=Path, help="validation split file")
    data.add_argument("--test", type=Path, help="test split, evaluated once at the end")
    data.add_argument("--classes", type=Path, help="classes.json (default: beside the training split)")
    p.add_argument("--out", type=Path, help="model folder (default: models/<data folder name>); rerun to resume")
    p.add_argument(
        "--pretrained",
        help="start from ImageNet SqueezeNet v1.1: a Keras .h5 or OpenVINO .xml file, or 'imagenet' to download "
        "the h5 once",
    )
    defaults = {f.name: f.default for f in dataclasses.fields(TrainConfig) if f.default is not dataclasses.MISSING}
    tunables = [
        ("--image-size", int, "input size in pixels"),
        ("--epochs", int, "passes over the training split"),
        ("--max-steps", int, "stop after this many steps (0: no limit)"),
        ("--batch-size", int, "photos per step"),
        ("--learning-rate", float, "peak learning rate (warm-up, then cosine decay)"),
        ("--optimizer", str, "adam or momentum"),
        ("--weight-decay", float, "L2 on conv weights"),
        ("--label-smoothing", float, "label smoothing of both tasks' targets"),
        ("--class-weighting", str, "per-class loss weights from training counts: none, sqrt or balanced"),
        ("--freeze-trunk-epochs", int, "with --pretrained, epochs training only the heads before the whole network"),
        ("--dropout-keep-prob", float, "keep probability of the dropout before conv10"),
        ("--tasks", _task_list, "tasks to learn, comma-separated (default: every task in classes.json; one task: a single-task network)"),
        ("--split-after", str, f"where the trunk splits into task heads: {', '.join(SPLIT_POINTS)}"),
        ("--sharing", str, "hard (one trunk) or soft (a trunk per task, pulled together by --soft-weight)"),
        ("--soft-weight", float, "soft sharing: weight of the squared distance between the task trunks"),
        ("--mode", str, "joint (one optimiser, summed loss) or alternate (one optimiser per task, taking turns)"),
        ("--alternate-ratio", _per_task(int), "alternate mode: steps per turn per task, e.g. type=2,colour=1 (default 1 each)"),
        ("--loss-weights", _per_task(float), "weight of each task's loss, e.g. type=1.0,colour=0.5 (default 1 each)"),
        ("--loss-weighting", str, "fixed (--loss-weights) or uncertainty (learned per-task weights)"),
        ("--seed", int, "seed of shuffling and augmentation"),
        ("--max-rotation-deg", float, "largest random rotation"),
        ("--min-crop-area", float, "smallest random crop, as a share of the photo"),
        ("--checkpoint-every", int, "steps between checkpoints"),
    ]
    for flag, kind, help_text in tunables:
        name = flag[2:].replace("-", "_")
        default = f" (default {defaults[name]})" if defaults[name] is not None else ""
        p.add_argument(flag, type=kind, default=None, help=help_text + default)
    return p


def _data_paths(args) -> tuple[dict, bool]:
    """Resolve --data / --train ... into absolute paths; no data at all means the synthetic demo."""
    demo = args.data is None and args.train is None
    if demo:
        from . import synthetic

        print(f"no --data given: using SYNTHETIC pictures (drawn shapes, not photos) in {SYNTHETIC_DATA}")
        args.data = synthetic.generate(SYNTHETIC_DATA)
    if args.data is not None:
        if args.train is not None:
            raise UserInputError("give either --data DIR or --train FILE, not both")
        if not args.data.is_dir():
            raise UserInputError(f"{args.data}: --data must be a folder holding train.txt, val.txt, test.txt and classes.json")
        folder = args.data
        train = folder / "train.txt"
        if not train.is_file():
            raise UserInputError(f"{folder}: no train.txt in the --data folder")
        val = args.val or (folder / "val.txt" if (folder / "val.txt").is_file() else None)
        test = args.test or (folder / "test.txt" if (folder / "test.txt").is_file() else None)
        classes = args.classes or folder / "classes.json"
        name = folder.resolve().name
    else:
        train, val, test = args.train, args.val, args.test
        classes = args.classes or train.parent / "classes.json"
        name = train.resolve().parent.name
    out = args.out or MODELS / name
    paths = {"train": train, "val": val, "test": test, "classes": classes, "out": out}
    return {key: str(Path(value).resolve()) if value is not None else None for key, value in paths.items()}, demo


def train_main(argv=None) -> int:
    args = _train_parser().parse_args(argv)
    if args.pretrained and args.pretrained != "imagenet":
        args.pretrained = str(Path(args.pretrained).resolve())
    paths, demo = _data_paths(args)
    settings = {
        f.name: getattr(args, f.name)
        for f in dataclasses.fields(TrainConfig)
        if f.name not in paths and getattr(args, f.name, None) is not None
    }
    if demo:
        settings = DEMO_SETTINGS | settings
    config = TrainConfig(**paths, **settings)
    config.validate()
    _quiet()
    from . import modeldir, training

    result = training.train(config)
    print(f"model folder: {result.folder} ({result.steps} steps, {result.seconds:.0f} s)")
    if config.test:
        trained = modeldir.load_trained(result.folder)
        _evaluate(trained, Path(config.test), config.batch_size, as_json=False)
        if demo:
            from .prediction import predict_paths

            example = _first_test_picture(config)
            print("\nprediction for one test picture (python predict.py --model ... PATH):")
            for outcome in predict_paths(trained, [example], top_k=2):
                print(outcome.to_text())
    return 0


def _first_test_picture(config) -> str:
    from .splits import load_classes, read_split

    return read_split(config.test, load_classes(config.classes)).paths[0]


# ---------------------------------------------------------------- evaluate

def _evaluate(trained, split_path: Path, batch_size: int, as_json: bool) -> dict:
    """Score, print and write the report of one split; the flip_tta setting is the model's."""
    from . import evaluation, modeldir
    from .splits import load_classes

    beside = split_path.parent / "classes.json"
    if beside.is_file() and load_classes(beside) != trained.all_classes:
        raise UserInputError(
            f"{beside}: these classes differ from the model's ({trained.folder / 'classes.json'}); "
            "the split's ids would mean other classes"
        )
    split = trained.read_split(split_path)
    report = evaluation.score_model(trained, split, batch_size)
    stem = split_path.stem + ("-flip-tta" if trained.flip_tta else "")
    written = evaluation.write_report(report, trained.classes, trained.folder / modeldir.EVALUATION, stem)
    if as_json:
        print(json.dumps(report))
    else:
        print(f"evaluation of {trained.folder} on {split.source}")
        print(evaluation.format_report(report, trained.classes))
        print(f"report written to {written[0].parent}")
    return report


def evaluate_main(argv=None) -> int:
    p = argparse.ArgumentParser(prog="evaluate.py", description="Score a trained model on a split file.")
    p.add_argument("--model", type=Path, required=True, help="model folder written by train.py")
    p.add_argument("--split", type=Path, required=True, help="split file (path, type, colour per line)")
    p.add_argument("--batch-size", type=int, default=32)
    p.add_argument("--json", action="store_true", help="print one JSON object")
    p.add_argument("--flip-tta", action="store_true", help=FLIP_TTA_HELP)
    args = p.parse_args(argv)
    _quiet()
    from . import modeldir

    trained = modeldir.load_trained(args.model, flip_tta=args.flip_tta)
    _evaluate(trained, args.split, args.batch_size, args.json)
    return 0


# ---------------------------------------------------------------- predict

def predict_main(argv=None) -> int:
    p = argparse.ArgumentParser(prog="predict.py", description="Predict flower type and colour for photos.")
    p.add_argument("--model", type=Path, required=True, help="model folder written by train.py")
    p.add_argument("images", nargs="+", help="photo files (JPEG, PNG, GIF, ...)")
    p.add_argument("--top-k", type=int, default=1, help="show the k most likely classes per task")
    p.add_argument("--json", action="store_true", help="one JSON object per line")
    p.add_argument("--flip-tta", action="store_true", help=FLIP_TTA_HELP)
    args = p.parse_args(argv)
    _quiet()
    from .modeldir import load_trained
    from .prediction import predict_paths

    trained = load_trained(args.model, flip_tta=args.flip_tta)
    failed = 0
    for outcome in predict_paths(trained, args.images, top_k=args.top_k):
        if isinstance(outcome, UserInputError):
            print(f"error: {outcome}", file=sys.stderr)
            failed += 1
        else:
            print(json.dumps(outcome.to_json()) if args.json else outcome.to_text(), flush=True)
    return 2 if failed else 0
