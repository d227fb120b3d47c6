"""A split stored as TFRecord shards: the manifest that describes them (TensorFlow-free).

`prepare --format tfrecord` decodes every photo once, resizes it by the preprocessing contract
and writes it, JPEG-encoded, into N shard files; `NAME.shards.json` beside them lists the shards,
the size and contract the photos were made for, and every photo's original path, line and labels
(the labels travel in the records too). Reading the manifest gives an ordinary `Split` whose
`shards` field says where the pixels are, so training, validation and evaluation take either.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from ..errors import UserInputError, read_json
from ..spec import ClassNames, ModelSpec, Preprocessing
from .splits import UNKNOWN, Split

SUFFIX = ".shards.json"
FORMAT = "flowers-mtl tfrecord 1"
# Each record: the photo as JPEG, its row in the manifest's photo list, and its labels.
IMAGE_KEY, ROW_KEY, LABELS_KEY = "image/encoded", "row", "labels"


@dataclass(frozen=True)
class Shards:
    files: tuple[str, ...]
    photos_per_file: tuple[int, ...]
    image_size: int
    preprocessing: Preprocessing

    def check_fits(self, image_size: int, contract: Preprocessing, source) -> None:
        """The stored photos were made for one image size and contract; a model needs the same."""
        if image_size != self.image_size or contract != self.preprocessing:
            raise UserInputError(
                f"{source}: the shards hold {self.image_size}px photos made with {self.preprocessing}, the model "
                f"needs {image_size}px with {contract}; rerun prepare --format tfrecord --image-size {image_size}"
            )


def is_manifest(path: Path | str) -> bool:
    return str(path).endswith(SUFFIX)


def manifest_name(split_name: str) -> str:
    return f"{split_name}{SUFFIX}"


def shard_name(split_name: str, index: int, count: int) -> str:
    return f"{split_name}-{index:05d}-of-{count:05d}.tfrecord"


def manifest_json(shards: Shards, split: Split, folder: Path) -> dict:
    """The manifest of `split` written as `shards` in `folder` (shard paths relative to it)."""
    return {
        "format": FORMAT,
        "made_for": {"image_size": shards.image_size, "preprocessing": dataclasses.asdict(shards.preprocessing)},
        "tasks": list(split.classes.tasks),
        "from": str(split.source),
        "shards": [{"file": Path(f).name, "photos": n} for f, n in zip(shards.files, shards.photos_per_file)],
        "photos": [[path, line, *map(int, labels)]
                   for path, line, labels in zip(split.paths, split.line_numbers, split.labels)],
    }


def read_manifest(path: Path | str, classes: ClassNames) -> Split:
    """A sharded split, checked against `classes` and its shard files, as a Split."""
    path = Path(path)
    raw = read_json(path)
    try:
        if raw.get("format") != FORMAT:
            raise UserInputError(f"{path}: not a flowers-mtl shard manifest (format {raw.get('format')!r}, "
                                 f"expected {FORMAT!r})")
        tasks = tuple(raw["tasks"])
        made_for = ModelSpec.from_json(raw["made_for"], f"{path}: made_for")  # (the spec's own checks)
        shards = Shards(
            files=tuple(str(path.parent / entry["file"]) for entry in raw["shards"]),
            photos_per_file=tuple(int(entry["photos"]) for entry in raw["shards"]),
            image_size=made_for.image_size,
            preprocessing=made_for.preprocessing,
        )
        photos = raw["photos"]
        labels = np.asarray([row[2:] for row in photos], dtype=np.int32).reshape(len(photos), len(tasks))
        split = Split(path, tuple(str(row[0]) for row in photos), labels, tuple(int(row[1]) for row in photos),
                      ClassNames({task: classes.by_task[task] for task in tasks}), shards)
    except (KeyError, TypeError, ValueError, AttributeError) as err:
        raise UserInputError(f"{path}: damaged shard manifest ({type(err).__name__}: {err})") from None
    _check(path, split, classes)
    return split


def _check(path: Path, split: Split, classes: ClassNames) -> None:
    if tuple(classes.tasks) != split.classes.tasks:
        raise UserInputError(f"{path}: made for the tasks {', '.join(split.classes.tasks)}, classes.json has "
                             f"{', '.join(classes.tasks)}")
    for i, (task, names) in enumerate(split.classes.by_task.items()):
        column = split.labels[:, i]
        if ((column < UNKNOWN) | (column >= len(names))).any():
            raise UserInputError(f"{path}: a {task} label is outside 0..{len(names) - 1} (was classes.json changed?)")
    missing = [f for f in split.shards.files if not Path(f).is_file()]
    if missing:
        raise UserInputError(f"{path}: {len(missing)} shard file(s) not found, e.g. {missing[0]}")
    if sum(split.shards.photos_per_file) != len(split):
        raise UserInputError(f"{path}: its shards hold {sum(split.shards.photos_per_file)} photos, its list {len(split)}")
    if not len(split):
        raise UserInputError(f"{path}: the split is empty (no photos)")
