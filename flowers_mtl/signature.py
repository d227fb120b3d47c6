"""The interface of an exported model, decided once: signature, input and output names, and the
manifest that carries the model's spec inside every export (so an exported file needs nothing
beside it). The exporter writes it; every runner (SavedModel, TFLite, the server) reads it.

Outputs are named per task, `<task>_probs` and `<task>_label`, and always read by name: TFLite
conversion of multi-output models is known to reorder outputs, so no caller relies on order.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

from .errors import UserInputError
from .spec import ClassNames, ModelSpec, check_keys

BYTES_SIGNATURE = "serving_default"  # TF Serving's default: a batch of encoded photos, decoded in the graph
PIXELS_SIGNATURE = "pixels"  # uint8 pixels (N, S, S, 3) decoded by the client with the preprocessing contract
BYTES_INPUT = "image_bytes"
PIXELS_INPUT = "images"
MANIFEST_NAME = "flowers_mtl.json"  # a file in the SavedModel's assets/, a metadata entry in a .tflite
SAVEDMODEL_VERSION = "1"  # TF Serving reads numbered versions under a model's base path
QUANTIZATIONS = ("none", "float16", "dynamic", "int8")


def probs_output(task: str) -> str:
    return f"{task}_probs"


def label_output(task: str) -> str:
    """A class name (string) in a SavedModel; a class index in a TFLite model (see Manifest)."""
    return f"{task}_label"


@dataclass(frozen=True)
class Manifest:
    """What an export says about itself: the model's spec (classes, size, preprocessing), the
    data's classes (a single-task model answers a subset), and where and how it was made."""

    spec: ModelSpec
    data_classes: ClassNames
    format: str  # savedmodel | tflite
    quantize: str = "none"
    source: str = ""  # the checkpoint it was exported from

    def to_json(self) -> dict:
        return {"spec": self.spec.to_json(), "data_classes": self.data_classes.to_json(), "format": self.format,
                "quantize": self.quantize, "source": self.source}

    def dumps(self) -> str:
        return json.dumps(self.to_json(), indent=1) + "\n"

    @classmethod
    def loads(cls, text: str | bytes, where: str) -> Manifest:
        try:
            raw = check_keys(json.loads(text), cls, where)
        except ValueError as err:
            raise UserInputError(f"{where}: the export's manifest is not valid JSON ({err})") from None
        if not isinstance(raw.get("spec"), dict) or raw["spec"].get("classes") is None:
            raise UserInputError(f"{where}: the export's manifest has no model spec with class names")
        return cls(
            spec=ModelSpec.from_json(raw["spec"], f"{where}: spec"),
            data_classes=ClassNames.from_json(raw.get("data_classes") or raw["spec"]["classes"], f"{where}: data_classes"),
            format=str(raw.get("format", "")),
            quantize=str(raw.get("quantize", "none")),
            source=str(raw.get("source", "")),
        )


def savedmodel_dir(path: Path) -> Path | None:
    """The SavedModel at `path`: the folder itself, or its highest numbered version (TF Serving's
    layout, base/1/saved_model.pb). None when there is none."""
    path = Path(path)
    if (path / "saved_model.pb").is_file():
        return path
    versions = [p for p in path.iterdir() if p.name.isdigit() and (p / "saved_model.pb").is_file()] if path.is_dir() else []
    return max(versions, key=lambda p: int(p.name)) if versions else None
