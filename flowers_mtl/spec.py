"""What a trained model *is*, apart from how it was trained: its tasks and class names, its
layout, its input size and the preprocessing contract that turns a photo into its input.

Saved as `model.json` in every model folder; building, loading, resuming, exporting and serving
read it, and nothing else, to know the model (timm's `pretrained_cfg`, nanoGPT's `GPTConfig`).
No TensorFlow here, so tools that only need to describe a model stay light.
"""

from __future__ import annotations

import dataclasses
import json
import types
import typing
from dataclasses import dataclass, field
from pathlib import Path

from . import architecture, files
from .errors import UserInputError, read_json

SPEC_FILE = "model.json"
CLASSES_FILE = "classes.json"  # class names per task: beside the split files, and in every model folder
CONFIG_FILE = "config.json"  # a training run's settings, in its model folder
ARCHITECTURE = "squeezenet_v1.1_mtl"
SHARINGS = ("hard", "soft")
RESIZES = ("squash", "center_crop")
RESAMPLES = ("nearest", "bilinear", "bicubic", "lanczos")


@dataclass(frozen=True)
class ClassNames:
    """Class names per task, in the order that defines the integer ids and the logits."""

    by_task: dict[str, tuple[str, ...]]

    @property
    def tasks(self) -> tuple[str, ...]:
        return tuple(self.by_task)

    def num_classes(self) -> dict[str, int]:
        return {task: len(names) for task, names in self.by_task.items()}

    def only(self, tasks) -> ClassNames:
        """The same classes for a subset of the tasks (a single-task model, say)."""
        return ClassNames({task: self.by_task[task] for task in tasks})

    def to_json(self) -> dict[str, list[str]]:
        return {task: list(names) for task, names in self.by_task.items()}

    @classmethod
    def from_json(cls, raw, where: str) -> ClassNames:
        if not isinstance(raw, dict) or not raw:
            raise UserInputError(f"{where}: expected an object mapping each task to its list of class names")
        by_task = {}
        for task, names in raw.items():
            if not isinstance(names, list) or len(names) < 2 or not all(isinstance(n, str) and n for n in names):
                raise UserInputError(f"{where}: task {task!r} needs a list of at least two non-empty class names")
            if len(set(names)) != len(names):
                raise UserInputError(f"{where}: task {task!r} names a class twice")
            by_task[task] = tuple(names)
        return cls(by_task)

    def save(self, path: Path) -> None:
        files.write_text(path, json.dumps(self.to_json(), indent=1) + "\n")


@dataclass(frozen=True)
class Preprocessing:
    """How a photo file becomes S x S x 3 input pixels, decided once for training, evaluation,
    prediction and export. The first four are choices; the last three are fixed by the ImageNet
    weights (Caffe's SqueezeNet) and recorded so that an exporter needs nothing else."""

    resize: str = field(default="squash", metadata={
        "help": "how a photo becomes square: squash (the whole photo, aspect ratio changed) or center_crop "
        "(the largest centred square)", "choices": RESIZES})
    resample: str = field(default="bilinear", metadata={
        "help": "resampling filter of the resize", "choices": RESAMPLES})
    exif_transpose: bool = field(default=True, metadata={
        "help": "turn photos upright by their EXIF orientation (phone photos) before anything else"})
    jpeg_draft: bool = field(default=True, metadata={
        "help": "decode JPEGs at a reduced DCT scale (still at least the input size) before resizing: several "
        "times faster on large photos"})
    alpha_background: tuple[int, int, int] = field(default=(255, 255, 255), metadata={"flag": False})
    channel_order: str = field(default="BGR", metadata={"flag": False})
    mean: tuple[float, float, float] = field(default=(104.0, 117.0, 123.0), metadata={"flag": False})


@dataclass(frozen=True)
class ModelSpec:
    """Everything needed to rebuild the network and feed it; `classes` is None in a run's
    settings until the data's classes.json is read."""

    classes: ClassNames | None = field(default=None, metadata={"flag": False})
    image_size: int = field(default=224, metadata={"help": "input size S in pixels (S x S)"})
    split_after: str = field(default=architecture.DEFAULT_SPLIT, metadata={
        "help": "where the trunk splits into task heads", "choices": architecture.SPLIT_POINTS})
    sharing: str = field(default="hard", metadata={
        "help": "hard (one trunk) or soft (a trunk per task, pulled together by --soft-weight)", "choices": SHARINGS})
    dropout_keep_prob: float = field(default=0.5, metadata={"help": "keep probability of the dropout before conv10"})
    preprocessing: Preprocessing = Preprocessing()
    architecture: str = field(default=ARCHITECTURE, metadata={"flag": False})

    def validate(self) -> None:
        """Settings a network can be built from; messages name the flag."""
        if self.image_size < 32:
            raise UserInputError(f"--image-size must be at least 32 (SqueezeNet pools three times), got {self.image_size}")
        if not 0 < self.dropout_keep_prob <= 1:
            raise UserInputError(f"--dropout-keep-prob must be in (0, 1], got {self.dropout_keep_prob}")
        check_choices(self)
        check_choices(self.preprocessing)
        if self.architecture != ARCHITECTURE:
            raise UserInputError(f"architecture {self.architecture!r} is not one this version builds ({ARCHITECTURE})")

    def with_classes(self, classes: ClassNames) -> ModelSpec:
        return dataclasses.replace(self, classes=classes)

    def to_json(self) -> dict:
        raw = dataclasses.asdict(self)
        raw["classes"] = self.classes.to_json() if self.classes else None
        return raw

    @classmethod
    def from_json(cls, raw, where: str) -> ModelSpec:
        raw = dict(check_keys(raw, cls, where))
        if raw.get("classes") is not None:
            raw["classes"] = ClassNames.from_json(raw["classes"], f"{where}: classes")
        if "preprocessing" in raw:
            prep = dict(check_keys(raw["preprocessing"], Preprocessing, f"{where}: preprocessing"))
            for key in ("alpha_background", "mean"):
                if key in prep:
                    prep[key] = tuple(prep[key])
            raw["preprocessing"] = Preprocessing(**prep)
        spec = cls(**raw)
        spec.validate()
        return spec

    def save(self, folder: Path) -> None:
        files.write_text(Path(folder) / SPEC_FILE, json.dumps(self.to_json(), indent=1) + "\n")

    def differences(self, other: ModelSpec) -> list[str]:
        """`name: mine != other's` for every setting that differs (nested ones dotted)."""
        return [f"{key}: {a!r} != {b!r}" for key, (a, b) in _diff(self.to_json(), other.to_json()).items()]


def read_spec(folder: Path) -> ModelSpec:
    path = Path(folder) / SPEC_FILE
    try:
        return ModelSpec.from_json(read_json(path), str(path))
    except UserInputError as err:
        message = str(err)
        raise UserInputError(message if message.startswith(str(path)) else f"{path}: {message}") from None


def check_choices(settings) -> None:
    """Every field of a settings dataclass whose metadata lists its `choices` holds one of them."""
    for f in dataclasses.fields(settings):
        allowed, value = f.metadata.get("choices"), getattr(settings, f.name)
        if allowed is not None and value not in allowed:
            raise UserInputError(f"--{f.name.replace('_', '-')} must be one of {', '.join(allowed)}, got {value!r}")


def check_keys(raw, cls, where: str) -> dict:
    """A JSON object whose keys are all fields of the dataclass `cls`."""
    if not isinstance(raw, dict):
        raise UserInputError(f"{where}: expected a JSON object of settings")
    unknown = sorted(set(raw) - {f.name for f in dataclasses.fields(cls)})
    if unknown:
        raise UserInputError(f"{where}: unknown settings {', '.join(unknown)} (written by a newer flowers-mtl?)")
    hints = typing.get_type_hints(cls)
    for key, value in raw.items():
        if not _fits(value, hints[key]):
            raise UserInputError(f"{where}: {key} should be {_type_name(hints[key])}, got {json.dumps(value)}")
    return raw


def _fits(value, hint) -> bool:
    """Whether a JSON value can stand for a field typed `hint` (a nested dataclass is checked by
    its own from_json; an int may stand for a float, never a bool for a number)."""
    origin, args = typing.get_origin(hint), typing.get_args(hint)
    if origin in (typing.Union, types.UnionType):
        return any(_fits(value, arg) for arg in args)
    if hint is type(None):
        return value is None
    if dataclasses.is_dataclass(hint) or hint is ClassNames:
        return isinstance(value, dict) or value is None
    if hint is float:
        return isinstance(value, (int, float)) and not isinstance(value, bool)
    if hint is int:
        return isinstance(value, int) and not isinstance(value, bool)
    if origin in (list, tuple):
        return isinstance(value, (list, tuple)) and all(_fits(v, args[0]) for v in value)
    if origin is dict:
        return isinstance(value, dict) and all(_fits(v, args[1]) for v in value.values())
    return isinstance(value, hint)


def _type_name(hint) -> str:
    return str(hint).replace("typing.", "").replace("<class '", "").replace("'>", "")


def _diff(a: dict, b: dict, prefix: str = "") -> dict:
    out = {}
    for key in dict.fromkeys([*a, *b]):
        x, y = a.get(key), b.get(key)
        if isinstance(x, dict) and isinstance(y, dict) and key != "classes":
            out |= _diff(x, y, f"{prefix}{key}.")
        elif x != y:
            out[prefix + key] = (x, y)
    return out
