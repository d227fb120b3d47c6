"""What every command shares: one-line errors with an exit status, quiet TensorFlow, and the
default places (relative to the working directory, not to the source checkout)."""

from __future__ import annotations

import os

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")  # before any TensorFlow import: no C++ start-up chatter

import logging
import sys
import warnings
from pathlib import Path

from ..errors import TrainingDiverged, UserInputError

SPLITS = Path("data") / "splits"  # where `prepare` writes and `train.py` looks first
SYNTHETIC_DATA = Path("data") / "synthetic"
MODELS = Path("models")
RECIPES = Path(__file__).resolve().parents[2] / "configs"  # the checkout's recipe files
FLIP_TTA_HELP = "average each photo's answer with its mirror image's (twice the compute)"


MODEL_HELP = "model folder written by train.py, or a SavedModel folder or .tflite file written by export.py"


def quiet_tensorflow() -> None:
    """Python-side TensorFlow warnings off, without importing it (a .tflite model never does)."""
    warnings.filterwarnings("ignore", message=r".*`layer\.(apply|updates)`.*")
    logging.getLogger("tensorflow").setLevel(logging.ERROR)  # the logger tf.get_logger() returns


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
