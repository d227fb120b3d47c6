"""Shared fixtures: tiny image sets the tests draw themselves, and a tiny trained model."""

from __future__ import annotations

import json
import os
import shutil
import warnings
from pathlib import Path

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
warnings.filterwarnings("ignore", message=r".*`layer\.(apply|updates)`.*")

import numpy as np  # noqa: E402  (TensorFlow's log level is set before anything can import it)
import pytest  # noqa: E402
from PIL import Image  # noqa: E402

ROOT = Path(__file__).resolve().parent.parent
SHARED = ROOT.parent / "shared"
TINY_CLASSES = {"type": ["rose", "daisy"], "colour": ["red", "pink", "white"]}
COLOUR_RGB = {"red": (200, 30, 30), "pink": (240, 150, 190), "white": (240, 240, 240)}


PRETRAINED_H5 = SHARED / "pretrained" / "squeezenet_weights_tf_dim_ordering_tf_kernels_notop.h5"


LOGICAL_CPUS = 2


def pytest_configure(config):
    """The CPU split into two logical devices before TensorFlow starts (it cannot be split later),
    for the mirrored-strategy tests; everything else runs on the first, as it would without."""
    from flowers_mtl.train.distribute import logical_cpus

    logical_cpus(LOGICAL_CPUS)


def pytest_collection_modifyitems(items):
    """A child process pays TensorFlow's start-up (5-10 s here), and shared-data tests read real
    photos and weights: both belong to the slow tier, so `-m "not slow"` stays quick."""
    for item in items:
        if item.get_closest_marker("subprocess") or item.get_closest_marker("shared_data"):
            item.add_marker(pytest.mark.slow)


def pytest_runtest_setup(item):
    """`shared_data` tests skip where ../shared is absent, and fail instead under CI
    (FLOWERS_MTL_REQUIRE_SHARED=1), where its absence is a broken set-up, not a choice."""
    if item.get_closest_marker("shared_data") and not SHARED.is_dir():
        message = f"needs the shared data at {SHARED} (absent)"
        if os.environ.get("FLOWERS_MTL_REQUIRE_SHARED"):
            pytest.fail(message)
        pytest.skip(message)


def chromium() -> str | None:
    """Debian's browser, which the page tests drive through Playwright (no browser download)."""
    return shutil.which("chromium") or shutil.which("chromium-browser")


def make_spec(num_classes: dict[str, int], image_size: int = 64, **settings):
    """A ModelSpec with `n` made-up class names per task."""
    from flowers_mtl.spec import ClassNames, ModelSpec

    classes = ClassNames({task: tuple(f"{task}{i}" for i in range(n)) for task, n in num_classes.items()})
    return ModelSpec(classes=classes, image_size=image_size, **settings)


def draw(path: Path, type_id: int, colour: str, size: int = 40, seed: int = 0) -> Path:
    """A tiny picture whose type is a shape (0: disc, 1: cross) and whose colour is the shape's."""
    rng = np.random.default_rng(seed)
    pixels = np.full((size, size, 3), (40, 110, 40), dtype=np.uint8)
    pixels = np.clip(pixels + rng.integers(-15, 16, pixels.shape), 0, 255).astype(np.uint8)
    yy, xx = np.mgrid[:size, :size]
    c = size / 2 + rng.integers(-3, 4, 2)
    if type_id == 0:
        mask = (yy - c[0]) ** 2 + (xx - c[1]) ** 2 < (size / 3) ** 2
    else:
        mask = (np.abs(yy - c[0]) < size / 10) | (np.abs(xx - c[1]) < size / 10)
    pixels[mask] = COLOUR_RGB[colour]
    path.parent.mkdir(parents=True, exist_ok=True)
    Image.fromarray(pixels).save(path)
    return path


def make_dataset(folder: Path, per_class: int = 4, unknown: int = 0, size: int = 40) -> Path:
    """folder/{train,val,test}.txt + classes.json over drawn pictures (the same pictures in every
    split: these are for exercising code, not for measuring generalisation)."""
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "classes.json").write_text(json.dumps(TINY_CLASSES))
    lines, seed = [], 0
    for type_id in (0, 1):
        for colour_id, colour in enumerate(TINY_CLASSES["colour"]):
            for i in range(per_class):
                seed += 1
                draw(folder / "img" / f"{type_id}_{colour}_{i}.png", type_id, colour, size, seed)
                lines.append(f"img/{type_id}_{colour}_{i}.png, {type_id}, {colour_id}")
    for i in range(unknown):
        draw(folder / "img" / f"mixed_{i}.png", i % 2, "pink", size, 1000 + i)
        lines.append(f"img/mixed_{i}.png, {i % 2}, -1")
    for name in ("train", "val", "test"):
        (folder / f"{name}.txt").write_text("\n".join(lines) + "\n")
    return folder


def tiny_config(data: Path, out: Path, **overrides):
    """Settings by flat name, model ones included (image_size, sharing, ...)."""
    from flowers_mtl.config import TrainConfig

    settings = dict(
        train=str(data / "train.txt"),
        val=str(data / "val.txt"),
        test=str(data / "test.txt"),
        classes=str(data / "classes.json"),
        out=str(out),
        image_size=32,
        batch_size=8,
        epochs=1,
        warmup_steps=0,
        checkpoint_every=1000,
        pretrained=None,  # from scratch unless a test asks for ImageNet weights
    )
    settings.update(overrides)
    return TrainConfig.from_json(settings, "test settings")


@pytest.fixture(scope="session")
def trained_model(tmp_path_factory) -> Path:
    """A model trained for a few steps on tiny pictures: enough to exercise evaluate and predict."""
    from flowers_mtl.train.loop import train

    base = tmp_path_factory.mktemp("trained")
    data = make_dataset(base / "data", per_class=2, unknown=2)
    config = tiny_config(data, base / "model", epochs=2)
    train(config, log=lambda *_: None)
    return base / "model"


@pytest.fixture(scope="session")
def exported(trained_model, tmp_path_factory) -> Path:
    """Every export of the session's tiny model (SavedModel, TFLite float32/float16/dynamic/int8)."""
    from flowers_mtl.cli import export

    out = tmp_path_factory.mktemp("exports")
    assert export.main(["--model", str(trained_model), "--out", str(out), "--calibration-photos", "8"]) == 0
    return out
