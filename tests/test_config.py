import json

import pytest

from flowers_mtl.config import TrainConfig
from flowers_mtl.errors import UserInputError


def config(**overrides):
    return TrainConfig(**({"train": "t.txt", "val": None, "test": None, "classes": "c.json", "out": "m"} | overrides))


def test_round_trip(tmp_path):
    original = config(image_size=128, learning_rate=3e-4)
    original.save(tmp_path)
    assert TrainConfig.load(tmp_path) == original


def test_unknown_setting_and_missing_folder(tmp_path):
    with pytest.raises(UserInputError, match="not a model folder"):
        TrainConfig.load(tmp_path)
    (tmp_path / "config.json").write_text(json.dumps({"train": "t", "val": None, "test": None, "classes": "c", "out": "m", "colour_magic": 1}))
    with pytest.raises(UserInputError, match="unknown settings colour_magic"):
        TrainConfig.load(tmp_path)


@pytest.mark.parametrize(
    "overrides, message",
    [({"image_size": 16}, "--image-size must be at least 32"), ({"epochs": 0}, "--epochs must be positive"),
     ({"optimizer": "rmsprop"}, "adam or momentum"), ({"dropout_keep_prob": 0}, "--dropout-keep-prob"),
     ({"split_after": "fire1"}, "--split-after must be one of fire2, "), ({"label_smoothing": 1.0}, "--label-smoothing"),
     ({"mode": "relay"}, "--mode must be one of joint, alternate"), ({"sharing": "some"}, "--sharing must be one of hard"),
     ({"loss_weighting": "x"}, "--loss-weighting must be one of fixed"),
     ({"class_weighting": "inverse"}, "--class-weighting must be one of none, sqrt, balanced"),
     ({"freeze_trunk_epochs": -1}, "--freeze-trunk-epochs must be >= 0"), ({"soft_weight": -1.0}, "--soft-weight"),
     ({"tasks": []}, "--tasks needs at least one task"), ({"loss_weights": {"type": -1.0}}, "--loss-weights: type=-1.0"),
     ({"alternate_ratio": {"type": 0, "colour": 0}}, "--alternate-ratio: at least one task")],
)
def test_validation_messages_name_the_flag(overrides, message):
    with pytest.raises(UserInputError, match=message):
        config(**overrides).validate()
