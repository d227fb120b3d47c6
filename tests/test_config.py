"""The run's settings: JSON round trips, recipes, validation messages, flags from fields, and
the TensorFlow-free import."""

import dataclasses
import json
import subprocess
import sys

import pytest

from conftest import ROOT
from flowers_mtl.cli import flags
from flowers_mtl.cli import train as train_cli
from flowers_mtl.config import TrainConfig, read_recipe
from flowers_mtl.errors import UserInputError
from flowers_mtl.spec import ClassNames, ModelSpec, read_spec


def config(**overrides):
    return TrainConfig.from_json({"train": "t.txt", "classes": "c.json", "out": "m"} | overrides, "test")


def test_round_trip(tmp_path):
    original = config(image_size=128, learning_rate=1e-3, resize="center_crop", tasks=["colour"])
    original.save(tmp_path)
    loaded = TrainConfig.load(tmp_path)
    assert loaded == original
    assert loaded.model.image_size == 128 and loaded.model.preprocessing.resize == "center_crop"


def test_spec_round_trip_and_differences(tmp_path):
    spec = ModelSpec(ClassNames({"type": ("a", "b"), "colour": ("c", "d", "e")}), image_size=96, split_after="fire5")
    spec.save(tmp_path)
    assert read_spec(tmp_path) == spec
    other = dataclasses.replace(spec, preprocessing=dataclasses.replace(spec.preprocessing, resample="bicubic"))
    assert spec.differences(other) == ["preprocessing.resample: 'bilinear' != 'bicubic'"]


def test_unknown_setting_and_missing_folder(tmp_path):
    with pytest.raises(UserInputError, match="not a model folder"):
        TrainConfig.load(tmp_path)
    (tmp_path / "config.json").write_text(json.dumps({"train": "t", "colour_magic": 1}))
    with pytest.raises(UserInputError, match="unknown settings colour_magic"):
        TrainConfig.load(tmp_path)


def test_a_flat_older_config_is_read_into_the_nested_layout():
    old = {"train": "t", "val": None, "test": None, "classes": "c", "out": "m", "image_size": 128, "split_after": "fire5"}
    loaded = TrainConfig.from_json(old, "old")
    assert loaded.model.image_size == 128 and loaded.model.split_after == "fire5" and loaded.classes == "c"


@pytest.mark.parametrize(
    "overrides, message",
    [({"image_size": 16}, "--image-size must be at least 32"), ({"epochs": 0}, "--epochs must be positive"),
     ({"optimizer": "rmsprop"}, "--optimizer must be one of adam, momentum"), ({"dropout_keep_prob": 0}, "--dropout-keep-prob"),
     ({"split_after": "fire1"}, "--split-after must be one of fire2, "), ({"label_smoothing": 1.0}, "--label-smoothing"),
     ({"mode": "relay"}, "--mode must be one of joint, alternate"), ({"sharing": "some"}, "--sharing must be one of hard"),
     ({"loss_weighting": "x"}, "--loss-weighting must be one of fixed"),
     ({"class_weighting": "inverse"}, "--class-weighting must be one of none, sqrt, balanced"),
     ({"resize": "stretch"}, "--resize must be one of squash, center_crop"),
     ({"freeze_trunk_epochs": -1}, "--freeze-trunk-epochs must be >= 0"), ({"soft_weight": -1.0}, "--soft-weight"),
     ({"log_every": 0}, "--log-every must be positive"), ({"warmup_steps": -1}, "--warmup-steps must be >= 0"),
     ({"tasks": []}, "--tasks needs at least one task"), ({"loss_weights": {"type": -1.0}}, "--loss-weights: type=-1.0"),
     ({"alternate_ratio": {"type": 0, "colour": 0}}, "--alternate-ratio: at least one task")],
)
def test_validation_messages_name_the_flag(overrides, message):
    with pytest.raises(UserInputError, match=message):
        config(**overrides).validate()


def test_every_setting_is_a_flag_with_help():
    parser = train_cli.parser()
    options = {action.dest: action for action in parser._actions}
    for name in flags.field_names(TrainConfig):
        assert name in options, name
        assert options[name].help and not options[name].help.endswith((" ", ",")), name
    for name in ("warmup_steps", "momentum", "log_every", "resize", "resample"):
        assert name in options


def test_flags_override_a_recipe_which_overrides_the_defaults(tmp_path, monkeypatch):
    recipe = tmp_path / "recipe.json"
    recipe.write_text(json.dumps({"//": "a note", "epochs": 3, "image-size": 64, "learning_rate": 0.01}))
    assert read_recipe(recipe) == {"epochs": 3, "image_size": 64, "learning_rate": 0.01}
    seen = {}

    class Stop(Exception):
        pass

    def fake_train(config):
        seen["config"] = config
        raise Stop

    monkeypatch.setattr("flowers_mtl.train.loop.train", fake_train)
    data = tmp_path / "data"
    data.mkdir()
    (data / "train.txt").write_text("")
    with pytest.raises(Stop):
        train_cli.main(["--config", str(recipe), "--data", str(data), "--epochs", "5", "--out", str(tmp_path / "m")])
    chosen = seen["config"]
    assert (chosen.epochs, chosen.model.image_size, chosen.learning_rate, chosen.batch_size) == (5, 64, 0.01, 32)


def test_a_recipe_with_an_unknown_setting_is_a_user_error(tmp_path):
    recipe = tmp_path / "recipe.json"
    recipe.write_text(json.dumps({"epochz": 3}))
    with pytest.raises(UserInputError, match="recipe.json: unknown settings epochz"):
        train_cli.main(["--config", str(recipe), "--data", str(tmp_path)])


def test_the_shipped_recipes_are_valid():
    for path in sorted((ROOT / "configs").glob("*.json")):
        settings = read_recipe(path)
        assert set(settings) <= flags.field_names(TrainConfig), path
        TrainConfig.from_json(settings, str(path)).validate()


@pytest.mark.subprocess
def test_spec_config_and_train_help_load_no_tensorflow():
    code = ("import sys, flowers_mtl.spec, flowers_mtl.config, flowers_mtl.cli.train; "
            "print(sorted(m for m in sys.modules if m.split('.')[0] in ('tensorflow', 'tf_keras', 'tf_slim')))")
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=ROOT)
    assert done.returncode == 0 and done.stdout.strip() == "[]", done.stderr
    for args in (["--help"], ["--epochs", "x"], ["--image-size", "8", "--data", "/tmp"]):
        done = subprocess.run([sys.executable, "-X", "importtime", "train.py", *args], capture_output=True, text=True,
                              cwd=ROOT)
        assert done.returncode in (0, 2) and "tensorflow" not in done.stderr, args
