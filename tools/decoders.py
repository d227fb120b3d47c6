"""Pillow (images.load_rgb) against TensorFlow ops (graph_decode) on real photos: speed of each,
pixel difference, and how many photos carry an EXIF rotation that only Pillow applies. The
figures behind the README's preprocessing decision.

    python -m tools.decoders --split ../shared/datasets/flowers/test.txt [--size 224] [--limit 400]
"""

from __future__ import annotations

import argparse
import json
import time

import numpy as np
from PIL import Image

from flowers_mtl.cli.common import quiet_tensorflow, run
from flowers_mtl.data import images
from flowers_mtl.data.splits import load_classes, read_split
from flowers_mtl.spec import CLASSES_FILE, Preprocessing

EXIF_ORIENTATION = 0x0112


def rotated_by_exif(path: str) -> bool:
    with Image.open(path) as image:
        return image.getexif().get(EXIF_ORIENTATION, 1) != 1


def compare(paths: list[str], size: int, contract: Preprocessing) -> dict:
    import tensorflow as tf

    from flowers_mtl.data import graph_decode

    decode = tf.function(lambda encoded: graph_decode.decode_rgb(encoded, size, contract))
    blobs = [open(path, "rb").read() for path in paths]
    decode(tf.constant(blobs[0]))  # trace once, outside the timing
    start = time.perf_counter()
    pillow = [images.load_rgb(path, size, contract) for path in paths]
    pillow_s = time.perf_counter() - start
    start = time.perf_counter()
    graph = [decode(tf.constant(blob)).numpy() for blob in blobs]
    graph_s = time.perf_counter() - start
    diff = np.abs(np.stack(pillow).astype(np.int16) - np.stack(graph).astype(np.int16))
    per_photo = diff.reshape(len(paths), -1).mean(axis=1)
    return {
        "photos": len(paths),
        "size": size,
        "pillow_images_per_s": len(paths) / pillow_s,
        "tensorflow_images_per_s": len(paths) / graph_s,
        "mean_abs_diff": float(diff.mean()),
        "max_abs_diff": int(diff.max()),
        "share_of_values_off_by_more_than_2": float((diff > 2).mean()),
        "worst_photo_mean_abs_diff": float(per_photo.max()),
        "photos_rotated_by_exif": sum(rotated_by_exif(path) for path in paths),
    }


def main(argv=None) -> int:
    p = argparse.ArgumentParser(prog="python -m tools.decoders", description=__doc__.split("\n\n")[0])
    p.add_argument("--split", required=True, help="split file whose photos to decode")
    p.add_argument("--size", type=int, default=224, help="input size; default 224")
    p.add_argument("--limit", type=int, default=400, help="at most this many photos; default 400")
    p.add_argument("--resize", choices=("squash", "center_crop"), default="squash", help="default squash")
    args = p.parse_args(argv)
    quiet_tensorflow()
    from pathlib import Path

    split = read_split(args.split, load_classes(Path(args.split).parent / CLASSES_FILE))
    result = compare(list(split.paths[: args.limit]), args.size, Preprocessing(resize=args.resize))
    print(json.dumps(result, indent=1))
    return 0


if __name__ == "__main__":
    raise SystemExit(run(main))
