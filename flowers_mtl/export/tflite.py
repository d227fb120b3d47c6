"""A trained model as a TFLite file for phones: float32, float16 weights, dynamic (int8 weights,
activations quantised per call at run time) or full-integer int8 (int8 weights and activations,
their ranges calibrated on training photos: what integer-only accelerators need).

Decoding stays outside (DecodeJpeg is not a TFLite builtin): the file takes pixels, under the one
signature `pixels`, and answers `<task>_probs` and `<task>_label` (the class index; the class
names are in the manifest, stored as a metadata entry of the flatbuffer). int8 is calibrated on
training photos and takes uint8 pixels; its probabilities come out as uint8 with their scale.
"""

from __future__ import annotations

import tempfile
import warnings
from pathlib import Path

import numpy as np
import tensorflow as tf

from .. import signature
from ..model.layer import MultiTaskSqueezeNet
from .savedmodel import ServingModule


def convert(model: MultiTaskSqueezeNet, manifest: signature.Manifest, calibration: np.ndarray | None = None) -> bytes:
    """The .tflite bytes for manifest.quantize; int8 needs `calibration`, uint8 pixels (N, S, S, 3)."""
    with tempfile.TemporaryDirectory() as scratch:
        module = ServingModule(model, _write(Path(scratch) / signature.MANIFEST_NAME, manifest.dumps()))
        tf.saved_model.save(module, scratch + "/lite", signatures=module.lite_signature())
        converter = tf.lite.TFLiteConverter.from_saved_model(scratch + "/lite", signature_keys=[signature.PIXELS_SIGNATURE])
        _quantize(converter, manifest.quantize, calibration)
        with warnings.catch_warnings():  # calibration runs tf.lite.Interpreter, which warns it is deprecated
            warnings.filterwarnings("ignore", message=".*tf.lite.Interpreter is deprecated.*")
            flatbuffer = converter.convert()
    return with_metadata(flatbuffer, signature.MANIFEST_NAME, manifest.dumps().encode())


def _write(path: Path, text: str) -> Path:
    path.write_text(text)
    return path


def _quantize(converter, quantize: str, calibration: np.ndarray | None) -> None:
    if quantize == "dynamic":
        converter.optimizations = [tf.lite.Optimize.DEFAULT]  # without calibration data: dynamic range
    elif quantize == "float16":
        converter.optimizations = [tf.lite.Optimize.DEFAULT]
        converter.target_spec.supported_types = [tf.float16]
    elif quantize == "int8":
        if calibration is None or not len(calibration):
            raise ValueError("int8 quantisation needs calibration photos")
        converter.optimizations = [tf.lite.Optimize.DEFAULT]
        converter.representative_dataset = lambda: ({signature.PIXELS_INPUT: photo[np.newaxis].astype(np.float32)}
                                                    for photo in calibration)
        converter.target_spec.supported_ops = [tf.lite.OpsSet.TFLITE_BUILTINS_INT8]
        converter.inference_input_type = tf.uint8
        converter.inference_output_type = tf.uint8


def with_metadata(flatbuffer: bytes, name: str, payload: bytes) -> bytes:
    """The model with one more metadata entry (a named buffer), as TFLite's own metadata is stored."""
    from tensorflow.lite.python import schema_py_generated as schema
    from tensorflow.lite.tools import flatbuffer_utils

    model = flatbuffer_utils.convert_bytearray_to_object(bytearray(flatbuffer))
    buffer = schema.BufferT()
    buffer.data = np.frombuffer(payload, dtype=np.uint8)
    model.buffers.append(buffer)
    entry = schema.MetadataT()
    entry.name, entry.buffer = name, len(model.buffers) - 1
    model.metadata = [*(model.metadata or []), entry]
    return bytes(flatbuffer_utils.convert_object_to_bytearray(model))
