"""audit.py: find undecodable photos, near-duplicates (and leaks across splits) and suspect labels
in a data folder, with a page to review them; --apply turns the corrections into new split files."""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

from ..errors import UserInputError
from .common import add_max_pixels, add_verbose, apply_max_pixels, quiet_tensorflow

REPORT = "audit.json"


def parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="audit.py", description=__doc__.split("\n")[0].removeprefix("audit.py: "))
    p.add_argument("--data", type=Path, required=True, help="folder with train/val/test.txt and classes.json")
    p.add_argument("--out", type=Path, required=True,
                   help="audit: folder for index.html, thumbs/ and audit.json; --apply: folder for the corrected "
                   "split files (never the --data folder)")
    source = p.add_mutually_exclusive_group()
    source.add_argument("--pretrained", default="imagenet",
                        help="embed photos with this SqueezeNet v1.1 weights file (.h5, or OpenVINO .xml); default "
                        "imagenet, the bundled ImageNet weights")
    source.add_argument("--model", type=Path, help="embed photos with a trained model folder instead (knows the classes "
                        "better, but has seen the training split's labels)")
    p.add_argument("--json", action="store_true", help="print {photos, undecodable, duplicates, label_suspects} as JSON")
    p.add_argument("--apply", type=Path, metavar="CSV",
                   help="corrections.csv (path,task,label,split; task 'drop' drops): write corrected split files to --out")
    add_max_pixels(p)
    add_verbose(p)
    return p


def main(argv=None) -> int:
    args = parser().parse_args(argv)
    apply_max_pixels(args)
    from ..audit.entries import read_entries

    entries = read_entries(args.data)
    if args.out.exists() and not args.out.is_dir():
        raise UserInputError(f"--out {args.out}: exists and is not a folder")
    return apply_corrections(entries, args) if args.apply else audit(entries, args)


def apply_corrections(entries, args) -> int:
    from ..audit import corrections

    labels, kept, changed = corrections.apply(corrections.read_corrections(args.apply, entries), entries)
    try:
        written = corrections.write_corrected(entries, labels, kept, args.out)
    except OSError as err:
        raise UserInputError(f"--out {args.out}: cannot write the split files there ({err.strerror or err})") from None
    print(corrections.describe_changes(changed, entries))
    print("wrote " + ", ".join(str(p) for p in written))
    return 0


def audit(entries, args) -> int:
    quiet_tensorflow()
    from tqdm import tqdm

    from .. import files
    from ..audit import embed, page
    from ..audit.report import run_audit

    try:
        args.out.mkdir(parents=True, exist_ok=True)  # before the photos are read: a bad --out fails in a second
    except OSError as err:
        raise UserInputError(f"--out {args.out}: cannot make the folder ({err.strerror or err})") from None
    started = time.perf_counter()
    model = embed.trained_model(args.model) if args.model else embed.imagenet_trunk(args.pretrained)
    with tqdm(total=len(entries), desc="reading photos", unit="photo", disable=None, leave=False, file=sys.stderr) as bar:
        result = run_audit(entries, model, progress=lambda done: bar.update(done - bar.n))
    report = result.to_json()
    try:
        files.write_text(args.out / REPORT, json.dumps(report, indent=1) + "\n")
        index = page.write_page(result, args.out)
    except OSError as err:
        raise UserInputError(f"--out {args.out}: cannot write the report there ({err.strerror or err})") from None
    if args.json:
        print(json.dumps(report, indent=1))
    else:
        print(result.summary())
        print(f"wrote {index} (open it in a browser) and {args.out / REPORT} in {time.perf_counter() - started:.0f} s")
    return 0
