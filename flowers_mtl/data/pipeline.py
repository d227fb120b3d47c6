"""tf.data input pipelines: decode once, cache, augment, batch, prefetch.

Each photo is decoded and resized once (images.load_rgb through tf.numpy_function, following the
spec's preprocessing contract) and the uint8 result cached in memory, so from the second epoch
on the cost is augmentation only.
Photos that fail to decode are filtered out; the caller counts what came through and reports
the difference (see `count_skipped`). A split stored as TFRecord shards (data/shards.py) is
streamed from its files instead, and never cached.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import tensorflow as tf

from ..errors import UserInputError
from ..spec import ModelSpec
from . import images, tfrecord
from .splits import Split

AUTOTUNE = tf.data.AUTOTUNE


def _decoded(split: Split, spec: ModelSpec, cache: bool) -> tf.data.Dataset:
    """(uint8 image, labels (tasks,), row in the split) for every photo that decodes, in split order.

    The row lets a report name the photo behind a prediction after undecodable ones dropped out.
    """
    rows = tf.range(len(split), dtype=tf.int32)
    image_size, contract = spec.image_size, spec.preprocessing

    data = tf.data.Dataset.from_tensor_slices((list(split.paths), split.labels, rows))

    def load_one(path, size):
        return images.try_load_rgb(path, size, contract)

    def load(path, labels, row):
        image, ok = tf.numpy_function(load_one, [path, image_size], [tf.uint8, tf.bool], stateful=False)
        image.set_shape([image_size, image_size, 3])
        ok.set_shape([])
        return image, labels, row, ok

    def decoded_ok(image, labels, row, ok):
        return ok

    def without_flag(image, labels, row, ok):
        return image, labels, row

    data = data.map(load, num_parallel_calls=AUTOTUNE, deterministic=True)
    data = data.filter(decoded_ok).map(without_flag)
    return data.cache() if cache else data


def augment(image: tf.Tensor, seed: tf.Tensor, max_rotation_deg: float, min_crop_area: float) -> tf.Tensor:
    """Geometry only: random resized crop, horizontal flip, small rotation.

    Nothing touches hue, saturation or brightness, because the colour label must stay true.
    """
    size = tf.shape(image)[0]
    seeds = tf.random.experimental.stateless_split(seed, 3)
    begin, crop_size, _ = tf.image.stateless_sample_distorted_bounding_box(
        tf.shape(image),
        bounding_boxes=tf.constant([[[0.0, 0.0, 1.0, 1.0]]]),
        seed=seeds[0],
        min_object_covered=0.0,
        aspect_ratio_range=(3 / 4, 4 / 3),
        area_range=(min_crop_area, 1.0),
        max_attempts=10,
        use_image_if_no_bounding_boxes=True,
    )
    image = tf.slice(image, begin, crop_size)
    image = tf.image.resize(image, [size, size], method="bilinear")
    image = tf.image.stateless_random_flip_left_right(image, seeds[1])
    if max_rotation_deg > 0:
        angle = tf.random.stateless_uniform([], seeds[2], -1.0, 1.0) * (max_rotation_deg * math.pi / 180.0)
        image = _rotate(image, angle)
    return image


def _rotate(image: tf.Tensor, angle: tf.Tensor) -> tf.Tensor:
    """Rotate about the centre, filling the corners by reflection (no black wedges)."""
    size = tf.cast(tf.shape(image)[0], tf.float32)
    centre = (size - 1.0) / 2.0
    cos, sin = tf.cos(angle), tf.sin(angle)
    # Output pixel (x, y) samples input (a0*x + a1*y + a2, b0*x + b1*y + b2).
    transform = tf.stack(
        [cos, -sin, centre - cos * centre + sin * centre, sin, cos, centre - sin * centre - cos * centre, 0.0, 0.0]
    )
    return tf.raw_ops.ImageProjectiveTransformV3(
        images=image[tf.newaxis],
        transforms=transform[tf.newaxis],
        output_shape=tf.shape(image)[:2],
        fill_value=0.0,
        interpolation="BILINEAR",
        fill_mode="REFLECT",
    )[0]


@dataclass(frozen=True)
class Feed:
    """One input pipeline's share of an epoch. Under tf.distribute each worker runs pipeline
    `index` of `count`, and a step takes `replicas` consecutive batches of `batch_size` (the
    per-replica batch) from it. Every pipeline yields `steps` steps' worth, the last batch topped
    up with the epoch's first photos, so that no worker waits for another at an epoch's end."""

    steps: int
    batch_size: int
    replicas: int = 1
    index: int = 0
    count: int = 1
    start: int = 0  # steps of the epoch already done (a resumed run)

    @property
    def photos_per_step(self) -> int:
        return self.batch_size * self.replicas

    @property
    def global_batch(self) -> int:
        return self.photos_per_step * self.count


def training_dataset(
    split: Split,
    spec: ModelSpec,
    feed: Feed | int,
    seed: int,
    epoch: int,
    max_rotation_deg: float = 10.0,
    min_crop_area: float = 0.6,
    cached: tf.data.Dataset | None = None,
) -> tf.data.Dataset:
    """One epoch of shuffled, augmented batches: (float images 0..255, labels (N, tasks)). A
    plain batch size as `feed` means the whole epoch in one pipeline.

    Photos in memory (split files) are shuffled as a whole and dealt to the pipelines in turn;
    shards are dealt by file, streamed and shuffled in a buffer. Order and augmentation depend
    only on (seed, epoch), so a resumed run sees the epoch it would have seen.
    """
    if isinstance(feed, int):
        feed = Feed(steps=math.ceil(len(split) / feed), batch_size=feed)
    epoch_seed = seed * 100_003 + epoch
    photos = feed.steps * feed.global_batch
    if split.shards:  # each pipeline streams its own files, with its own augmentation draws
        data = _streamed(split, spec, feed, epoch_seed).take(photos // feed.count)
        data = _with_augmentation_seeds(data, epoch_seed + 7919 * feed.index)
    else:  # one shuffled order and one set of draws, dealt to the pipelines photo by photo
        data = cached if cached is not None else _decoded(split, spec, cache=False)
        data = data.shuffle(len(split), seed=epoch_seed, reshuffle_each_iteration=False).repeat().take(photos)
        data = _with_augmentation_seeds(data, epoch_seed).shard(feed.count, feed.index)
    data = data.skip(feed.start * feed.photos_per_step)
    data = data.map(
        lambda photo, s: (augment(tf.cast(photo[0], tf.float32), s, max_rotation_deg, min_crop_area), photo[1]),
        num_parallel_calls=AUTOTUNE,
    )
    return data.batch(feed.batch_size).prefetch(AUTOTUNE)


def _with_augmentation_seeds(data: tf.data.Dataset, seed: int) -> tf.data.Dataset:
    """Pair each photo with the two-int seed of its random crop, flip and rotation."""
    return tf.data.Dataset.zip((data, tf.data.Dataset.random(seed=seed).batch(2)))


SHUFFLE_BUFFER = 4096  # encoded photos held for shuffling a streamed split (33 KB each at 224 px: ~134 MB)


def _streamed(split: Split, spec: ModelSpec, feed: Feed, epoch_seed: int) -> tf.data.Dataset:
    """Endless (image, labels) from this pipeline's share of the shard files: file i goes to
    pipeline i mod count, so no photo is in two workers' epochs."""
    shard_files = split.shards.files
    if len(shard_files) < feed.count:
        raise UserInputError(f"{split.source}: {len(shard_files)} shard file(s) cannot be shared among {feed.count} "
                             "workers; rerun prepare --format tfrecord with --shards a multiple of the worker count")
    names = tf.data.Dataset.from_tensor_slices(list(shard_files)).shard(feed.count, feed.index)
    names = names.shuffle(len(shard_files), seed=epoch_seed)
    records = names.interleave(tf.data.TFRecordDataset, cycle_length=min(len(shard_files), 4), block_length=1,
                               num_parallel_calls=AUTOTUNE, deterministic=True)
    # As the in-memory path: one shuffled pass, repeated as it was to top up the last batch (with one
    # shard and a buffer holding the whole split, both paths give the same order).
    records = records.shuffle(SHUFFLE_BUFFER, seed=epoch_seed, reshuffle_each_iteration=False).repeat()
    return records.map(_record_reader(split, spec), num_parallel_calls=AUTOTUNE)


def _record_reader(split: Split, spec: ModelSpec):
    """record -> (uint8 image, labels, row): the labels are looked up by row in the split, so a
    split narrowed to some tasks (Split.only) reads the same shards."""
    split.shards.check_fits(spec.image_size, spec.preprocessing, split.source)
    labels = tf.constant(split.labels)

    def read(record):
        image, row = tfrecord.parse_record(record, spec.image_size)
        return image, tf.gather(labels, row), row

    return read


def cached_decoded(split: Split, spec: ModelSpec) -> tf.data.Dataset:
    """The decoded split, cached in memory after its first full pass; reuse it across epochs."""
    return _decoded(split, spec, cache=True)


def fill_and_count(dataset: tf.data.Dataset) -> int:
    """Iterate a (cached) dataset once: fills the cache and counts the photos that decoded."""
    return int(dataset.reduce(tf.constant(0, tf.int64), lambda count, _: count + 1))


def evaluation_dataset(split: Split, spec: ModelSpec, batch_size: int, cache: bool = False) -> tf.data.Dataset:
    """No augmentation: (float images, labels, rows in the split), in split order (a sharded
    split: shard by shard, streamed, never cached)."""
    if split.shards:
        data = tf.data.TFRecordDataset(list(split.shards.files)).map(_record_reader(split, spec), num_parallel_calls=AUTOTUNE)
    else:
        data = _decoded(split, spec, cache=cache)
    data = data.map(lambda image, labels, row: (tf.cast(image, tf.float32), labels, row))
    return data.batch(batch_size).prefetch(AUTOTUNE)


def count_skipped(split: Split, seen: int) -> int:
    return len(split) - seen


def undecodable(split: Split, spec: ModelSpec, limit: int = 10) -> list[str]:
    """Which photos fail to decode: only called when a count shows some did, to name them."""
    bad = []
    for row, path in enumerate(split.paths):
        if not images.try_load_rgb(path, spec.image_size, spec.preprocessing)[1]:
            bad.append(f"{split.where(row)}: {path}")
            if len(bad) >= limit:
                break
    return bad
