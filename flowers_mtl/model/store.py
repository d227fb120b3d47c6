"""A trained model's folder: what is in it, and loading it back for inference.

    model.json        the ModelSpec: tasks and classes, layout, input size, preprocessing
    config.json       the training run's settings (written by training; not needed to load)
    classes.json      the data's class names per task (a single-task model answers a subset)
    checkpoints/      latest training state (model + optimizer + step) for resuming
    best/             the model weights that scored best on validation, and their scores
    logs/             TensorBoard scalars
    evaluation/       reports written by evaluate.py

Loading needs model.json and weights only. Folders written before model.json existed (config.json
alone) still load: their spec is rebuilt from config.json and classes.json.
"""

from __future__ import annotations

import dataclasses
import json
import re
import shutil
import sys
from dataclasses import dataclass
from functools import cached_property
from pathlib import Path

import numpy as np
import tensorflow as tf

from .. import files
from ..errors import UserInputError, read_json
from ..spec import CLASSES_FILE, CONFIG_FILE, SPEC_FILE, ClassNames, ModelSpec, read_spec
from .layer import MultiTaskSqueezeNet, build_model, probability_fn

CHECKPOINTS = "checkpoints"
BEST = "best"
BEST_PREFIX = "model"
BEST_METRICS = "metrics.json"
LOGS = "logs"
EVALUATION = "evaluation"


def folder_classes(folder: Path) -> ClassNames:
    path = Path(folder) / CLASSES_FILE
    return ClassNames.from_json(read_json(path), str(path))


def read_model_spec(folder: Path | str) -> ModelSpec:
    folder = Path(folder)
    if (folder / SPEC_FILE).is_file():
        return read_spec(folder)
    if (folder / CONFIG_FILE).is_file() and (folder / CLASSES_FILE).is_file():
        return _legacy_spec(folder)
    raise UserInputError(f"{folder}: not a model folder (no {SPEC_FILE}); train one with train.py --out {folder}")


def _legacy_spec(folder: Path) -> ModelSpec:
    """The spec of a folder from before model.json: the network settings of its flat config.json
    (the preprocessing then was this version's default), classes narrowed to its tasks."""
    path = folder / CONFIG_FILE
    raw = read_json(path)
    if not isinstance(raw, dict) or "model" in raw:
        raise UserInputError(f"{folder}: {SPEC_FILE} is missing (and {path} is not an older flat config); retrain")
    classes = folder_classes(folder)
    tasks = raw.get("tasks") or classes.tasks
    keys = ("image_size", "split_after", "sharing", "dropout_keep_prob")
    return ModelSpec.from_json({key: raw[key] for key in keys if key in raw} | {"classes": classes.only(tasks).to_json()},
                               str(path))


def best_prefix(folder: Path) -> str:
    return str(Path(folder) / BEST / BEST_PREFIX)


def save_weights(model: MultiTaskSqueezeNet, prefix: str) -> None:
    """The model's weights alone (no optimiser)."""
    tf.train.Checkpoint(model=model).write(prefix)


def save_best(model: MultiTaskSqueezeNet, folder: Path, metrics: dict) -> None:
    """best/ (weights and their scores) written aside and renamed into place: a kill at any
    moment leaves the previous best/ or the new one, never a cut one."""
    final = Path(folder) / BEST
    aside = files.partial_folder(final)
    save_weights(model, str(aside / BEST_PREFIX))
    files.write_text(aside / BEST_METRICS, json.dumps(metrics, indent=1) + "\n")
    files.replace_folder(aside, final)


def clean_leftovers(folder: Path) -> None:
    """What a killed run leaves: a half-written best/ and TensorFlow's *_temp checkpoint parts."""
    folder = Path(folder)
    for leftover in [folder / (BEST + files.PARTIAL), *(folder / CHECKPOINTS).glob("*_temp*"),
                     *(folder / BEST).glob("*_temp*")]:
        if leftover.is_dir():
            shutil.rmtree(leftover, ignore_errors=True)
        else:
            leftover.unlink(missing_ok=True)


def training_checkpoints(folder: Path) -> list[str]:
    """The prefixes of checkpoints/, newest first, from the files themselves (not from the
    `checkpoint` state file, which a kill may leave pointing at a cut one)."""
    numbered = []
    for index in (Path(folder) / CHECKPOINTS).glob("ckpt-*.index"):
        match = re.fullmatch(r"ckpt-(\d+)\.index", index.name)
        if match:
            numbered.append((int(match.group(1)), str(index.with_suffix(""))))
    return [prefix for _, prefix in sorted(numbered, reverse=True)]


def best_checkpoints(folder: Path) -> list[str]:
    return [str(copy / BEST_PREFIX) for copy in files.complete_copies(Path(folder) / BEST)
            if (copy / (BEST_PREFIX + ".index")).is_file()]


def checkpoint_problem(prefix: str) -> str | None:
    """Why a checkpoint cannot be used (unreadable, cut, or holding NaN/infinite values), or None."""
    try:
        reader = tf.train.load_checkpoint(prefix)
        for name, dtype in reader.get_variable_to_dtype_map().items():
            if dtype.is_floating:
                values = reader.get_tensor(name)  # (infinity is fine outside the weights: best_score starts at -inf)
                if np.isnan(values).any() or (name.startswith("model/") and not np.isfinite(values).all()):
                    return f"{name.split('/.ATTRIBUTES')[0]} holds NaN or infinite values"
    except tf.errors.OpError as err:
        return err.message.splitlines()[0]
    except (ValueError, IndexError) as err:  # IndexError: a data file shorter than its index says
        return str(err).splitlines()[0]
    return None


def warn(message: str) -> None:
    print(f"warning: {message}", file=sys.stderr)


def first_usable(prefixes: list[str], on_damaged=warn) -> str | None:
    """The first checkpoint that reads back whole with finite values; each damaged one is named."""
    for prefix in prefixes:
        problem = checkpoint_problem(prefix)
        if problem is None:
            return prefix
        on_damaged(f"{prefix} is damaged ({problem}); trying an older copy")
    return None


@dataclass
class TrainedModel:
    """A model restored from its folder, ready to turn pixels into probabilities."""

    folder: Path
    model: MultiTaskSqueezeNet
    checkpoint: str
    flip_tta: bool = False

    def __post_init__(self):
        self._probabilities = probability_fn(self.model, self.flip_tta)

    @property
    def spec(self) -> ModelSpec:
        return self.model.spec

    @property
    def source(self) -> Path:
        return self.folder

    @property
    def kind(self) -> str:
        return "checkpoint"

    @property
    def report_dir(self) -> Path:
        return self.folder / EVALUATION

    @property
    def classes(self) -> ClassNames:
        """Of the tasks the model answers."""
        return self.spec.classes

    @property
    def image_size(self) -> int:
        return self.spec.image_size

    @cached_property
    def all_classes(self) -> ClassNames:
        """Every task of the data's classes.json (a single-task model answers only one of them)."""
        return folder_classes(self.folder) if (self.folder / CLASSES_FILE).is_file() else self.classes

    def probabilities(self, images) -> dict[str, np.ndarray]:
        """float RGB pixels (N, S, S, 3) in 0..255 -> {task: (N, classes)}."""
        return {task: value.numpy() for task, value in self._probabilities(tf.convert_to_tensor(images, tf.float32)).items()}


def load_trained(folder: Path | str, flip_tta: bool = False, on_damaged=warn, image_size: int | None = None
                 ) -> TrainedModel:
    """The best-on-validation weights if there are any, else the latest training checkpoint; a
    damaged copy (a kill mid-write, a cut file) is named and the next one tried. `image_size`
    feeds the network photos of another size than it was trained at: it is fully convolutional
    up to a global average pool, so the same weights apply (a larger size can score better)."""
    folder = Path(folder)
    spec = read_model_spec(folder)
    if image_size:
        spec = dataclasses.replace(spec, image_size=image_size)
        spec.validate()
    candidates = best_checkpoints(folder) + training_checkpoints(folder)
    if not candidates:
        raise UserInputError(f"{folder}: no trained weights yet (no checkpoint in {BEST}/ or {CHECKPOINTS}/)")
    checkpoint = first_usable(candidates, on_damaged)
    if checkpoint is None:
        raise UserInputError(f"{folder}: every checkpoint is damaged ({', '.join(candidates)}); retrain")
    model = build_model(spec)
    try:
        tf.train.Checkpoint(model=model).read(checkpoint).expect_partial().assert_existing_objects_matched()
    except (AssertionError, ValueError, tf.errors.OpError) as err:
        raise UserInputError(f"{checkpoint}: the weights do not fit {folder / SPEC_FILE} (was it edited?): "
                             f"{str(err).splitlines()[0][:200]}") from None
    return TrainedModel(folder, model, checkpoint, flip_tta)


def warm_start(model: MultiTaskSqueezeNet, folder: Path | str) -> int:
    """Copy a trained model's weights (best/, as load_trained picks them) into `model`, to train it
    further: the same classes and layout, any input size. Returns how many tensors were copied."""
    trained = load_trained(folder, image_size=model.spec.image_size)
    differences = model.spec.differences(trained.spec)
    if differences:
        raise UserInputError(f"--pretrained {folder}: that model differs from this run's ({'; '.join(differences)}, "
                             "this run != the model's); a trained model can only be trained further as it is")
    for mine, theirs in zip(model.variables, trained.model.variables, strict=True):
        mine.assign(theirs)
    return len(model.variables)


def read_best_metrics(folder: Path) -> dict | None:
    """best/metrics.json, or None when there is none or it is damaged (it is only a record)."""
    for copy in files.complete_copies(Path(folder) / BEST):
        try:
            metrics = json.loads((copy / BEST_METRICS).read_text())
        except (OSError, ValueError):
            continue
        if isinstance(metrics, dict):
            return metrics
    return None
