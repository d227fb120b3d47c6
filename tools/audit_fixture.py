"""The audit's figures on planted problems: python -m tools.audit_fixture [--seed-data DIR] [--out DIR]

Copies the shared seed split files (rose/daisy x red/pink/white, 824 photos) into a new data
folder and plants known problems in it: near-duplicate copies of photos (resized, re-encoded,
cropped, brightened; listed in a random split, so most are leaks, a few with another colour),
label flips in each task, and two undecodable files. Then it runs the audit (ImageNet trunk) and
prints what was found: recall of the planted pairs, groups holding no planted pair (to be looked
at: the seed photos have real duplicates of their own), and the planted flips among the top
2 x (number planted) suspects. The photos are read where they are; only the copies are written.
"""

from __future__ import annotations

import argparse
import io
import json
import time
from pathlib import Path

import numpy as np
from PIL import Image, ImageEnhance, ImageOps

from flowers_mtl.audit.entries import read_entries
from flowers_mtl.data import prepare
from flowers_mtl.data.splits import SPLIT_NAMES
from flowers_mtl.spec import CLASSES_FILE

KINDS = ("resize", "jpeg", "crop", "brightness")
SEED_DATA = Path(__file__).resolve().parents[2] / "shared" / "datasets" / "flowers" / "seed"


def variant(image: Image.Image, kind: str, rng: np.random.Generator) -> Image.Image:
    """A copy of the picture that a scraper would meet as a different file."""
    w, h = image.size
    if kind == "resize":
        scale = rng.uniform(0.4, 0.7)
        return image.resize((round(w * scale), round(h * scale)), Image.Resampling.BICUBIC)
    if kind == "jpeg":
        data = io.BytesIO()
        image.save(data, "JPEG", quality=int(rng.integers(15, 35)))
        return Image.open(io.BytesIO(data.getvalue())).convert("RGB")
    if kind == "crop":
        left, top, right, bottom = rng.uniform(0.03, 0.10, 4)
        return image.crop((round(w * left), round(h * top), round(w * (1 - right)), round(h * (1 - bottom))))
    if kind == "brightness":
        return ImageEnhance.Brightness(image).enhance(float(rng.choice([0.7, 0.8, 1.25, 1.35])))
    raise ValueError(kind)


def plant(seed_data: Path, out: Path, copies_per_kind: int = 10, flips_per_task: int = 20, conflicts: int = 4,
          seed: int = 0) -> dict:
    """Write the fixture data folder; returns what was planted (also saved as out/planted.json)."""
    rng = np.random.default_rng(seed)
    entries = read_entries(seed_data)
    labels = entries.labels.copy()
    tasks = entries.classes.tasks
    n = len(entries)
    order = rng.permutation(n)
    originals = order[:copies_per_kind * len(KINDS)]
    flipped = {task: order[len(originals) + t * flips_per_task:][:flips_per_task] for t, task in enumerate(tasks)}
    rows = [(entries.splits[i], Path(entries.paths[i]).resolve(), tuple(labels[i])) for i in range(n)]
    planted = {"pairs": [], "flips": [], "undecodable": []}
    for t, task in enumerate(tasks):
        for i in flipped[task]:
            given = int(rng.choice([c for c in range(len(entries.classes.by_task[task])) if c != labels[i, t]]))
            planted["flips"].append({"path": str(rows[i][1]), "task": task, "true": int(labels[i, t]), "given": given})
            labels[i, t] = given
            rows[i] = (rows[i][0], rows[i][1], tuple(labels[i]))
    (out / "copies").mkdir(parents=True, exist_ok=True)
    for k, i in enumerate(originals):
        kind = KINDS[k % len(KINDS)]
        with Image.open(entries.paths[i]) as image:
            copy = variant(ImageOps.exif_transpose(image).convert("RGB"), kind, rng)
        target = (out / "copies" / f"copy{k:03d}_{kind}.jpg").resolve()
        copy.save(target, quality=90)
        copy_labels = list(labels[i])
        if k < conflicts:  # a copy whose colour label disagrees with its original's
            copy_labels[-1] = (copy_labels[-1] + 1) % len(entries.classes.by_task[tasks[-1]])
        rows.append((str(rng.choice(SPLIT_NAMES)), target, tuple(copy_labels)))
        planted["pairs"].append({"original": str(rows[i][1]), "copy": str(target), "kind": kind,
                                 "conflict": k < conflicts})
    for name, data in (("truncated.jpg", Path(entries.paths[0]).read_bytes()[:2000]), ("notes.jpg", b"not a photo\n")):
        (out / "copies" / name).write_bytes(data)
        rows.append(("train", (out / "copies" / name).resolve(), tuple(labels[0])))
        planted["undecodable"].append(str((out / "copies" / name).resolve()))
    splits = {name: [prepare.Photo(path, lab) for split, path, lab in rows if split == name] for name in SPLIT_NAMES}
    prepare.write(prepare.Prepared(splits, entries.classes), out, by="tools.audit_fixture")
    (out / "planted.json").write_text(json.dumps(planted, indent=1))
    return planted


def score(report: dict, planted: dict, folder: Path) -> dict:
    """Recall and precision of the audit against what was planted."""
    def absolute(path):
        return str((folder / path).resolve())

    groups = [{absolute(p) for p in g["paths"]} for g in report["duplicates"]]
    found = [any({p["original"], p["copy"]} <= g for g in groups) for p in planted["pairs"]]
    planted_groups = [g for g in groups if any({p["original"], p["copy"]} <= g for p in planted["pairs"])]
    conflicts = [any({p["original"], p["copy"]} <= {absolute(q) for q in g["paths"]} and g["label_conflict"]
                     for g in report["duplicates"]) for p in planted["pairs"] if p["conflict"]]
    top = report["label_suspects"][:2 * len(planted["flips"])]
    top_keys = {(absolute(s["path"]), s["task"]) for s in top}
    flips_found = [(f["path"], f["task"]) in top_keys for f in planted["flips"]]
    flip_keys = {(f["path"], f["task"]) for f in planted["flips"]}
    by_kind = {kind: float(np.mean([f for f, p in zip(found, planted["pairs"]) if p["kind"] == kind])) for kind in KINDS}
    bad = {str(Path(u).resolve()) for u in planted["undecodable"]}
    return {
        "pairs_planted": len(found), "pairs_found": int(sum(found)), "pair_recall": float(np.mean(found)),
        "pair_recall_by_kind": by_kind,
        "groups": len(groups), "groups_without_planted_pair": len(groups) - len(planted_groups),
        "conflicts_flagged": f"{sum(conflicts)}/{len(conflicts)}",
        "flips_planted": len(flips_found), "flips_in_top": int(sum(flips_found)),
        "flip_recall_in_top_2x": float(np.mean(flips_found)),
        "top_2x_precision": len(top_keys & flip_keys) / max(len(top), 1),
        "undecodable_found": f"{len(bad & {absolute(u['path']) for u in report['undecodable']})}/{len(bad)}",
        "unplanted_groups": [g["paths"] for g in report["duplicates"]
                             if {absolute(p) for p in g["paths"]} not in planted_groups],
    }


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(prog="python -m tools.audit_fixture", description=__doc__.split("\n")[0])
    parser.add_argument("--seed-data", type=Path, default=SEED_DATA, help=f"default {SEED_DATA}")
    parser.add_argument("--out", type=Path, default=Path("runs/audit-fixture"), help="fixture folder; default runs/audit-fixture")
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args(argv)
    from flowers_mtl.audit import embed, page
    from flowers_mtl.audit.report import run_audit

    args.out.mkdir(parents=True, exist_ok=True)
    planted = plant(args.seed_data, args.out, seed=args.seed)
    started = time.perf_counter()
    entries = read_entries(args.out)
    result = run_audit(entries, embed.imagenet_trunk())
    seconds = time.perf_counter() - started
    page.write_page(result, args.out / "audit")
    figures = score(result.to_json(), planted, args.out)
    print(json.dumps({**figures, "photos": len(entries), "seconds": round(seconds, 1)}, indent=1))
    print(f"classes: {(args.out / CLASSES_FILE)}; page: {args.out / 'audit' / 'index.html'}")
    return 0


if __name__ == "__main__":
    from flowers_mtl.cli.common import run

    raise SystemExit(run(main))
