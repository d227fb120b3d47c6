"""OUT/index.html: the audit as a page that works opened as a file (no server, no network), with
thumbnails in OUT/thumbs/ and the choices made on it downloadable as corrections.csv."""

from __future__ import annotations

import json
from pathlib import Path

from PIL import Image, ImageOps

from .. import files
from . import duplicates, suspects
from .report import Audit

PAGE = "index.html"
TEMPLATE = "page.html"
THUMBS = "thumbs"
THUMB_SIDE = 240
SUSPECTS_SHOWN = 300  # the worst ones; the JSON lists them all


def write_thumbnail(source: str, target: Path) -> bool:
    try:
        with Image.open(source) as image:
            image.draft("RGB", (THUMB_SIDE, THUMB_SIDE))
            image = ImageOps.exif_transpose(image).convert("RGB")
            image.thumbnail((THUMB_SIDE, THUMB_SIDE))
            image.save(target, "JPEG", quality=80)
        return True
    except (OSError, ValueError, SyntaxError, Image.DecompressionBombError):
        return False


def _shown_entries(audit: Audit) -> list[int]:
    by_path = {}
    for i, path in enumerate(audit.entries.shown_paths):
        by_path.setdefault(path, i)
    wanted = [i for group in audit.duplicate_groups for i in group]
    wanted += [by_path[s["path"]] for s in audit.label_suspects[:SUSPECTS_SHOWN]]
    return sorted(set(wanted))


def write_page(audit: Audit, out: Path) -> Path:
    """Thumbnails of every photo the page shows, then the page; returns its path."""
    out = Path(out)
    (out / THUMBS).mkdir(parents=True, exist_ok=True)
    thumbs = {}
    for i in _shown_entries(audit):
        name = f"{THUMBS}/{i}.jpg"
        if write_thumbnail(audit.entries.paths[i], out / name):
            thumbs[audit.entries.shown_path(i)] = name
    data = {
        "folder": str(audit.entries.folder),
        "summary": audit.summary(listed=0).replace("\n", "; "),
        "methods": {"duplicates": duplicates.METHOD, "suspects": suspects.METHOD},
        "classes": audit.entries.classes.to_json(),
        "thumbs": thumbs,
        "suspects_shown": SUSPECTS_SHOWN,
        "report": audit.to_json(),
    }
    embedded = json.dumps(data).replace("</", "<\\/")  # no "</script>" can end the block early
    template = Path(__file__).with_name(TEMPLATE).read_text(encoding="utf-8")
    files.write_text(out / PAGE, template.replace("/*DATA*/", embedded))
    return out / PAGE
