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
     ({"split_after": "fire1"}, "--split-after must be one of fire2, "), ({"label_smoothing": 1.0}, "--label-smoothing")],
)
def test_validation_messages_name_the_flag(overrides, message):
    with pytest.raises(UserInputError, match=message):
        config(**overrides).validate()
