"""Reading `classes.json` and split files (`path, type, colour` per line).

Every problem is reported as `file:line: what is wrong`, so a user with a 2,000-line split file
can go straight to the mistake.
"""

from __future__ import annotations

import csv
import dataclasses
import os
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from ..errors import UserInputError, read_json
from ..spec import CLASSES_FILE, ClassNames

if TYPE_CHECKING:
    from .shards import Shards

UNKNOWN = -1
SPLIT_NAMES = ("train", "val", "test")  # the files a data folder holds: NAME.txt (or NAME.shards.json)
UNKNOWN_TOKENS = ("-1", "?")


def load_classes(path: Path | str) -> ClassNames:
    path = Path(path)
    if not path.is_file():
        raise UserInputError(f"{path}: classes file not found (expected {{\"type\": [...], \"colour\": [...]}})")
    return ClassNames.from_json(read_json(path), str(path))


@dataclass(frozen=True)
class Split:
    """One split file, read and checked: image paths and an int label array (N, tasks), -1 unknown.
    A split read from TFRecord shards (data/shards.py) says where its pixels are in `shards`."""

    source: Path
    paths: tuple[str, ...]
    labels: np.ndarray
    line_numbers: tuple[int, ...]
    classes: ClassNames
    shards: Shards | None = None
    row_sources: tuple[Path, ...] | None = None  # per photo, when joined from several files (join_splits)

    def __len__(self) -> int:
        return len(self.paths)

    def where(self, row: int) -> str:
        """`file:line` of photo `row`, for messages."""
        source = self.row_sources[row] if self.row_sources else self.source
        return f"{source}:{self.line_numbers[row]}"

    def only(self, tasks) -> Split:
        """The same photos with the label columns of `tasks` only."""
        columns = [self.classes.tasks.index(task) for task in tasks]
        return dataclasses.replace(self, labels=self.labels[:, columns], classes=self.classes.only(tasks))


def join_splits(splits: list[Split]) -> Split:
    """Several split files read as one (train.py --refit trains on train + val); each photo keeps
    its file and line for messages. Split files only: shards are not joined."""
    first = splits[0]
    for split in splits:
        if split.shards:
            raise UserInputError(f"{split.source}: sharded splits cannot be joined; join the split files and write "
                                 "the shards from them (prepare --from-splits)")
        if split.classes != first.classes:
            raise UserInputError(f"{split.source}: other classes than {first.source}")
    return Split(
        source=Path(" + ".join(str(split.source) for split in splits)),
        paths=tuple(path for split in splits for path in split.paths),
        labels=np.concatenate([split.labels for split in splits]),
        line_numbers=tuple(line for split in splits for line in split.line_numbers),
        classes=first.classes,
        row_sources=tuple(split.source for split in splits for _ in split.paths),
    )


def parse_label(token: str, names: tuple[str, ...], task: str, where: str) -> int:
    if token in UNKNOWN_TOKENS:
        return UNKNOWN
    if token in names:
        return names.index(token)
    try:
        value = int(token)
    except ValueError:
        raise UserInputError(
            f"{where}: {task} {token!r} is neither an integer id nor one of {', '.join(names)}"
        ) from None
    if not 0 <= value < len(names):
        raise UserInputError(f"{where}: {task} id {value} out of range 0..{len(names) - 1} (or -1 for unknown)")
    return value


def check_split_file(path: Path | str) -> None:
    """A split path names a file: checked before anything else reads beside it (classes.json)."""
    path = Path(path)
    if path.is_dir():
        raise UserInputError(f"{path}: is a folder, not a split file (lines of: path, type, colour, or a "
                             "NAME.shards.json)")
    if not path.is_file():
        raise UserInputError(f"{path}: split file not found")


def read_split(path: Path | str, classes: ClassNames, check_files: bool = True) -> Split:
    """Read a split file; relative image paths are resolved against the split file's folder. A UTF-8
    byte-order mark (Windows editors write one) is not part of the first path. A NAME.shards.json
    manifest is read as the sharded split it describes."""
    check_split_file(path)
    path = Path(path)
    from .shards import is_manifest, read_manifest  # (it builds on Split)

    if is_manifest(path):
        return read_manifest(path, classes)
    tasks = classes.tasks
    paths, labels, line_numbers, missing = [], [], [], []
    for number, raw_line in enumerate(path.read_text(encoding="utf-8-sig", errors="replace").splitlines(), start=1):
        line = raw_line.strip()
        if not line or line.startswith("#"):
            continue
        where = f"{path}:{number}"
        # CSV rules: a path holding a comma is written in double quotes.
        fields = [field.strip() for field in next(csv.reader([line], skipinitialspace=True))]
        if len(fields) != 1 + len(tasks):
            raise UserInputError(
                f"{where}: expected {1 + len(tasks)} comma-separated fields (path, {', '.join(tasks)}), got {len(fields)}"
            )
        image = Path(fields[0])
        if not fields[0]:
            raise UserInputError(f"{where}: empty image path")
        if not image.is_absolute():
            image = Path(os.path.normpath(path.parent / image))  # `seed/../images/x.jpg` -> `images/x.jpg`
        row = [parse_label(token, classes.by_task[task], task, where) for task, token in zip(tasks, fields[1:])]
        if check_files and not image.is_file():
            missing.append(f"{where}: image not found: {image}")
        paths.append(str(image))
        labels.append(row)
        line_numbers.append(number)
    if missing:
        listing = "\n".join(missing)
        raise UserInputError(f"{path}: {len(missing)} image file(s) not found:\n{listing}")
    if not paths:
        raise UserInputError(f"{path}: the split is empty (no image lines)")
    return Split(
        source=path,
        paths=tuple(paths),
        labels=np.asarray(labels, dtype=np.int32).reshape(len(paths), len(tasks)),
        line_numbers=tuple(line_numbers),
        classes=classes,
    )


def split_files(folder: Path, flag: str = "--data") -> dict[str, Path]:
    """{name: NAME.txt} for the splits a data folder holds (at least one), in SPLIT_NAMES order;
    `flag` names the option the folder came from in the error."""
    folder = Path(folder)
    if not folder.is_dir():
        raise UserInputError(f"{folder}: {flag} must be a folder holding split files and {CLASSES_FILE}")
    found = {name: folder / f"{name}.txt" for name in SPLIT_NAMES if (folder / f"{name}.txt").is_file()}
    if not found:
        raise UserInputError(f"{folder}: no split file ({', '.join(n + '.txt' for n in SPLIT_NAMES)}) in the {flag} folder")
    return found
