"""Running any kind of trained model the same way: a model folder (checkpoint), a SavedModel, or a
.tflite file. Each loads into an object with the same face (spec, classes, all_classes,
image_size, flip_tta, source, report_dir, probabilities(pixels)), so predict, evaluate, bench
and serve never ask which kind they hold. A .tflite file loads without TensorFlow when the light
LiteRT interpreter (ai-edge-litert) is installed.
"""

from __future__ import annotations

from pathlib import Path

from ..errors import UserInputError
from ..signature import savedmodel_dir

TFLITE_IDENTIFIER = b"TFL3"  # the flatbuffer file identifier, bytes 4..8 of every .tflite


def model_kind(path: Path | str) -> str:
    """'tflite', 'savedmodel' or 'folder' (a training model folder), judged by what is on disk."""
    path = Path(path)
    if not path.exists():
        raise UserInputError(f"{path}: no such model (give a model folder, a SavedModel folder or a .tflite file)")
    if path.is_file():
        with open(path, "rb") as handle:
            if handle.read(8)[4:] == TFLITE_IDENTIFIER:
                return "tflite"
        raise UserInputError(f"{path}: not a model (give a model folder, a SavedModel folder or a .tflite file)")
    return "savedmodel" if savedmodel_dir(path) else "folder"


def load_predictor(path: Path | str, flip_tta: bool = False, image_size: int | None = None):
    """The model at `path`, whatever its kind, ready for probabilities(pixels); `image_size`
    (a model folder only) runs it at another input size than it was trained at."""
    kind = model_kind(path)
    if image_size and kind != "folder":
        raise UserInputError(f"{path}: --image-size needs a model folder; an exported model's input size is fixed")
    if kind == "tflite":
        from .litert import load_tflite

        return load_tflite(Path(path), flip_tta)
    if kind == "savedmodel":
        from .savedmodel import load_savedmodel

        return load_savedmodel(Path(path), flip_tta)
    from ..model.store import load_trained

    return load_trained(path, flip_tta, image_size=image_size)


def load_predictors(paths, flip_tta: bool = False, image_size: int | None = None):
    """One model, or several averaged as one (inference.ensemble)."""
    members = [load_predictor(path, flip_tta, image_size) for path in paths]
    if len(members) == 1:
        return members[0]
    from .ensemble import Ensemble

    return Ensemble(members)
