from pathlib import Path

import numpy as np
import tensorflow as tf
from PIL import Image

from conftest import make_dataset, make_spec
from flowers_mtl.data import pipeline
from flowers_mtl.data.splits import load_classes, read_split

SPEC = make_spec({"type": 2, "colour": 3}, 32)


def split_of(folder, name="train"):
    return read_split(folder / f"{name}.txt", load_classes(folder / "classes.json"))


def test_training_batches_have_shapes_and_all_labels(tmp_path):
    split = split_of(make_dataset(tmp_path, per_class=2))  # 12 photos
    batches = list(pipeline.training_dataset(split, SPEC, 5, seed=0, epoch=0))
    assert [int(images.shape[0]) for images, *_ in batches] == [5, 5, 5]  # the last topped up: every step is full
    images, labels = batches[0]
    assert images.shape[1:] == (32, 32, 3) and images.dtype == tf.float32 and labels.shape[1] == 2
    seen = np.concatenate([labels.numpy() for _, labels in batches]).tolist()
    assert sorted(map(tuple, seen[:12])) == sorted(map(tuple, split.labels.tolist()))
    assert seen[12:] == seen[:3]  # with the epoch's first photos


def test_pipelines_share_an_epoch_without_overlap(tmp_path):
    """Two workers' pipelines (one replica each, per-replica batch 3) deal the whole epoch between them, and
    step k's two batches are the one-pipeline global batch k."""
    split = split_of(make_dataset(tmp_path, per_class=2))  # 12 photos: 2 steps of 6

    def rows(feed):
        return [labels.numpy().tolist() for _, labels in pipeline.training_dataset(split, SPEC, feed, 0, 0)]

    whole = rows(pipeline.Feed(steps=2, batch_size=6))
    parts = [rows(pipeline.Feed(steps=2, batch_size=3, index=i, count=2)) for i in range(2)]
    assert [len(b) for part in parts for b in part] == [3, 3, 3, 3]
    for step in range(2):
        dealt = [row for i in range(2) for row in parts[i][step]]
        assert sorted(dealt) == sorted(whole[step])
    resumed = rows(pipeline.Feed(steps=2, batch_size=3, index=1, count=2, start=1))
    assert resumed == parts[1][1:]


def test_order_depends_only_on_seed_and_epoch(tmp_path):
    split = split_of(make_dataset(tmp_path, per_class=2))

    def labels(seed, epoch):
        return np.concatenate([labels.numpy() for _, labels in pipeline.training_dataset(split, SPEC, 4, seed, epoch)]).tolist()

    assert labels(0, 0) == labels(0, 0)
    assert labels(0, 0) != labels(0, 1)


def test_augmentation_keeps_colour(tmp_path):
    """Geometry only: a uniformly coloured photo stays exactly that colour."""
    image = tf.fill([48, 48, 3], 1.0) * tf.constant([200.0, 40.0, 90.0])
    for i in range(5):
        out = pipeline.augment(image, tf.constant([i, 7], tf.int64), max_rotation_deg=10, min_crop_area=0.5)
        np.testing.assert_allclose(out.numpy().reshape(-1, 3).mean(0), [200, 40, 90], atol=0.5)
        assert out.shape == (48, 48, 3)


def test_augmentation_changes_geometry(tmp_path):
    image = tf.constant(np.random.default_rng(0).uniform(0, 255, (48, 48, 3)), tf.float32)
    out = pipeline.augment(image, tf.constant([1, 2], tf.int64), 10, 0.5)
    assert float(tf.reduce_mean(tf.abs(out - image))) > 1.0


def test_undecodable_photos_are_skipped_counted_and_named(tmp_path):
    folder = make_dataset(tmp_path, per_class=1)  # 6 photos
    Image.new("RGB", (8, 8)).save(folder / "img" / "ok.png")
    (folder / "img" / "0_red_0.png").write_bytes(b"garbage")
    split = split_of(folder)
    seen = sum(int(images.shape[0]) for images, *_ in pipeline.evaluation_dataset(split, SPEC, 4))
    assert seen == 5 and pipeline.count_skipped(split, seen) == 1
    (name,) = pipeline.undecodable(split, SPEC)
    assert name.endswith("train.txt:1: " + str(folder / "img" / "0_red_0.png"))


def test_cache_is_shared_across_epochs(tmp_path):
    folder = make_dataset(tmp_path, per_class=1)
    split = split_of(folder)
    cached = pipeline.cached_decoded(split, SPEC)
    first = [labels.numpy().tolist() for _, labels in pipeline.training_dataset(split, SPEC, 6, 0, 0, cached=cached)]
    for path in split.paths:  # the files are gone, the cache still serves every photo
        Path(path).unlink()
    again = [labels.numpy().tolist() for _, labels in pipeline.training_dataset(split, SPEC, 6, 0, 1, cached=cached)]
    assert sum(map(len, again)) == sum(map(len, first)) == 6
