"""TFRecord shards: prepare --format tfrecord writes them, training streams them and evaluation
reads them, to the figures of the split files they came from."""

import json

import numpy as np
import pytest

from conftest import make_dataset, tiny_config
from flowers_mtl.cli import prepare as prepare_cli
from flowers_mtl.data import pipeline
from flowers_mtl.data.shards import manifest_name
from flowers_mtl.data.splits import load_classes, read_split
from flowers_mtl.errors import UserInputError
from flowers_mtl.eval.scoring import predict_split, read_split_for
from flowers_mtl.model import store
from flowers_mtl.train.loop import train

QUIET = {"log": lambda *_: None}


def _shard(data, out, shards, size=32):
    assert prepare_cli.main(["--from-splits", str(data), "--format", "tfrecord", "--shards", str(shards),
                             "--image-size", str(size), "--out", str(out)]) == 0
    return out


def test_shards_hold_every_photo_once_with_its_labels(tmp_path, capsys):
    data = make_dataset(tmp_path / "data", per_class=2, unknown=1)  # 13 photos
    out = _shard(data, tmp_path / "shards", 3)
    assert "train: 13 photos (0 dropped) in 3 shard(s)" in capsys.readouterr().out
    classes = load_classes(out / "classes.json")
    split, source = read_split(out / manifest_name("train"), classes), read_split(data / "train.txt", classes)
    assert split.shards.photos_per_file == (5, 4, 4) and split.paths == source.paths
    np.testing.assert_array_equal(split.labels, source.labels)
    spec = tiny_config(data, tmp_path / "m").model
    images, labels, rows = (np.concatenate([b[i].numpy() for b in pipeline.evaluation_dataset(split, spec, 4)])
                            for i in range(3))
    assert sorted(rows.tolist()) == list(range(13))  # shard by shard: every photo once
    np.testing.assert_array_equal(labels, source.labels[rows])
    reference = np.concatenate([b[0].numpy() for b in pipeline.evaluation_dataset(source, spec, 13)])[rows]
    # JPEG at quality 95, colour at full resolution; these drawn pictures carry pixel noise, JPEG's worst case
    assert images.shape == reference.shape and np.abs(images - reference).mean() < 4.0


def test_one_shard_streams_the_split_files_order(tmp_path):
    data = make_dataset(tmp_path / "data", per_class=3)
    classes, spec = load_classes(data / "classes.json"), tiny_config(data, tmp_path / "m").model
    sharded = read_split(_shard(data, tmp_path / "shards", 1) / manifest_name("train"), classes)

    def order(split):
        return [labels.numpy().tolist() for _, labels in pipeline.training_dataset(split, spec, 8, seed=3, epoch=1)]

    assert order(sharded) == order(read_split(data / "train.txt", classes))


def test_workers_stream_disjoint_shards(tmp_path):
    data = make_dataset(tmp_path / "data", per_class=2)  # 12 photos in 4 shards of 3
    split = read_split(_shard(data, tmp_path / "shards", 4) / manifest_name("train"), load_classes(data / "classes.json"))
    spec = tiny_config(data, tmp_path / "m").model

    def rows_of(index):
        feed = pipeline.Feed(steps=2, batch_size=3, index=index, count=2)  # 2 workers, global batch 6
        return [tuple(map(tuple, labels.numpy())) for _, labels in pipeline.training_dataset(split, spec, feed, 0, 0)]

    batches = rows_of(0) + rows_of(1)
    assert [len(batch) for batch in batches] == [3, 3, 3, 3]
    # each worker reads its own two shards once: together, the split's photos once each
    assert sorted(row for batch in batches for row in batch) == sorted(map(tuple, split.labels.tolist()))
    with pytest.raises(UserInputError, match="4 shard file\\(s\\) cannot be shared among 5 workers"):
        next(iter(pipeline.training_dataset(split, spec, pipeline.Feed(steps=1, batch_size=1, count=5), 0, 0)))


def _probabilities(trained, path):
    split = read_split_for(trained, path)
    probs, _, rows = predict_split(trained.probabilities, split, trained.spec, 8)
    return {task: value[np.argsort(rows)] for task, value in probs.items()}


@pytest.mark.slow
@pytest.mark.parametrize("shards", [1, 3])
def test_a_sharded_split_trains_and_evaluates_like_its_split_files(tmp_path, shards):
    """Same seed, same settings: one shard streams the photos in the split files' order (only JPEG
    noise differs), three interleave them. Losses, answers and accuracy agree within tolerance."""
    data = make_dataset(tmp_path / "data", per_class=3)
    out = _shard(data, tmp_path / "shards", shards)
    runs = {}
    for name, train_file in (("files", data / "train.txt"), ("shards", out / manifest_name("train"))):
        config = tiny_config(data, tmp_path / name, train=str(train_file), epochs=3, dropout_keep_prob=1.0)
        result = train(config, **QUIET)
        trained = store.load_trained(result.folder)
        # One model, the same test photos read from their files and from their shards: the same answers.
        on_files, on_shards = _probabilities(trained, data / "test.txt"), _probabilities(trained, out / manifest_name("test"))
        for task in on_files:
            assert np.abs(on_files[task] - on_shards[task]).max() < 0.05
        runs[name] = (result.history, on_files)
    (history_files, probs_files), (history_shards, probs_shards) = runs["files"], runs["shards"]
    tolerance = 0.05 if shards == 1 else 0.15  # (JPEG noise alone moves these pictures' losses by 2-3%)
    for epoch_files, epoch_shards in zip(history_files, history_shards):
        for task in ("type", "colour"):
            assert epoch_shards["train_loss"][task] == pytest.approx(epoch_files["train_loss"][task], rel=tolerance)
            assert epoch_shards["val"][task]["loss"] == pytest.approx(epoch_files["val"][task]["loss"], rel=tolerance)
    for task in probs_files:  # the two models' test answers
        assert np.abs(probs_files[task] - probs_shards[task]).mean() < tolerance


def test_shard_mistakes_are_one_line(tmp_path):
    data = make_dataset(tmp_path / "data", per_class=1)
    out = _shard(data, tmp_path / "shards", 2)
    classes = load_classes(data / "classes.json")
    split = read_split(out / manifest_name("train"), classes)
    with pytest.raises(UserInputError, match="hold 32px photos .* needs 64px .* --image-size 64"):
        pipeline.evaluation_dataset(split, tiny_config(data, tmp_path / "m", image_size=64).model, 4)
    with pytest.raises(UserInputError, match="--from-splits converts split files to --format tfrecord"):
        prepare_cli.main(["--from-splits", str(data), "--out", str(tmp_path / "x")])
    manifest = json.loads((out / manifest_name("train")).read_text())
    (out / manifest["shards"][1]["file"]).unlink()
    with pytest.raises(UserInputError, match="1 shard file\\(s\\) not found"):
        read_split(out / manifest_name("train"), classes)
    (out / manifest_name("val")).write_text(json.dumps(manifest | {"format": "something else"}))
    with pytest.raises(UserInputError, match="not a flowers-mtl shard manifest"):
        read_split(out / manifest_name("val"), classes)


def test_data_folder_of_shards_is_found_by_train(tmp_path):
    from flowers_mtl.cli.train import _paths

    out = _shard(make_dataset(tmp_path / "data", per_class=1), tmp_path / "shards", 1)
    paths = _paths(out, False, {})
    assert [paths[k] for k in ("train", "val", "test")] == [str(out / manifest_name(k)) for k in ("train", "val", "test")]
    assert paths["classes"] == str(out / "classes.json")


def test_shards_that_cannot_be_written_are_one_line_and_leave_nothing(tmp_path, monkeypatch):
    import tensorflow as tf

    from flowers_mtl.data import tfrecord

    def refuse(path):
        raise tf.errors.ResourceExhaustedError(None, None, f"{path}; No space left on device")

    data = make_dataset(tmp_path / "data", per_class=1)
    monkeypatch.setattr(tfrecord.tf.io, "TFRecordWriter", refuse)
    with pytest.raises(UserInputError, match="cannot write the train shards .*No space left on device"):
        _shard(data, tmp_path / "shards", 2)
    assert not list((tmp_path / "shards").glob("*.tfrecord*"))
