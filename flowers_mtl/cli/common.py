"""What every command shares: one-line errors with an exit status, quiet TensorFlow, and the
default places (relative to the working directory, not to the source checkout)."""

from __future__ import annotations

import os

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")  # before any TensorFlow import: no C++ start-up chatter

import sys
import warnings
from pathlib import Path

from ..errors import TrainingDiverged, UserInputError

SPLITS = Path("data") / "splits"  # where `prepare` writes and `train.py` looks first
SYNTHETIC_DATA = Path("data") / "synthetic"
MODELS = Path("models")
RECIPES = Path(__file__).resolve().parents[2] / "configs"  # the checkout's recipe files
FLIP_TTA_HELP = "average each photo's answer with its mirror image's (twice the compute)"


def quiet_tensorflow() -> None:
    warnings.filterwarnings("ignore", message=r".*`layer\.(apply|updates)`.*")
    import tensorflow as tf

    tf.get_logger().setLevel("ERROR")


def run(main, argv=None) -> int:
    """Call a command's main: a user mistake exits 2 and a diverged run 1, each with one line."""
    try:
        return main(argv)
    except UserInputError as err:
        print(f"error: {err}", file=sys.stderr)
        return 2
    except TrainingDiverged as err:
        print(f"error: {err}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print("interrupted: rerun the same command to resume from the last checkpoint", file=sys.stderr)
        return 130
