"""Which photo files command-line arguments name: a file as given, a folder searched recursively
for images (by extension, in sorted order), or a glob pattern (`**` included). Arguments that
name nothing come back as errors, so a command reports each in one line and goes on."""

from __future__ import annotations

import glob
from pathlib import Path

from ..errors import UserInputError
from .images import IMAGE_SUFFIXES

GLOB_CHARACTERS = set("*?[")


def photo_paths(arguments: list[str]) -> tuple[list[str], list[UserInputError]]:
    """(paths in argument order, one error per argument that names no photo). A plain file is
    kept even if missing or not an image: loading it gives the precise error."""
    paths, errors = [], []
    for argument in arguments:
        if Path(argument).is_dir():
            found = sorted(str(p) for p in Path(argument).rglob("*") if p.is_file() and p.suffix.lower() in IMAGE_SUFFIXES)
            what = "a folder with no images in it"
        elif GLOB_CHARACTERS & set(argument) and not Path(argument).exists():
            found = sorted(p for p in glob.glob(argument, recursive=True) if Path(p).is_file())
            what = "a pattern that matches no file"
        else:
            found, what = [argument], ""
        paths += found
        if not found:
            errors.append(UserInputError(f"{argument}: {what}"))
    return paths, errors
