"""Running a .tflite export with the light LiteRT interpreter (ai-edge-litert: starts in a tenth
of a second) or, when it is not installed, TensorFlow's own. Outputs are read by name through the
signature runner, and an int8 model's uint8 inputs and outputs are (de)quantised by the scale and
zero point the file declares, so callers always pass pixels and get float probabilities.
"""

from __future__ import annotations

import contextlib
import os
from pathlib import Path

import numpy as np

from .. import signature
from ..errors import UserInputError
from .exported import ExportedModel


def _litert():
    """(Interpreter class, flatbuffer schema module): LiteRT's, else TensorFlow's."""
    try:
        from ai_edge_litert import schema_py_generated as schema
        from ai_edge_litert.interpreter import Interpreter
    except ImportError:
        import tensorflow as tf
        from tensorflow.lite.python import schema_py_generated as schema

        Interpreter = tf.lite.Interpreter
    return Interpreter, schema


def read_manifest(flatbuffer: bytes, where: str) -> signature.Manifest:
    _, schema = _litert()
    model = schema.Model.GetRootAs(flatbuffer, 0)
    for i in range(model.MetadataLength()):
        entry = model.Metadata(i)
        if entry.Name() == signature.MANIFEST_NAME.encode():
            return signature.Manifest.loads(model.Buffers(entry.Buffer()).DataAsNumpy().tobytes(), where)
    raise UserInputError(f"{where}: a TFLite file without a flowers-mtl manifest (export it with export.py)")


class LiteModel(ExportedModel):
    def __init__(self, source: Path, flip_tta: bool = False):
        flatbuffer = Path(source).read_bytes()
        super().__init__(Path(source), read_manifest(flatbuffer, str(source)), flip_tta)
        Interpreter, _ = _litert()
        try:
            interpreter = Interpreter(model_content=flatbuffer, num_threads=os.cpu_count() or 1)
            self.runner = interpreter.get_signature_runner(signature.PIXELS_SIGNATURE)
            self.input = self.runner.get_input_details()[signature.PIXELS_INPUT]
            self.output_details = self.runner.get_output_details()
            with _native_stderr_silenced():  # the first call creates the XNNPACK delegate, which says so
                self.run(np.zeros((1, self.image_size, self.image_size, 3), np.uint8))
        except (ValueError, RuntimeError, KeyError) as err:
            raise UserInputError(f"{source}: the TFLite interpreter cannot run it ({err})") from None

    def run(self, pixels: np.ndarray) -> dict[str, np.ndarray]:
        out = self.runner(**{signature.PIXELS_INPUT: _quantize(pixels, self.input)})
        return {task: _dequantize(out[name], self.output_details[name])
                for task in self.classes.tasks for name in [signature.probs_output(task)]}


@contextlib.contextmanager
def _native_stderr_silenced():
    """The C++ runtime logs to file descriptor 2 with no Python switch; errors still come as exceptions."""
    saved = os.dup(2)
    try:
        with open(os.devnull, "w") as devnull:
            os.dup2(devnull.fileno(), 2)
            yield
    finally:
        os.dup2(saved, 2)
        os.close(saved)


def _quantize(pixels: np.ndarray, details: dict) -> np.ndarray:
    if details["dtype"] == np.float32:
        return pixels.astype(np.float32)
    scale, zero_point = details["quantization"]
    info = np.iinfo(details["dtype"])
    return np.clip(np.rint(pixels / scale + zero_point), info.min, info.max).astype(details["dtype"])


def _dequantize(values: np.ndarray, details: dict) -> np.ndarray:
    if values.dtype == np.float32:
        return values
    scale, zero_point = details["quantization"]
    return (values.astype(np.float32) - zero_point) * scale


def load_tflite(source: Path, flip_tta: bool = False) -> LiteModel:
    return LiteModel(source, flip_tta)
