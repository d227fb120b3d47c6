"""corrections.csv -> new split files. The originals are never edited: the corrected splits go
to another folder, so a training can be compared before and after.

    path,task,label,split
    images/daisy/da0042.jpg,type,dandelion,train      relabel (a class name, an id, or -1: unknown)
    images/rose/ro0007.jpg,drop,,test                 drop that line
    images/rose/ro0007.jpg,drop,,                     drop the photo from every split

`path` is as the audit shows it (relative to the data folder) or absolute; `split` is optional.
"""

from __future__ import annotations

import csv
from collections import Counter
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from ..data import prepare
from ..data.splits import SPLIT_NAMES, parse_label
from ..errors import UserInputError
from .entries import Entries

DROP = "drop"
COLUMNS = ("path", "task", "label", "split")


@dataclass(frozen=True)
class Correction:
    where: str  # corrections.csv:LINE
    entries: tuple[int, ...]
    task: str  # a task, or DROP
    label: int


def read_corrections(path: Path, entries: Entries) -> list[Correction]:
    path = Path(path)
    if not path.is_file():
        raise UserInputError(f"{path}: corrections file not found")
    where_is = _index(entries)
    corrections = []
    with path.open(newline="", encoding="utf-8-sig") as handle:
        for number, row in enumerate(csv.reader(handle), start=1):
            row = [cell.strip() for cell in row]
            if not any(row) or row[0].startswith("#") or (number == 1 and row[:2] == ["path", "task"]):
                continue
            corrections.append(_correction(row, f"{path}:{number}", entries, where_is))
    if not corrections:
        raise UserInputError(f"{path}: no corrections in it (lines of: {','.join(COLUMNS)})")
    return corrections


def _index(entries: Entries) -> dict[str, list[int]]:
    index: dict[str, list[int]] = {}
    for i, p in enumerate(entries.paths):
        index.setdefault(str(Path(p).resolve()), []).append(i)
    return index


def _correction(row: list[str], where: str, entries: Entries, where_is: dict[str, list[int]]) -> Correction:
    if len(row) not in (3, 4):
        raise UserInputError(f"{where}: expected {len(COLUMNS)} fields ({', '.join(COLUMNS)}; split may be empty), got {len(row)}")
    shown, task, token, split = (row + [""])[:4]
    if split and split not in SPLIT_NAMES:
        raise UserInputError(f"{where}: split {split!r} is not one of {', '.join(SPLIT_NAMES)}")
    full = Path(shown) if Path(shown).is_absolute() else entries.folder / shown
    matches = [i for i in where_is.get(str(full.resolve()), []) if split in ("", entries.splits[i])]
    if not matches:
        place = f"{split}.txt" if split else "any split"
        raise UserInputError(f"{where}: {shown} is not in {place} of {entries.folder}")
    if task == DROP:
        return Correction(where, tuple(matches), DROP, -1)
    if task not in entries.classes.tasks:
        raise UserInputError(f"{where}: task {task!r} is neither {DROP!r} nor one of {', '.join(entries.classes.tasks)}")
    if not token:
        raise UserInputError(f"{where}: no label for {task} (a class name, an id, or -1 for unknown)")
    label = parse_label(token, entries.classes.by_task[task], task, where)
    return Correction(where, tuple(matches), task, label)


def apply(corrections: list[Correction], entries: Entries) -> tuple[np.ndarray, np.ndarray, Counter]:
    """(corrected labels, kept mask, counts of what changed); two lines disagreeing on one label is an error."""
    labels, kept = entries.labels.copy(), np.ones(len(entries), bool)
    decided: dict[tuple[int, str], Correction] = {}
    changed = Counter()
    for c in corrections:
        for i in c.entries:
            earlier = decided.setdefault((i, c.task), c)
            if earlier.label != c.label:
                raise UserInputError(f"{c.where}: contradicts {earlier.where} on {entries.paths[i]} ({c.task})")
            if c.task == DROP:
                changed["dropped"] += kept[i]
                kept[i] = False
            else:
                t = entries.classes.tasks.index(c.task)
                changed[c.task] += labels[i, t] != c.label
                labels[i, t] = c.label
    return labels, kept, changed


def write_corrected(entries: Entries, labels: np.ndarray, kept: np.ndarray, out: Path) -> list[Path]:
    out = Path(out)
    if out.resolve() == entries.folder.resolve():
        raise UserInputError(f"{out}: --out must be a new folder; the original split files are never edited in place")
    splits = {}
    for name in dict.fromkeys(entries.splits):
        rows = [i for i in range(len(entries)) if entries.splits[i] == name and kept[i]]
        if not rows:
            raise UserInputError(f"the corrections drop every photo of {name}.txt")
        splits[name] = [prepare.Photo(Path(entries.paths[i]), tuple(int(v) for v in labels[i])) for i in rows]
    return prepare.write(prepare.Prepared(splits, entries.classes), out, by="audit.py --apply")


def describe_changes(changed: Counter, entries: Entries) -> str:
    relabelled = ", ".join(f"{task} {changed[task]}" for task in entries.classes.tasks)
    return f"relabelled: {relabelled}; dropped {changed['dropped']} line(s)"
