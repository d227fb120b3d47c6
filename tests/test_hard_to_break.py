"""Kills, damaged files, full disks, hostile photos and runaway losses: each costs at most the
work since the last checkpoint and is reported in one line. A kill is simulated by cutting a
file as the kill would leave it, or by interrupting the write at the moment it would strike."""

from __future__ import annotations

import errno
import json
import shutil
import struct
import zlib
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from conftest import make_dataset, tiny_config
from flowers_mtl import files
from flowers_mtl.errors import TrainingDiverged, UserInputError


def copy_of(trained_model: Path, tmp_path: Path) -> Path:
    return Path(shutil.copytree(trained_model, tmp_path / "model"))


def cut(path: Path, keep: float = 0.0) -> None:
    """Leave only the first `keep` share of a file, as a kill during its write does."""
    data = path.read_bytes()
    path.write_bytes(data[: int(len(data) * keep)])


def rerun_config(folder: Path, **changes):
    """The settings the session's trained_model was made with, writing into `folder`."""
    saved = json.loads((folder / "config.json").read_text())
    return tiny_config(Path(saved["train"]).parent, folder, **({"epochs": saved["epochs"]} | changes))


# ---------------------------------------------------------------- 1. a kill while best/ or a checkpoint is written

def test_a_cut_best_index_falls_back_to_the_newest_checkpoint_with_a_warning(trained_model, tmp_path):
    from flowers_mtl.model import store

    folder = copy_of(trained_model, tmp_path)
    cut(folder / "best" / "model.index")
    warnings = []
    trained = store.load_trained(folder, on_damaged=warnings.append)
    assert trained.checkpoint == store.training_checkpoints(folder)[0]
    assert len(warnings) == 1 and "best/model is damaged" in warnings[0]


def test_a_best_data_file_cut_in_half_falls_back_too(trained_model, tmp_path):
    from flowers_mtl.model import store

    folder = copy_of(trained_model, tmp_path)
    cut(next((folder / "best").glob("model.data-*")), keep=0.5)
    warnings = []
    assert "checkpoints" in store.load_trained(folder, on_damaged=warnings.append).checkpoint
    assert "damaged" in warnings[0]


def test_a_cut_newest_checkpoint_falls_back_to_the_one_before(trained_model, tmp_path):
    from flowers_mtl.model import store

    folder = copy_of(trained_model, tmp_path)
    shutil.rmtree(folder / "best")
    newest, before = store.training_checkpoints(folder)
    cut(Path(newest + ".index"), keep=0.3)
    warnings = []
    assert store.load_trained(folder, on_damaged=warnings.append).checkpoint == before
    assert newest in warnings[0]


def test_every_checkpoint_damaged_is_one_line(trained_model, tmp_path):
    from flowers_mtl.model import store

    folder = copy_of(trained_model, tmp_path)
    for index in folder.rglob("*.index"):
        cut(index)
    with pytest.raises(UserInputError, match="every checkpoint is damaged"):
        store.load_trained(folder, on_damaged=lambda _: None)


def test_a_kill_between_the_two_renames_of_best_leaves_the_old_copy_in_use(trained_model, tmp_path):
    from flowers_mtl.model import store

    folder = copy_of(trained_model, tmp_path)
    (folder / "best").rename(folder / "best.old")
    assert store.load_trained(folder, on_damaged=pytest.fail).checkpoint == str(folder / "best.old" / "model")
    assert store.read_best_metrics(folder)["step"] > 0


def test_a_kill_while_best_is_written_keeps_the_previous_best_whole(trained_model, tmp_path, monkeypatch):
    from flowers_mtl.model import store

    folder = copy_of(trained_model, tmp_path)
    before = store.read_best_metrics(folder)
    trained = store.load_trained(folder)

    def killed_mid_write(model, prefix):
        Path(prefix + ".index").write_bytes(b"\0" * 10)
        raise KeyboardInterrupt

    monkeypatch.setattr(store, "save_weights", killed_mid_write)
    with pytest.raises(KeyboardInterrupt):
        store.save_best(trained.model, folder, {"step": 99})
    assert store.load_trained(folder, on_damaged=pytest.fail).checkpoint == str(folder / "best" / "model")
    assert store.read_best_metrics(folder) == before
    store.clean_leftovers(folder)
    assert not (folder / "best.partial").exists()


def test_a_damaged_best_metrics_file_reads_as_none(trained_model, tmp_path):
    from flowers_mtl.model import store

    folder = copy_of(trained_model, tmp_path)
    (folder / "best" / "metrics.json").write_text('{"step": 4, "epo')
    assert store.read_best_metrics(folder) is None


def test_a_text_write_that_fails_leaves_the_old_file(tmp_path, monkeypatch):
    path = tmp_path / "config.json"
    path.write_text("old")

    def disk_full(_):
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(files.os, "fsync", disk_full)
    with pytest.raises(OSError):
        files.write_text(path, "new")
    assert path.read_text() == "old" and list(tmp_path.iterdir()) == [path]


@pytest.mark.slow
def test_a_rerun_repairs_a_damaged_best_and_removes_leftovers(trained_model, tmp_path):
    from flowers_mtl.model import store
    from flowers_mtl.train.loop import train

    folder = copy_of(trained_model, tmp_path)
    cut(folder / "best" / "model.index")
    (folder / "best.partial").mkdir()
    (folder / "checkpoints" / "ckpt-9_temp").mkdir()
    lines = []
    train(rerun_config(folder), log=lines.append)
    assert any("nothing to do" in line for line in lines)
    assert any("rewritten from the checkpoint" in line for line in lines)
    assert store.load_trained(folder, on_damaged=pytest.fail).checkpoint == str(folder / "best" / "model")
    assert not (folder / "best.partial").exists() and not (folder / "checkpoints" / "ckpt-9_temp").exists()


# ---------------------------------------------------------------- 2. a kill during an epoch's validation

@pytest.mark.slow
def test_a_kill_during_the_last_epochs_validation_is_made_good_on_resume(tmp_path, monkeypatch):
    from flowers_mtl.train import loop

    data = make_dataset(tmp_path / "data", per_class=2)
    config = tiny_config(data, tmp_path / "model", epochs=1, checkpoint_every=1)

    def killed(*_):
        raise KeyboardInterrupt

    with monkeypatch.context() as patch:
        patch.setattr(loop.Validation, "scores", killed)
        with pytest.raises(KeyboardInterrupt):
            loop.train(config, log=lambda _: None)
    result = loop.train(config, log=lambda _: None)
    assert [record["epoch"] for record in result.history] == [1]
    assert result.history[0]["val"] is not None and result.history[0]["best"]
    assert result.best["epoch"] == 1


# ---------------------------------------------------------------- 3. weights that stop being finite

@pytest.mark.slow
def test_weights_turned_nan_stop_the_run_and_nothing_non_finite_is_saved(tmp_path, monkeypatch):
    import tensorflow as tf

    from flowers_mtl.model import store
    from flowers_mtl.train import loop, step

    data = make_dataset(tmp_path / "data", per_class=2)
    loop.train(tiny_config(data, tmp_path / "model", epochs=1), log=lambda _: None)
    real_step, real_build, models = step.StepPlan.step_for, loop.build_model, []

    def poisoned(self, at, frozen):
        run = real_step(self, at, frozen)

        def step_then_nan(images, labels):
            losses = run(images, labels)  # finite: ReLU may hide NaN weights from the loss
            variable = models[-1].trainable_variables[-1]
            variable.assign(tf.fill(variable.shape, float("nan")))
            return losses

        return step_then_nan

    monkeypatch.setattr(step.StepPlan, "step_for", poisoned)
    monkeypatch.setattr(loop, "build_model", lambda *args: models.append(real_build(*args)) or models[-1])
    with pytest.raises(TrainingDiverged, match=r"1 of \d+ weight tensors hold NaN.*last finite checkpoint is .*ckpt-2"):
        loop.train(tiny_config(data, tmp_path / "model", epochs=2, log_every=1), log=lambda _: None)
    folder = tmp_path / "model"
    for prefix in store.training_checkpoints(folder) + store.best_checkpoints(folder):
        assert store.checkpoint_problem(prefix) is None
    assert store.training_checkpoints(folder) == [str(folder / "checkpoints" / "ckpt-2")]


def test_a_checkpoint_with_nan_weights_is_passed_over(trained_model, tmp_path):
    import tensorflow as tf

    from flowers_mtl.model import store

    folder = copy_of(trained_model, tmp_path)
    trained = store.load_trained(folder)
    variable = trained.model.trainable_variables[0]
    variable.assign(tf.fill(variable.shape, float("nan")))
    store.save_weights(trained.model, str(folder / "best" / "model"))
    assert "NaN" in store.checkpoint_problem(str(folder / "best" / "model"))
    warnings = []
    assert "checkpoints" in store.load_trained(folder, on_damaged=warnings.append).checkpoint
    assert "NaN or infinite" in warnings[0]


@pytest.mark.parametrize("setting", ["soft_weight", "learning_rate", "weight_decay", "momentum"])
def test_non_finite_numbers_are_refused(tmp_path, setting):
    config = tiny_config(tmp_path, tmp_path / "model", **{setting: float("nan")})
    with pytest.raises(UserInputError, match=f"--{setting.replace('_', '-')} must be a finite number"):
        config.validate()


# ---------------------------------------------------------------- 4, 5. hostile photos

def png_header_only(path: Path, width: int, height: int) -> Path:
    """A PNG claiming width x height pixels with almost no data: a decompression bomb's header."""
    def chunk(kind: bytes, body: bytes) -> bytes:
        return struct.pack(">I", len(body)) + kind + body + struct.pack(">I", zlib.crc32(kind + body))

    header = struct.pack(">IIBBBBB", width, height, 8, 0, 0, 0, 0)
    path.write_bytes(b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", zlib.compress(b"\0" * 64))
                     + chunk(b"IEND", b""))
    return path


def test_a_decompression_bomb_is_refused_from_its_header(tmp_path):
    from flowers_mtl.data import images

    bomb = png_header_only(tmp_path / "bomb.png", 13000, 13000)
    with pytest.raises(UserInputError, match=r"bomb.png: image too large \(13000 x 13000"):
        images.load_rgb(str(bomb), 32)
    bigger = png_header_only(tmp_path / "bigger.png", 40000, 40000)  # past Pillow's own bomb limit
    with pytest.raises(UserInputError, match="bigger.png: image too large"):
        images.load_rgb(str(bigger), 32)


def test_the_pixel_limit_is_a_setting(tmp_path):
    from flowers_mtl.data import images

    photo = tmp_path / "p.png"
    Image.new("RGB", (40, 40)).save(photo)
    try:
        images.set_pixel_limit(1000)
        with pytest.raises(UserInputError, match="limit is 1,000"):
            images.load_rgb(str(photo), 32)
    finally:
        images.set_pixel_limit(images.MAX_PIXELS)
    assert images.load_rgb(str(photo), 32).shape == (32, 32, 3)
    with pytest.raises(UserInputError, match="--max-pixels must be positive"):
        images.set_pixel_limit(0)


def test_predict_answers_the_good_photos_beside_a_bomb(trained_model, tmp_path, capsys):
    from flowers_mtl.cli import predict
    from flowers_mtl.cli.common import run

    good = tmp_path / "good.png"
    Image.new("RGB", (40, 40), (200, 30, 30)).save(good)
    bomb = png_header_only(tmp_path / "bomb.png", 13000, 13000)
    assert run(predict.main, ["--model", str(trained_model), str(bomb), str(good)]) == 2
    out, err = capsys.readouterr()
    assert "good.png" in out and "bomb.png" not in out
    assert err.strip().splitlines() == [f"error: {bomb}: image too large (13000 x 13000 pixels; the limit is "
                                        "40,000,000)"]


@pytest.mark.parametrize("mode", ["I;16", "I"])
def test_16_bit_grey_photos_are_scaled_not_clipped_to_white(tmp_path, mode):
    from flowers_mtl.data import images

    levels = np.linspace(0, 65535, 64 * 64).reshape(64, 64)
    path = tmp_path / "grey16.png"
    Image.fromarray(levels.astype(np.uint16)).save(path)  # a 16-bit grey PNG
    if mode == "I":  # Pillow may open 16-bit files as I (32-bit) holding 0..65535
        path = tmp_path / "grey16.tif"
        Image.fromarray(levels.astype(np.int32), "I").save(path)
    pixels = images.load_rgb(str(path), 64, images.Preprocessing(jpeg_draft=False))
    assert abs(pixels.mean() - levels.mean() / 257) < 1.0
    assert pixels.min() == 0 and pixels.max() == 255


# ---------------------------------------------------------------- 7. two trainings into one folder

def test_a_second_training_into_a_locked_folder_is_refused(tmp_path):
    from filelock import FileLock

    from flowers_mtl.train import loop

    data = make_dataset(tmp_path / "data", per_class=1)
    out = tmp_path / "model"
    out.mkdir()
    with FileLock(out / loop.LOCK_FILE):
        with pytest.raises(UserInputError, match="another training is writing to this folder"):
            loop.train(tiny_config(data, out), log=lambda _: None)
    assert not (out / "config.json").exists()


# ---------------------------------------------------------------- 8, 9. output places, disk faults, reruns

@pytest.mark.parametrize("where", ["a file", "under a file"])
def test_an_out_that_cannot_be_a_folder_is_one_line(tmp_path, where):
    from flowers_mtl.train import loop

    data = make_dataset(tmp_path / "data", per_class=1)
    blocker = tmp_path / "taken"
    blocker.write_text("not a folder")
    out = blocker if where == "a file" else blocker / "model"
    with pytest.raises(UserInputError, match=r"--out .*taken.*: cannot write there"):
        loop.train(tiny_config(data, out), log=lambda _: None)


@pytest.mark.slow
def test_a_full_disk_at_a_checkpoint_is_one_line_and_keeps_the_last_one(tmp_path, monkeypatch):
    import tensorflow as tf

    from flowers_mtl.model import store
    from flowers_mtl.train import loop

    data = make_dataset(tmp_path / "data", per_class=2)
    folder = tmp_path / "model"
    loop.train(tiny_config(data, folder, epochs=1), log=lambda _: None)

    def disk_full(self, *args, **kwargs):
        raise tf.errors.ResourceExhaustedError(None, None, "No space left on device")

    monkeypatch.setattr(tf.train.CheckpointManager, "save", disk_full)
    with pytest.raises(UserInputError, match=r"cannot write a checkpoint \(No space left on device\); .*ckpt-2 is "
                                             "intact: free space and rerun"):
        loop.train(tiny_config(data, folder, epochs=2, checkpoint_every=1), log=lambda _: None)
    assert store.checkpoint_problem(str(folder / "checkpoints" / "ckpt-2")) is None


@pytest.mark.slow
def test_a_rerun_of_a_finished_run_leaves_config_json_alone(trained_model, tmp_path):
    from flowers_mtl.train.loop import train

    folder = copy_of(trained_model, tmp_path)
    before = (folder / "config.json").read_bytes()
    lines = []
    train(rerun_config(folder, epochs=1), log=lines.append)
    assert any("nothing to do" in line for line in lines)
    assert (folder / "config.json").read_bytes() == before


# ---------------------------------------------------------------- 10, 11. the splits, settings and folders

def test_a_broken_test_split_is_found_before_training(tmp_path):
    from flowers_mtl.train import loop

    data = make_dataset(tmp_path / "data", per_class=1)
    with (data / "test.txt").open("a") as test:
        test.write("img/x.png, 0, 0, 7\n")
    with pytest.raises(UserInputError, match=r"test.txt:\d+"):
        loop.train(tiny_config(data, tmp_path / "model"), log=lambda _: None)
    assert not (tmp_path / "model").exists()


def test_a_task_without_any_known_label_warns_and_no_labels_at_all_is_refused(tmp_path):
    from flowers_mtl.data.splits import load_classes, read_split
    from flowers_mtl.train import loop

    data = make_dataset(tmp_path / "data", per_class=1)
    text = (data / "train.txt").read_text()
    (data / "train.txt").write_text("".join(line.rsplit(",", 1)[0] + ", -1\n" for line in text.splitlines()))
    lines = []
    loop._check_labels(read_split(data / "train.txt", load_classes(data / "classes.json")), lines.append)
    assert lines == [f"warning: {data / 'train.txt'}: no photo has a known colour label; that head will not learn "
                     "(train the other task alone with --tasks)"]
    (data / "train.txt").write_text("".join(line.split(",")[0] + ", -1, -1\n" for line in text.splitlines()))
    with pytest.raises(UserInputError, match="no photo has a known label"):
        loop._check_labels(read_split(data / "train.txt", load_classes(data / "classes.json")), print)


@pytest.mark.parametrize("edit, message", [
    ({"epochs": "twelve"}, r"config.json: epochs should be int, got \"twelve\""),
    ({"tasks": "type"}, r"config.json: tasks should be list\[str\] \| None"),
    ({"learning_rate": True}, r"config.json: learning_rate should be float, got true"),
])
def test_an_edited_config_json_of_the_wrong_type_is_one_line(trained_model, tmp_path, edit, message):
    from flowers_mtl.config import TrainConfig

    folder = copy_of(trained_model, tmp_path)
    saved = json.loads((folder / "config.json").read_text())
    (folder / "config.json").write_text(json.dumps(saved | edit))
    with pytest.raises(UserInputError, match=message):
        TrainConfig.load(folder)


def test_a_model_json_edited_to_an_unknown_split_point_is_one_line(trained_model, tmp_path):
    from flowers_mtl.model import store

    folder = copy_of(trained_model, tmp_path)
    spec = json.loads((folder / "model.json").read_text())
    (folder / "model.json").write_text(json.dumps(spec | {"split_after": "fire99"}))
    with pytest.raises(UserInputError, match=r"model.json: --split-after must be one of"):
        store.load_trained(folder)


def test_classes_that_no_longer_match_the_weights_are_one_line(trained_model, tmp_path):
    from flowers_mtl.model import store

    folder = copy_of(trained_model, tmp_path)
    spec = json.loads((folder / "model.json").read_text())
    spec["classes"]["colour"].append("blue")
    (folder / "model.json").write_text(json.dumps(spec))
    with pytest.raises(UserInputError, match=r"the weights do not fit .*model.json \(was it edited\?\)"):
        store.load_trained(folder)


def test_a_user_error_is_one_line_and_debug_adds_its_traceback(tmp_path, capsys):
    from flowers_mtl.cli import evaluate
    from flowers_mtl.cli.common import run

    args = ["--model", str(tmp_path), "--split", str(tmp_path)]
    assert run(evaluate.main, args) == 2
    assert capsys.readouterr().err == f"error: {tmp_path}: is a folder, not a split file (lines of: path, type, colour, or a NAME.shards.json)\n"
    assert run(evaluate.main, [*args, "--debug"]) == 2
    err = capsys.readouterr().err
    assert err.startswith("Traceback") and err.splitlines()[-1].startswith("error: ")
