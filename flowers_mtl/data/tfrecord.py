"""Writing a split as TFRecord shards (prepare --format tfrecord), and reading their records.

Each photo is decoded once by the preprocessing contract (images.load_rgb, as everywhere),
JPEG-encoded and dealt round-robin into N files, so every shard holds the same number of photos
to within one and workers that share the shards by file get equal work. Training then streams
the shards and never holds more than a shuffle buffer of encoded photos in memory.
"""

from __future__ import annotations

import io
import json
import os
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import numpy as np
import tensorflow as tf
from PIL import Image

from .. import files
from ..errors import UserInputError
from ..spec import Preprocessing
from . import images
from .shards import IMAGE_KEY, LABELS_KEY, ROW_KEY, Shards, manifest_json, manifest_name, shard_name
from .splits import Split

JPEG_QUALITY = 95
# Full-resolution colour (4:4:4): the usual 4:2:0 halves the colour planes, and colour is a label here.
JPEG_SUBSAMPLING = 0


def write_shards(split: Split, out: Path, name: str, count: int, image_size: int, contract: Preprocessing,
                 quality: int = JPEG_QUALITY) -> tuple[Path | None, Shards | None, list[str]]:
    """Write `split` as `count` shards + NAME.shards.json in `out`. Returns the manifest's path,
    the shards, and a line per photo left out because it does not decode (None, None when none does)."""
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    encoded, dropped = _encode_all(split, image_size, contract, quality)
    kept = [row for row, data in enumerate(encoded) if data is not None]
    if not kept:
        return None, None, dropped
    count = max(1, min(count, len(kept)))
    paths = [out / shard_name(name, i, count) for i in range(count)]
    per_file = [0] * count
    partial = [Path(str(p) + files.PARTIAL) for p in paths]  # renamed into place once all are whole
    writers = []
    try:
        writers += [tf.io.TFRecordWriter(str(p)) for p in partial]
        for new_row, row in enumerate(kept):
            shard = new_row % count
            writers[shard].write(_example(encoded[row], new_row, split.labels[row]))
            per_file[shard] += 1
        for writer, part, path in zip(writers, partial, paths):
            writer.close()
            os.replace(part, path)
    except BaseException as err:
        for writer, part in zip(writers, partial):
            writer.close()
            part.unlink(missing_ok=True)
        if isinstance(err, (OSError, tf.errors.OpError)):  # a full disk, a read-only folder
            reason = getattr(err, "strerror", None) or getattr(err, "message", None) or str(err)
            raise UserInputError(f"{out}: cannot write the {name} shards ({reason.splitlines()[0]})") from None
        raise
    kept_split = Split(split.source, tuple(split.paths[r] for r in kept), split.labels[kept],
                       tuple(split.line_numbers[r] for r in kept), split.classes)
    shards = Shards(tuple(str(p) for p in paths), tuple(per_file), image_size, contract)
    manifest = out / manifest_name(name)
    files.write_text(manifest, json.dumps(manifest_json(shards, kept_split, out)) + "\n")
    return manifest, shards, dropped


def _encode_all(split: Split, size: int, contract: Preprocessing, quality: int):
    def encode(path: str) -> bytes | None:
        pixels, ok = images.try_load_rgb(path, size, contract)
        if not ok:
            return None
        buffer = io.BytesIO()
        Image.fromarray(pixels).save(buffer, format="JPEG", quality=quality, subsampling=JPEG_SUBSAMPLING)
        return buffer.getvalue()

    with ThreadPoolExecutor(max_workers=os.cpu_count() or 2) as pool:  # Pillow decodes outside the GIL
        encoded = list(pool.map(encode, split.paths))
    dropped = [f"{split.source}:{line}: {path}: does not decode"
               for path, line, data in zip(split.paths, split.line_numbers, encoded) if data is None]
    return encoded, dropped


def _example(jpeg: bytes, row: int, labels: np.ndarray) -> bytes:
    feature = tf.train.Feature
    return tf.train.Example(features=tf.train.Features(feature={
        IMAGE_KEY: feature(bytes_list=tf.train.BytesList(value=[jpeg])),
        ROW_KEY: feature(int64_list=tf.train.Int64List(value=[row])),
        LABELS_KEY: feature(int64_list=tf.train.Int64List(value=[int(x) for x in labels])),
    })).SerializeToString()


def parse_record(record: tf.Tensor, image_size: int) -> tuple[tf.Tensor, tf.Tensor]:
    """A record -> (uint8 image S x S x 3, row in the manifest's photo list)."""
    parsed = tf.io.parse_single_example(record, {
        IMAGE_KEY: tf.io.FixedLenFeature([], tf.string), ROW_KEY: tf.io.FixedLenFeature([], tf.int64),
    })
    image = tf.io.decode_jpeg(parsed[IMAGE_KEY], channels=3)
    image.set_shape([image_size, image_size, 3])
    return image, tf.cast(parsed[ROW_KEY], tf.int32)
