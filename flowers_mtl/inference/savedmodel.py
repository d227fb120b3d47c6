"""Running an exported SavedModel through its `pixels` signature (photos decoded by Pillow, as in
training) or its `serving_default` one (encoded bytes, decoded in the graph, as TF Serving does)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import tensorflow as tf

from .. import signature
from ..errors import UserInputError
from .exported import ExportedModel


class SavedModelRunner(ExportedModel):
    def __init__(self, source: Path, flip_tta: bool = False):
        folder = signature.savedmodel_dir(source)
        path = folder / "assets" / signature.MANIFEST_NAME
        if not path.is_file():
            raise UserInputError(f"{folder}: a SavedModel without a flowers-mtl manifest (export it with export.py)")
        super().__init__(Path(source), signature.Manifest.loads(path.read_text(), str(path)), flip_tta)
        self.folder = folder
        self.loaded = tf.saved_model.load(str(folder))

    def outputs(self, signature_name: str, **inputs) -> dict[str, np.ndarray]:
        """The named outputs of one signature, as numpy (labels as str)."""
        result = self.loaded.signatures[signature_name](**{k: tf.constant(v) for k, v in inputs.items()})
        return {name: _numpy(value) for name, value in result.items()}

    def run(self, pixels: np.ndarray) -> dict[str, np.ndarray]:
        out = self.outputs(signature.PIXELS_SIGNATURE, **{signature.PIXELS_INPUT: pixels})
        return {task: out[signature.probs_output(task)] for task in self.classes.tasks}


def _numpy(value: tf.Tensor) -> np.ndarray:
    array = value.numpy()
    return array.astype(str) if array.dtype == object else array


def load_savedmodel(source: Path, flip_tta: bool = False) -> SavedModelRunner:
    return SavedModelRunner(source, flip_tta)
