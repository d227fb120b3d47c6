"""Training levers: --refit (train + val as one training split) and --ema-decay (the averaged
weights are the model, saved in checkpoints and restored on resume)."""

import numpy as np
import pytest
import tensorflow as tf

from conftest import make_dataset, tiny_config
from flowers_mtl.data.splits import join_splits, load_classes, read_split
from flowers_mtl.errors import UserInputError
from flowers_mtl.model import store
from flowers_mtl.train.average import WeightAverage
from flowers_mtl.train.loop import train

QUIET = {"log": lambda *_: None}


def test_the_average_follows_its_closed_form_and_swaps_in_and_out():
    w = tf.Variable([1.0, 2.0])
    average = WeightAverage([w], decay=0.5)
    expected = w.numpy().copy()
    for n, value in enumerate(([3.0, 4.0], [5.0, 0.0], [-1.0, 1.0])):
        w.assign(value)
        average.update()
        decay = min(0.5, (1 + n) / (10 + n))
        expected = decay * expected + (1 - decay) * np.array(value)
    np.testing.assert_allclose(average.shadows[0].numpy(), expected, rtol=1e-6)
    with average.swapped():
        np.testing.assert_allclose(w.numpy(), expected, rtol=1e-6)
    np.testing.assert_array_equal(w.numpy(), [-1.0, 1.0])
    np.testing.assert_allclose(average.shadows[0].numpy(), expected, rtol=1e-6)


def test_no_decay_keeps_no_shadow_and_changes_nothing():
    w = tf.Variable([1.0])
    average = WeightAverage([w], decay=0.0)
    average.update()
    with average.swapped():
        assert w.numpy() == 1.0
    assert not average.enabled and average.shadows == []


def test_joined_splits_keep_each_photo_file_and_line(tmp_path):
    data = make_dataset(tmp_path / "data", per_class=1)
    (data / "val.txt").write_text("# two of them\n" + "\n".join((data / "train.txt").read_text().splitlines()[:2]) + "\n")
    classes = load_classes(data / "classes.json")
    train_split, val_split = (read_split(data / f"{name}.txt", classes) for name in ("train", "val"))
    joined = join_splits([train_split, val_split])
    assert len(joined) == len(train_split) + 2
    np.testing.assert_array_equal(joined.labels, np.concatenate([train_split.labels, val_split.labels]))
    assert joined.where(0) == f"{data / 'train.txt'}:1"
    assert joined.where(len(train_split) + 1) == f"{data / 'val.txt'}:3"
    assert joined.only(["colour"]).where(len(train_split)) == f"{data / 'val.txt'}:2"


@pytest.mark.slow  # a training run (the quick tier keeps the unit tests above)
def test_refit_trains_on_train_and_val_without_validation(tmp_path):
    data = make_dataset(tmp_path / "data", per_class=1)  # 6 photos
    (data / "val.txt").write_text("\n".join((data / "train.txt").read_text().splitlines()[:2]) + "\n")
    lines = []
    result = train(tiny_config(data, tmp_path / "m", epochs=2, batch_size=4, refit=True), log=lines.append)
    start = next(line for line in lines if line.startswith("training "))
    assert "on 8 photos" in start and "train.txt + " in start and "refit" in start
    assert [(r["epoch"], r["step"], r["val"]) for r in result.history] == [(1, 2, None), (2, 4, None)]
    assert all(r["best"] for r in result.history)  # with no validation the last epoch is the model
    assert store.read_best_metrics(result.folder)["epoch"] == 2


def test_refit_needs_a_validation_split(tmp_path):
    data = make_dataset(tmp_path / "data", per_class=1)
    with pytest.raises(UserInputError, match="--refit .* give --val"):
        train(tiny_config(data, tmp_path / "m", refit=True, val=None), **QUIET)


@pytest.mark.parametrize("decay", [1.0, -0.1])
def test_an_impossible_decay_is_a_user_error(tmp_path, decay):
    data = make_dataset(tmp_path / "data", per_class=1)
    with pytest.raises(UserInputError, match="--ema-decay must be in"):
        train(tiny_config(data, tmp_path / "m", ema_decay=decay), **QUIET)


def _checkpoint_values(prefix: str) -> dict:
    reader = tf.train.load_checkpoint(prefix)
    return {name: reader.get_tensor(name) for name in reader.get_variable_to_shape_map()}


@pytest.mark.slow  # two training runs
def test_the_average_is_the_saved_model_and_a_rerun_goes_on_averaging(tmp_path):
    data = make_dataset(tmp_path / "data", per_class=1)
    config = tiny_config(data, tmp_path / "m", epochs=1, batch_size=4, ema_decay=0.6, learning_rate=3e-2,
                         val=None)
    train(config, **QUIET)
    saved = _checkpoint_values(store.training_checkpoints(tmp_path / "m")[0])
    shadows = {k: v for k, v in saved.items() if k.startswith("weight_average/shadows/")}
    best = store.load_trained(tmp_path / "m").model
    assert len(shadows) == len(best.trainable_variables)
    assert saved["weight_average/updates/.ATTRIBUTES/VARIABLE_VALUE"] == 2
    raw = {k: v for k, v in saved.items() if k.startswith("model/") and "OPTIMIZER_SLOT" not in k}
    shadow_values = [shadows[k] for k in sorted(shadows, key=lambda k: int(k.split("/")[2]))]
    for variable, shadow in zip(best.trainable_variables, shadow_values):
        np.testing.assert_array_equal(variable.numpy(), shadow)  # best/ holds the average ...
    assert any(not any(np.array_equal(v, s) for s in shadow_values) for v in raw.values() if v.ndim == 4)  # ... not the raw

    train(config.replace(epochs=2), **QUIET)  # the rerun restores the shadows and goes on
    resumed = _checkpoint_values(store.training_checkpoints(tmp_path / "m")[0])
    assert resumed["weight_average/updates/.ATTRIBUTES/VARIABLE_VALUE"] == 4


@pytest.mark.slow  # builds a training session (the quick tier stays under 2 minutes)
def test_a_trained_model_folder_starts_a_run_at_another_size(trained_model, tmp_path):
    from flowers_mtl.train.loop import training_session

    data = trained_model.parent / "data"
    config = tiny_config(data, tmp_path / "larger", image_size=48, pretrained=str(trained_model), freeze_trunk_epochs=0)
    lines = []
    with training_session(config, lines.append) as session:
        source = store.load_trained(trained_model).model
        for mine, theirs in zip(session.model.variables, source.variables, strict=True):
            np.testing.assert_array_equal(mine.numpy(), theirs.numpy())
    assert any(line.startswith(f"started from the trained model {trained_model}") for line in lines)
    with pytest.raises(UserInputError, match=f"--pretrained {trained_model}: that model differs .*sharing"):
        train(config.replace(sharing="soft", out=str(tmp_path / "soft")), **QUIET)
