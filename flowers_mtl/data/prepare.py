"""Making train/val/test split files from a folder of photos or a CSV.

    python -m flowers_mtl.prepare --from-folder ROOT --out data/splits   (cli/prepare.py)
        ROOT/<type>/<colour>/*.jpg   (a colour folder named `unknown` means colour unknown)
    python -m flowers_mtl.prepare --from-csv photos.csv --out data/splits
        lines `path,type,colour` with class names (or ids with --classes classes.json)

Splits are stratified by (type, colour) with scikit-learn and deterministic for a seed; every
photo is opened with Pillow first, and byte-identical files are kept once so that no photo can
land in two splits. What was dropped, and why, is reported.
"""

from __future__ import annotations

import csv
import hashlib
import io
import os
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
from sklearn.model_selection import train_test_split

from .. import files
from ..errors import UserInputError
from ..spec import CLASSES_FILE, ClassNames
from . import images
from .splits import UNKNOWN, UNKNOWN_TOKENS, Split, parse_label

UNKNOWN_FOLDER = "unknown"
DEFAULT_FRACTIONS = (0.60, 0.25, 0.15)
# A stratum smaller than this is merged into its type (then into one "rare" group) so that
# scikit-learn can still place members of it in every split.
MIN_STRATUM = 8
THIN_CELL = 2  # type x colour combinations with this many photos or fewer get a warning
CHECK_SIZE = 64  # decode at a small size: enough to prove the file is a readable image


@dataclass
class Photo:
    path: Path
    labels: tuple[int, ...]


@dataclass
class Prepared:
    splits: dict[str, list[Photo]]
    classes: ClassNames
    dropped: list[str] = field(default_factory=list)


def photos_from_folder(root: Path, tasks=("type", "colour")) -> tuple[list[Photo], ClassNames]:
    root = Path(root)
    if not root.is_dir():
        raise UserInputError(f"{root}: not a folder (expected ROOT/<type>/<colour>/*.jpg)")
    found = sorted(
        p for p in root.glob("*/*/*") if p.is_file() and p.suffix.lower() in images.IMAGE_SUFFIXES
    )
    if not found:
        raise UserInputError(f"{root}: no photos found at ROOT/<type>/<colour>/<photo> (.jpg, .png, ...)")
    types = sorted({p.parent.parent.name for p in found})
    colours = sorted({p.parent.name for p in found} - {UNKNOWN_FOLDER})
    classes = ClassNames({tasks[0]: tuple(types), tasks[1]: tuple(colours)})
    photos = [
        Photo(p, (types.index(p.parent.parent.name), UNKNOWN if p.parent.name == UNKNOWN_FOLDER else colours.index(p.parent.name)))
        for p in found
    ]
    return photos, classes


def photos_from_csv(path: Path, classes: ClassNames | None, tasks=("type", "colour")) -> tuple[list[Photo], ClassNames]:
    path = Path(path)
    if not path.is_file():
        raise UserInputError(f"{path}: CSV file not found")
    rows = []
    with path.open(newline="", encoding="utf-8") as handle:
        for number, row in enumerate(csv.reader(handle), start=1):
            if not row or not "".join(row).strip() or row[0].lstrip().startswith("#"):
                continue
            row = [cell.strip() for cell in row]
            if number == 1 and row[0].lower() == "path":
                continue  # header
            if len(row) != 1 + len(tasks):
                raise UserInputError(f"{path}:{number}: expected {1 + len(tasks)} columns (path, {', '.join(tasks)}), got {len(row)}")
            rows.append((number, row))
    if not rows:
        raise UserInputError(f"{path}: no photo lines")
    if classes is None:
        names = {
            task: tuple(sorted({row[1 + i] for _, row in rows} - set(UNKNOWN_TOKENS)))
            for i, task in enumerate(tasks)
        }
        classes = ClassNames(names)
    photos = []
    for number, row in rows:
        image = Path(row[0]) if os.path.isabs(row[0]) else path.parent / row[0]
        labels = tuple(
            parse_label(token, classes.by_task[task], task, f"{path}:{number}") for task, token in zip(classes.tasks, row[1:])
        )
        photos.append(Photo(image, labels))
    return photos, classes


def _strata(photos: list[Photo]) -> np.ndarray:
    full = [f"{p.labels[0]}|{p.labels[1]}" for p in photos]
    counts = Counter(full)
    coarse = [key if counts[key] >= MIN_STRATUM else key.split("|")[0] for key in full]
    counts = Counter(coarse)
    return np.array([key if counts[key] >= MIN_STRATUM else "rare" for key in coarse])


def _split_indices(strata: np.ndarray, fractions, seed: int) -> dict[str, np.ndarray]:
    index = np.arange(len(strata))

    def split(idx, test_size, random_state):
        keys = strata[idx]
        stratify = keys if min(Counter(keys).values()) >= 2 else None
        return train_test_split(idx, test_size=test_size, random_state=random_state, stratify=stratify)

    train, rest = split(index, 1.0 - fractions[0], seed)
    val, test = split(rest, fractions[2] / (fractions[1] + fractions[2]), seed + 1)
    return {"train": np.sort(train), "val": np.sort(val), "test": np.sort(test)}


def prepare(photos: list[Photo], classes: ClassNames, fractions=DEFAULT_FRACTIONS, seed: int = 0) -> Prepared:
    """Check, de-duplicate and split. Returns the splits and a line per dropped photo."""
    if len(fractions) != 3 or any(f <= 0 for f in fractions) or abs(sum(fractions) - 1.0) > 1e-6:
        raise UserInputError(f"--fractions must be three positive numbers summing to 1, got {fractions}")
    dropped, kept, seen = [], [], {}
    for photo in photos:
        if not photo.path.is_file():
            dropped.append(f"{photo.path}: missing")
            continue
        try:
            images.load_rgb(str(photo.path), CHECK_SIZE)
        except UserInputError as err:
            dropped.append(f"{err} (unreadable)")
            continue
        digest = hashlib.sha256(photo.path.read_bytes()).hexdigest()
        if digest in seen:
            first = seen[digest]
            conflict = " with different labels" if first.labels != photo.labels else ""
            dropped.append(f"{photo.path}: duplicate of {first.path}{conflict}")
            continue
        seen[digest] = photo
        kept.append(photo)
    if len(kept) < 3:
        raise UserInputError(f"only {len(kept)} usable photo(s) left; need at least 3 to make three splits")
    indices = _split_indices(_strata(kept), fractions, seed)
    splits = {name: [kept[i] for i in idx] for name, idx in indices.items()}
    return Prepared(splits, classes, dropped)


def write(prepared: Prepared, out: Path, by: str = "flowers_mtl.prepare") -> list[Path]:
    """Split files with paths relative to `out`, plus classes.json; `by` names the writer in their header."""
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    written = []
    for name, photos in prepared.splits.items():
        target = out / f"{name}.txt"
        text = io.StringIO()
        text.write(f"# {name} split written by {by}: path, {', '.join(prepared.classes.tasks)}\n")
        rows = csv.writer(text, lineterminator="\n")  # CSV rules, as read_split reads: a comma in a path is quoted
        for photo in photos:
            rows.writerow([os.path.relpath(photo.path.resolve(), out.resolve()), *photo.labels])
        files.write_text(target, text.getvalue())
        written.append(target)
    prepared.classes.save(out / CLASSES_FILE)
    return written + [out / CLASSES_FILE]


def as_splits(prepared: Prepared, source: Path) -> dict[str, Split]:
    """The prepared splits as Split objects (as if read back from the files `write` makes in `source`)."""
    return {
        name: Split(Path(source) / f"{name}.txt", tuple(str(p.path.resolve()) for p in photos),
                    np.asarray([p.labels for p in photos], dtype=np.int32).reshape(len(photos), len(prepared.classes.tasks)),
                    tuple(range(2, len(photos) + 2)), prepared.classes)  # (line 1 of a split file is its header)
        for name, photos in prepared.splits.items()
    }


def summary(prepared: Prepared) -> str:
    sizes = ", ".join(f"{name} {len(photos)}" for name, photos in prepared.splits.items())
    lines = [f"splits: {sizes}; dropped {len(prepared.dropped)}"]
    lines += [f"  dropped {reason}" for reason in prepared.dropped]
    for name, photos in prepared.splits.items():
        lines += ["", f"{name}: photos per type (rows) and colour (columns)", count_table(photos, prepared.classes)]
    return "\n".join(lines)


def count_table(photos: list[Photo], classes: ClassNames) -> str:
    """Photos per type x colour (`?` for an unknown label), with totals."""
    types, colours = (list(classes.by_task[task]) + ["?"] for task in classes.tasks[:2])
    counts = Counter((_name(classes, 0, p.labels[0]), _name(classes, 1, p.labels[1])) for p in photos)
    width = max(len(n) for n in types + colours + ["total"]) + 1
    rows = ["".ljust(width) + "".join(c.rjust(width) for c in colours + ["total"])]
    for t in types:
        cells = [counts[(t, c)] for c in colours]
        if sum(cells):
            rows.append(t.ljust(width) + "".join(str(n).rjust(width) for n in cells + [sum(cells)]))
    return "\n".join(rows)


def thin_cells(prepared: Prepared) -> list[str]:
    """Type x colour combinations with 1 or 2 photos in all: they cannot be in every split, so
    the model sees them only in training or is only tested on them."""
    where: dict[tuple[str, str], Counter] = {}
    for name, photos in prepared.splits.items():
        for p in photos:
            if UNKNOWN not in p.labels[:2]:
                key = (_name(prepared.classes, 0, p.labels[0]), _name(prepared.classes, 1, p.labels[1]))
                where.setdefault(key, Counter())[name] += 1
    return [f"only {sum(splits.values())} photo(s) of {t} x {c} (in {', '.join(splits)}): add photos, or expect "
            "this combination to be learnt or scored poorly" for (t, c), splits in sorted(where.items())
            if sum(splits.values()) <= THIN_CELL]


def _name(classes: ClassNames, task_index: int, label: int) -> str:
    return "?" if label == UNKNOWN else classes.by_task[classes.tasks[task_index]][label]
