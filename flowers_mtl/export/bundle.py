"""Exporting one trained model in several forms into one folder, with the file names fixed:

    OUT/savedmodel/1/            SavedModel in TF Serving's layout (model base path OUT/savedmodel)
    OUT/model-float32.tflite     TFLite, float32
    OUT/model-float16.tflite     TFLite, float16 weights
    OUT/model-dynamic.tflite     TFLite, int8 weights and float activations (dynamic range)
    OUT/model-int8.tflite        TFLite, full integer (uint8 pixels in, uint8 probabilities out)

Each is written beside its final name and renamed into place, so a killed export never leaves a
half-written model under a name that loads.
"""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import numpy as np

from .. import signature
from ..data import images
from ..data.splits import Split
from ..errors import UserInputError
from . import savedmodel, tflite

SAVEDMODEL_BASE = "savedmodel"
TFLITE_NAME = {"none": "model-float32.tflite", "float16": "model-float16.tflite", "dynamic": "model-dynamic.tflite",
               "int8": "model-int8.tflite"}


def planned(form: str, quantize: str | None) -> list[tuple[str, str]]:
    """The (format, quantize) pairs one export call writes: form savedmodel, tflite or all; with
    no quantize, tflite means float32 and all means every variant."""
    lite = [quantize] if quantize else (list(signature.QUANTIZATIONS) if form == "all" else ["none"])
    return ([("savedmodel", "none")] if form in ("savedmodel", "all") else []) + (
        [("tflite", q) for q in lite] if form in ("tflite", "all") else [])


def export_path(out: Path, form: str, quantize: str = "none") -> Path:
    if form == "savedmodel":
        return Path(out) / SAVEDMODEL_BASE / signature.SAVEDMODEL_VERSION
    return Path(out) / TFLITE_NAME[quantize]


def export(trained, out: Path, form: str, quantize: str = "none", calibration: np.ndarray | None = None) -> Path:
    """Write one export of `trained` (model.store.TrainedModel) under `out`; returns its path."""
    manifest = signature.Manifest(trained.spec, trained.all_classes, form, quantize, str(trained.checkpoint))
    final = export_path(out, form, quantize)
    final.parent.mkdir(parents=True, exist_ok=True)
    aside = final.with_name(final.name + ".partial")
    _remove(aside)
    if form == "savedmodel":
        savedmodel.save(trained.model, manifest, aside)
    else:
        aside.write_bytes(tflite.convert(trained.model, manifest, calibration))
    _remove(final)
    os.replace(aside, final)
    return final


def _remove(path: Path) -> None:
    if path.is_dir():
        shutil.rmtree(path)
    elif path.exists():
        path.unlink()


def calibration_pixels(split: Split, size: int, contract, count: int, seed: int = 0) -> np.ndarray:
    """`count` training photos drawn at random (fixed seed), decoded by the contract: what int8
    calibration sees. Undecodable ones are passed over; none at all is an error naming the split."""
    order = np.random.default_rng(seed).permutation(len(split))
    pixels = []
    for row in order:
        photo, ok = images.try_load_rgb(split.paths[row], size, contract)
        if ok:
            pixels.append(photo)
        if len(pixels) == count:
            break
    if not pixels:
        raise UserInputError(f"{split.source}: no decodable photo to calibrate int8 with")
    return np.stack(pixels)


def size_bytes(path: Path) -> int:
    path = Path(path)
    return path.stat().st_size if path.is_file() else sum(p.stat().st_size for p in path.rglob("*") if p.is_file())
