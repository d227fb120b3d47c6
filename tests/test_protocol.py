"""TF Serving's REST request, parsed and checked instance by instance (no server, no model)."""

import base64
import io
import json

import numpy as np
import pytest
from PIL import Image

from conftest import make_spec
from flowers_mtl.serve import protocol


def png(width: int = 20, height: int = 20) -> bytes:
    buffer = io.BytesIO()
    Image.new("RGB", (width, height), (200, 30, 30)).save(buffer, "PNG")
    return buffer.getvalue()


def body(*instances, **extra) -> bytes:
    return json.dumps({"instances": list(instances), **extra}).encode()


def b64(data: bytes) -> dict:
    return {"b64": base64.b64encode(data).decode()}


@pytest.mark.parametrize("raw, status, message", [
    (b"{not json", 400, "not valid JSON"),
    (b"[1, 2]", 400, '"instances": a list'),
    (json.dumps({"inputs": []}).encode(), 400, '"instances": a list'),
    (body(), 400, "empty"),
    (body(*[b64(png())] * 5), 413, "5 instances; at most 4"),
    (body(b64(png()), {"b64": "%%%"}), 400, "instance 1: not valid base64"),
    (body(b64(png()), "plain string"), 400, "instance 1: expected"),
    (body(b64(png()), signature_name="nope"), 400, "unknown signature_name"),
    (body([[0, 0, 0]], signature_name="pixels"), 400, "instance 0: expected 8 x 8 x 3"),
    (body(np.full((8, 8, 3), 300).tolist(), signature_name="pixels"), 400, "in 0..255"),
])
def test_bad_requests_name_what_is_wrong(raw, status, message):
    with pytest.raises(protocol.RequestError, match=message) as caught:
        protocol.parse(raw, image_size=8, max_instances=4)
    assert caught.value.status == status


def test_good_requests_in_both_forms():
    parsed = protocol.parse(body(b64(png()), {"image_bytes": b64(png(30, 10))}), 8)
    assert parsed.signature_name == "serving_default" and parsed.instances[1] == png(30, 10)
    pixels = protocol.parse(body(np.zeros((8, 8, 3)).tolist(), signature_name="pixels"), 8)
    assert pixels.instances[0].shape == (8, 8, 3) and pixels.instances[0].dtype == np.uint8


def test_photos_that_do_not_decode_or_are_too_large_are_client_errors():
    spec = make_spec({"type": 2, "colour": 3}, image_size=8)
    good = protocol.decode_all(protocol.parse(body(b64(png())), 8), spec)
    assert good.shape == (1, 8, 8, 3) and tuple(good[0, 0, 0]) == (200, 30, 30)
    with pytest.raises(protocol.RequestError, match="instance 1: not an image"):
        protocol.decode_all(protocol.parse(body(b64(png()), b64(b"hello")), 8), spec)
    with pytest.raises(protocol.RequestError, match="instance 0: image too large .600 x 500 pixels"):
        protocol.decode_all(protocol.parse(body(b64(png(600, 500))), 8), spec, max_pixels=100_000)
    truncated = png(64, 64)[:-30]
    with pytest.raises(protocol.RequestError, match="instance 0: cannot decode"):
        protocol.decode_all(protocol.parse(body(b64(truncated)), 8), spec)


def test_answers_are_tf_servings_row_format():
    classes = make_spec({"type": 2, "colour": 3}).classes
    probs = {"type": np.array([[0.2, 0.8]]), "colour": np.array([[0.1, 0.6, 0.3]])}
    (row,) = protocol.predictions(protocol.outputs_from_probabilities(probs, classes), classes)
    assert row == {"type_label": "type1", "type_probs": [0.2, 0.8], "colour_label": "colour1",
                   "colour_probs": [0.1, 0.6, 0.3]}
