"""A data folder's split files read as one table: every line of every split, with its labels.

The audit judges lines, not files: a photo listed in two splits is two entries (and a leak), and
a correction can name the split it applies to.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cached_property
from pathlib import Path

import numpy as np

from ..data.splits import load_classes, read_split, split_files
from ..spec import CLASSES_FILE, ClassNames


@dataclass(frozen=True)
class Entries:
    """Entry i is line `lines[i]` of `splits[i]`.txt; labels (N, tasks), -1 unknown."""

    folder: Path
    classes: ClassNames
    splits: tuple[str, ...]
    lines: tuple[int, ...]
    paths: tuple[str, ...]
    labels: np.ndarray

    def __len__(self) -> int:
        return len(self.paths)

    def label_name(self, task: str, label: int) -> str:
        return "-1" if label < 0 else self.classes.by_task[task][label]

    @cached_property
    def shown_paths(self) -> tuple[str, ...]:
        """Each path relative to the data folder when it lies inside it (as split files write it);
        resolved once, for the report, the page and its thumbnails alike."""
        folder = self.folder.resolve()

        def shown(path: Path) -> str:
            try:
                return str(path.resolve().relative_to(folder))
            except ValueError:
                return str(path)

        return tuple(shown(Path(p)) for p in self.paths)

    def shown_path(self, i: int) -> str:
        return self.shown_paths[i]


def read_entries(folder: Path | str) -> Entries:
    """Every split of the folder; missing photos are kept (the audit reports them as undecodable)."""
    folder = Path(folder)
    files = split_files(folder)
    classes = load_classes(folder / CLASSES_FILE)
    splits, lines, paths, labels = [], [], [], []
    for name, path in files.items():
        split = read_split(path, classes, check_files=False)
        splits += [name] * len(split)
        lines += split.line_numbers
        paths += split.paths
        labels.append(split.labels)
    return Entries(folder, classes, tuple(splits), tuple(lines), tuple(paths), np.concatenate(labels))
