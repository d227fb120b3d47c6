"""Writes a kill or a full disk cannot leave half done: write beside, flush to disk, rename.

A rename within one folder is atomic on POSIX file systems, so a reader sees the old file (or
folder) or the new one, never a cut one. No TensorFlow here: config and spec files use it too.
"""

from __future__ import annotations

import os
import shutil
from pathlib import Path

PARTIAL = ".partial"  # suffix of what is being written; a leftover one is from a killed run
OLD = ".old"  # suffix of a folder being replaced; a leftover one is the last complete copy


def write_text(path: Path | str, text: str) -> None:
    """Replace `path` by `text` atomically: a kill leaves the old file or the new one."""
    path = Path(path)
    aside = path.with_name(path.name + PARTIAL)
    try:
        with open(aside, "w", encoding="utf-8") as file:
            file.write(text)
            file.flush()
            os.fsync(file.fileno())
        os.replace(aside, path)
    except BaseException:
        aside.unlink(missing_ok=True)
        raise
    sync_folder(path.parent)


def sync_folder(folder: Path) -> None:
    """Make the folder's entries (a rename) durable; a no-op where folders cannot be opened."""
    try:
        handle = os.open(folder, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(handle)
    except OSError:
        pass
    finally:
        os.close(handle)


def sync_tree(folder: Path) -> None:
    """fsync every file in a folder, then the folder: its content is on disk before a rename."""
    for path in Path(folder).iterdir():
        if path.is_file():
            with open(path, "rb") as file:
                os.fsync(file.fileno())
    sync_folder(folder)


def partial_folder(final: Path) -> Path:
    """An empty folder beside `final` to write its next content into (a leftover one is removed)."""
    aside = final.with_name(final.name + PARTIAL)
    shutil.rmtree(aside, ignore_errors=True)
    aside.mkdir(parents=True)
    return aside


def replace_folder(aside: Path, final: Path) -> None:
    """Put the complete folder `aside` in place of `final`. The old one is renamed to FINAL.old
    first and removed last, so at every moment one complete copy exists under a known name."""
    sync_tree(aside)
    old = final.with_name(final.name + OLD)
    shutil.rmtree(old, ignore_errors=True)
    if final.exists():
        os.replace(final, old)
    os.replace(aside, final)
    sync_folder(final.parent)
    shutil.rmtree(old, ignore_errors=True)


def complete_copies(final: Path) -> list[Path]:
    """Where a folder written by replace_folder may be, newest first: FINAL, then FINAL.old (a
    kill between the two renames leaves only that)."""
    return [path for path in (final, final.with_name(final.name + OLD)) if path.is_dir()]
