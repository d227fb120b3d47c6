"""A trained model's folder: what is in it, and loading it back for inference.

    config.json       the TrainConfig of the run
    classes.json      class names per task (their order is the logits' order)
    checkpoints/      latest training state (model + optimizer + step) for resuming
    best/             the model weights that scored best on validation, and their scores
    logs/             TensorBoard scalars
    evaluation/       reports written by evaluate.py
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from functools import cached_property
from pathlib import Path

import numpy as np
import tensorflow as tf

from .config import CLASSES_FILE, TrainConfig
from .errors import UserInputError
from .model import MultiTaskSqueezeNet, probability_fn
from .splits import ClassNames, Split, load_classes, read_split

CHECKPOINTS = "checkpoints"
BEST = "best"
BEST_PREFIX = "model"
BEST_METRICS = "metrics.json"
LOGS = "logs"
EVALUATION = "evaluation"


def build_model(config: TrainConfig, classes: ClassNames) -> MultiTaskSqueezeNet:
    model = MultiTaskSqueezeNet(
        classes.num_classes(),
        split_after=config.split_after,
        dropout_keep_prob=config.dropout_keep_prob,
        weight_decay=config.weight_decay,
        shared_trunk=config.sharing == "hard",
    )
    model.build_variables(config.image_size)
    return model


def best_prefix(folder: Path) -> str:
    return str(Path(folder) / BEST / BEST_PREFIX)


def best_checkpoint(folder: Path) -> str | None:
    prefix = best_prefix(folder)
    return prefix if Path(prefix + ".index").is_file() else None


@dataclass
class TrainedModel:
    """A model restored from its folder, ready to turn pixels into probabilities."""

    folder: Path
    config: TrainConfig
    classes: ClassNames  # of the tasks the model answers
    model: MultiTaskSqueezeNet
    checkpoint: str
    flip_tta: bool = False

    def __post_init__(self):
        self._probabilities = probability_fn(self.model, self.config.image_size, self.flip_tta)

    @property
    def image_size(self) -> int:
        return self.config.image_size

    @cached_property
    def all_classes(self) -> ClassNames:
        """Every task of the data's classes.json (a single-task model answers only one of them)."""
        return load_classes(self.folder / CLASSES_FILE)

    def read_split(self, path) -> Split:
        """A split file read with the data's classes, narrowed to the tasks this model answers."""
        return read_split(path, self.all_classes).only(self.classes.tasks)

    def probabilities(self, images) -> dict[str, np.ndarray]:
        """float RGB pixels (N, S, S, 3) in 0..255 -> {task: (N, classes)}."""
        return {task: value.numpy() for task, value in self._probabilities(tf.convert_to_tensor(images, tf.float32)).items()}


def load_trained(folder: Path | str, flip_tta: bool = False) -> TrainedModel:
    """The best-on-validation weights if there are any, else the latest training checkpoint."""
    folder = Path(folder)
    config = TrainConfig.load(folder)
    all_classes = load_classes(folder / CLASSES_FILE)
    classes = all_classes.only(config.check_tasks(all_classes.tasks))
    checkpoint = best_checkpoint(folder) or tf.train.latest_checkpoint(str(folder / CHECKPOINTS))
    if checkpoint is None:
        raise UserInputError(f"{folder}: no trained weights yet (no checkpoint in {BEST}/ or {CHECKPOINTS}/)")
    model = build_model(config, classes)
    tf.train.Checkpoint(model=model).read(checkpoint).expect_partial().assert_existing_objects_matched()
    return TrainedModel(folder, config, classes, model, checkpoint, flip_tta)


def read_best_metrics(folder: Path) -> dict | None:
    path = Path(folder) / BEST / BEST_METRICS
    return json.loads(path.read_text()) if path.is_file() else None
