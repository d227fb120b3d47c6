"""TF Serving's REST predict request and answer, checked instance by instance.

Request: {"instances": [{"b64": "..."}, ...], "signature_name": optional}. With
`serving_default` each instance is an encoded photo; with `pixels` a uint8 array S x S x 3.
A request with one bad instance is refused whole (400, naming the instance), as TF Serving does:
answering the others would shift the positions a client matches answers by.
"""

from __future__ import annotations

import base64
import binascii
import io
import json
from dataclasses import dataclass

import numpy as np

from .. import signature
from ..data import images
from ..errors import UserInputError

MAX_INSTANCES = 64
MAX_BODY_BYTES = 32 * 1024 * 1024


class RequestError(Exception):
    """A client mistake: its HTTP status and a message for {"error": ...}."""

    def __init__(self, status: int, message: str):
        super().__init__(message)
        self.status = status


@dataclass
class PredictRequest:
    signature_name: str
    instances: list  # bytes (serving_default) or uint8 arrays (pixels)


def parse(body: bytes, image_size: int, max_instances: int = MAX_INSTANCES) -> PredictRequest:
    try:
        raw = json.loads(body)
    except (ValueError, UnicodeDecodeError) as err:
        raise RequestError(400, f"the body is not valid JSON ({err})") from None
    if not isinstance(raw, dict) or not isinstance(raw.get("instances"), list):
        raise RequestError(400, 'the body must be a JSON object with "instances": a list')
    name = raw.get("signature_name", signature.BYTES_SIGNATURE)
    if name not in (signature.BYTES_SIGNATURE, signature.PIXELS_SIGNATURE):
        raise RequestError(400, f"unknown signature_name {name!r} (serving_default or pixels)")
    instances = raw["instances"]
    if not instances:
        raise RequestError(400, '"instances" is empty')
    if len(instances) > max_instances:
        raise RequestError(413, f"{len(instances)} instances; at most {max_instances} per request")
    read = _encoded if name == signature.BYTES_SIGNATURE else lambda value, i: _pixels(value, i, image_size)
    return PredictRequest(name, [read(value, i) for i, value in enumerate(instances)])


def _encoded(value, i: int) -> bytes:
    if isinstance(value, dict) and set(value) == {signature.BYTES_INPUT}:
        value = value[signature.BYTES_INPUT]  # the named form: {"image_bytes": {"b64": ...}}
    if not (isinstance(value, dict) and isinstance(value.get("b64"), str)):
        raise RequestError(400, f'instance {i}: expected {{"b64": "<base64 of an encoded photo>"}}')
    try:
        return base64.b64decode(value["b64"], validate=True)
    except (binascii.Error, ValueError):
        raise RequestError(400, f"instance {i}: not valid base64") from None


def _pixels(value, i: int, size: int) -> np.ndarray:
    try:
        array = np.asarray(value, dtype=np.float64)
    except (ValueError, TypeError):
        array = None
    if array is None or array.shape != (size, size, 3) or not np.all((array >= 0) & (array <= 255)):
        raise RequestError(400, f"instance {i}: expected {size} x {size} x 3 pixel values in 0..255")
    return np.rint(array).astype(np.uint8)


def decode_all(request: PredictRequest, spec, max_pixels: int = images.MAX_PIXELS) -> np.ndarray:
    """Every instance as contract pixels (N, S, S, 3); a photo that does not decode is a 400."""
    if request.signature_name == signature.PIXELS_SIGNATURE:
        return np.stack(request.instances)
    pixels = []
    for i, data in enumerate(request.instances):
        try:
            pixels.append(images.decode_rgb(io.BytesIO(data), spec.image_size, spec.preprocessing, f"instance {i}",
                                            max_pixels))
        except UserInputError as err:
            raise RequestError(400, str(err)) from None
    return np.stack(pixels)


def predictions(outputs: dict[str, np.ndarray], classes) -> list[dict]:
    """TF Serving's row format: one object per instance, one key per named output."""
    rows = []
    for i in range(len(next(iter(outputs.values())))):
        row = {}
        for task in classes.tasks:
            row[signature.label_output(task)] = str(outputs[signature.label_output(task)][i])
            row[signature.probs_output(task)] = [float(p) for p in outputs[signature.probs_output(task)][i]]
        rows.append(row)
    return rows


def outputs_from_probabilities(probs: dict[str, np.ndarray], classes) -> dict[str, np.ndarray]:
    """The SavedModel's outputs computed from probabilities, for the kinds that only give those."""
    out = {}
    for task, names in classes.by_task.items():
        out[signature.probs_output(task)] = probs[task]
        out[signature.label_output(task)] = np.array([names[i] for i in probs[task].argmax(axis=1)])
    return out
