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

import json
from dataclasses import dataclass
from functools import cached_property
from pathlib import Path

import numpy as np
import tensorflow as tf

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


def best_checkpoint(folder: Path) -> str | None:
    prefix = best_prefix(folder)
    return prefix if Path(prefix + ".index").is_file() else None


def save_weights(model: MultiTaskSqueezeNet, prefix: str) -> None:
    """The model's weights alone (no optimiser): what best/ holds."""
    tf.train.Checkpoint(model=model).write(prefix)


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


def load_trained(folder: Path | str, flip_tta: bool = False) -> TrainedModel:
    """The best-on-validation weights if there are any, else the latest training checkpoint."""
    folder = Path(folder)
    spec = read_model_spec(folder)
    checkpoint = best_checkpoint(folder) or tf.train.latest_checkpoint(str(folder / CHECKPOINTS))
    if checkpoint is None:
        raise UserInputError(f"{folder}: no trained weights yet (no checkpoint in {BEST}/ or {CHECKPOINTS}/)")
    model = build_model(spec)
    tf.train.Checkpoint(model=model).read(checkpoint).expect_partial().assert_existing_objects_matched()
    return TrainedModel(folder, model, checkpoint, flip_tta)


def read_best_metrics(folder: Path) -> dict | None:
    path = Path(folder) / BEST / BEST_METRICS
    return json.loads(path.read_text()) if path.is_file() else None
