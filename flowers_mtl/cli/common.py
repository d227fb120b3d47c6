"""What every command shares: one-line errors with an exit status, quiet TensorFlow, and the
default places (relative to the working directory, not to the source checkout)."""

from __future__ import annotations

import os

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")  # before any TensorFlow import: no C++ start-up chatter

import contextlib
import importlib
import logging
import re
import sys
import threading
import traceback
import warnings
from pathlib import Path

from ..errors import TrainingDiverged, UserInputError

SPLITS = Path("data") / "splits"  # where `prepare` writes and `train.py` looks first
SYNTHETIC_DATA = Path("data") / "synthetic"
MODELS = Path("models")
RECIPES = Path(__file__).resolve().parents[2] / "configs"  # the checkout's recipe files
FLIP_TTA_HELP = "average each photo's answer with its mirror image's (twice the compute)"


VERBOSE_FLAG = "--verbose"
DEBUG_FLAG = "--debug"
MODEL_HELP = "model folder written by train.py, or a SavedModel folder or .tflite file written by export.py"
IMAGE_SIZE_HELP = ("run a model folder at this input size instead of its own (the same weights: the network is "
                   "fully convolutional; a size above the training size often scores better, the FixRes effect)")
ENSEMBLE_HELP = "; give --model more than once to average several models' answers (an ensemble, e.g. of seeds)"


def add_max_pixels(parser) -> None:
    """--max-pixels for every command that decodes photos; apply_max_pixels(args) after parsing."""
    from ..data.images import MAX_PIXELS, MAX_PIXELS_HELP

    parser.add_argument("--max-pixels", type=int, default=MAX_PIXELS, help=MAX_PIXELS_HELP)


def apply_max_pixels(args) -> None:
    from ..data.images import set_pixel_limit

    set_pixel_limit(args.max_pixels)


def add_model_flags(parser) -> None:
    """--model (one or several: an ensemble), --flip-tta and --image-size, as evaluate and predict
    take them; `load_models` loads what they name."""
    parser.add_argument("--model", type=Path, required=True, action="append", help=MODEL_HELP + ENSEMBLE_HELP)
    parser.add_argument("--flip-tta", action="store_true", help=FLIP_TTA_HELP)
    parser.add_argument("--image-size", type=int, help=IMAGE_SIZE_HELP)


def load_models(args):
    from ..inference import load_predictors

    return load_predictors(args.model, flip_tta=args.flip_tta, image_size=args.image_size)


def add_verbose(parser) -> None:
    """Every command takes --verbose and --debug; run() reads them before the command parses its flags."""
    parser.add_argument(VERBOSE_FLAG, action="store_true", help=VERBOSE_HELP)
    parser.add_argument(DEBUG_FLAG, action="store_true", help="on an error, show its Python traceback too")


def quiet_tensorflow() -> None:
    """Python-side TensorFlow warnings off, without importing it (a .tflite model never does)."""
    warnings.filterwarnings("ignore", message=r".*`layer\.(apply|updates)`.*")
    logging.getLogger("tensorflow").setLevel(logging.ERROR)  # the logger tf.get_logger() returns


VERBOSE_HELP = "show TensorFlow's C++ start-up lines (CUDA probing, log set-up), hidden by default"
NATIVE_NOISE = re.compile(
    r"^(WARNING: All log messages before absl::InitializeLog\(\) is called"
    r"|[IWE]\d{4} [\d:.]+ +\d+ (cudart_stub|cuda_platform|cuda_executor|cuda_dnn|cuda_fft|cuda_blas|cpu_feature_guard)"
    r"\.cc:\d+\]"
    r"|To enable the following instructions: .* rebuild TensorFlow)"
)


@contextlib.contextmanager
def native_noise_filtered():
    """TensorFlow's C++ start-up lines (CUDA probing on a machine without a GPU, a notice about
    log set-up, one of them an `E0000` that is no error) reach file descriptor 2 before any
    Python setting can stop them. Route descriptor 2 through a pipe and drop exactly those lines;
    everything else passes through in order."""
    sys.stderr.flush()
    real = os.dup(2)
    read_end, write_end = os.pipe()
    os.dup2(write_end, 2)
    os.close(write_end)

    def forward():
        with open(read_end, "rb") as pipe, open(real, "wb", buffering=0, closefd=False) as out:
            for line in pipe:
                if not NATIVE_NOISE.match(line.decode("utf-8", "replace")):
                    out.write(line)

    thread = threading.Thread(target=forward, daemon=True)
    thread.start()
    try:
        yield
    finally:
        sys.stderr.flush()
        os.dup2(real, 2)  # the pipe's last writer closes: the thread sees its end
        thread.join(timeout=5)
        os.close(real)


def run(main, argv=None) -> int:
    """Call a command's main: a user mistake exits 2 and a diverged run 1, each with one line
    (--debug: with its traceback)."""
    args = sys.argv[1:] if argv is None else argv
    with contextlib.nullcontext() if VERBOSE_FLAG in args else native_noise_filtered():
        return _run(main, argv, debug=DEBUG_FLAG in args)


def run_module(name: str, argv=None) -> int:
    """run() for a command whose module imports TensorFlow at its top (the tools): the import
    happens inside the stderr filter."""
    return run(lambda args: importlib.import_module(name).main(args), argv)


def _run(main, argv, debug: bool = False) -> int:
    try:
        return main(argv)
    except (UserInputError, TrainingDiverged) as err:
        if debug:
            traceback.print_exc()
        print(f"error: {err}", file=sys.stderr)
        return 2 if isinstance(err, UserInputError) else 1
    except KeyboardInterrupt:
        print("interrupted: rerun the same command to resume from the last checkpoint", file=sys.stderr)
        return 130
