from pathlib import Path

import numpy as np
import pytest
import tensorflow as tf

from conftest import SHARED, make_spec
from flowers_mtl.data.images import load_rgb
from flowers_mtl.errors import UserInputError
from flowers_mtl.model import pretrained
from flowers_mtl.model.layer import build_model

WEIGHTS = SHARED / "pretrained"
H5 = WEIGHTS / "squeezenet_weights_tf_dim_ordering_tf_kernels_notop.h5"
IR = WEIGHTS / "squeezenet1.1.xml"
# The first two daisy photos of the shared set are the first two of the original collection, whose
# ImageNet top-5 the README of ../shared/pretrained lists (computed there by an independent numpy
# forward pass of the Caffe model).
REFERENCE_TOP5 = {"da0000.jpg": [985, 990, 309, 308, 328], "da0001.jpg": [985, 987, 998, 599, 953]}
DAISIES = [SHARED / "datasets" / "flowers" / "images" / "daisy" / name for name in REFERENCE_TOP5]
needs_weights = pytest.mark.shared_data
DAISY_CLASS = 985


def two_head_model(size=227):
    return build_model(make_spec({"type": 5, "colour": 6}, size))


@needs_weights
def test_both_files_hold_the_same_squeezenet():
    h5, ir = pretrained.read_weights(H5), pretrained.read_weights(IR)
    assert set(h5) == set(ir) - {"conv10"}
    assert ir["conv10"][0].shape == (1, 1, 512, 1000)
    for layer, (kernel, bias) in h5.items():
        np.testing.assert_allclose(ir[layer][0], kernel, rtol=2e-3, atol=1e-6)  # fp16 rounding only
        np.testing.assert_allclose(ir[layer][1], bias, rtol=2e-3, atol=1e-6)
    assert sum(k.size + b.size for k, b in ir.values()) == 1_235_496


@needs_weights
@pytest.mark.parametrize("source", [H5, IR])
def test_import_fills_trunk_and_every_fire9_head(source):
    model = two_head_model(64)
    before = {v.name: v.numpy().copy() for v in model.variables}
    count = pretrained.assign(model, pretrained.read_weights(source), str(source))
    assert count == 2 + 7 * 6 + 2 * 6  # conv1, fire2..fire8, fire9 in each of the two heads
    names = {v.name: v for v in model.variables}
    np.testing.assert_array_equal(names["squeezenet/type/fire9/expand3x3/weights:0"].numpy(),
                                  names["squeezenet/colour/fire9/expand3x3/weights:0"].numpy())
    for task in ("type", "colour"):  # conv10 keeps its fresh initialisation
        name = f"squeezenet/{task}/conv10/weights:0"
        np.testing.assert_array_equal(names[name].numpy(), before[name])


@needs_weights
@pytest.mark.shared_data
def test_imported_network_reproduces_imagenet_daisy():
    """Trunk + fire9 from the fp32 h5, ImageNet conv10 from the IR (ReLU, then global average as in
    Caffe): the top-1 ImageNet class is 985 (daisy) and the whole top-5 is the reference's."""
    model = two_head_model()
    pretrained.assign(model, pretrained.read_weights(H5))
    conv10_kernel, conv10_bias = pretrained.read_weights(IR)["conv10"]
    images = np.stack([load_rgb(str(p), 227) for p in DAISIES]).astype(np.float32)
    _, end_points = model(tf.constant(images), with_end_points=True)
    features = end_points["type/fire9"].numpy()
    logits = np.maximum(features @ conv10_kernel[0, 0] + conv10_bias, 0).mean(axis=(1, 2))
    probs = np.exp(logits - logits.max(1, keepdims=True))
    probs /= probs.sum(1, keepdims=True)
    assert probs.argmax(1).tolist() == [DAISY_CLASS] * len(DAISIES), probs.argmax(1)
    assert probs[:, DAISY_CLASS].min() > 0.99
    assert [np.argsort(-row)[:5].tolist() for row in probs] == list(REFERENCE_TOP5.values())


def test_mismatched_shapes_fail_clearly():
    model = two_head_model(64)
    weights = {"conv1": (np.zeros((3, 3, 3, 32), np.float32), np.zeros(64, np.float32))}
    with pytest.raises(UserInputError, match=r"bad.h5: conv1 weights has shape \(3, 3, 3, 32\), the network needs \(3, 3, 3, 64\)"):
        pretrained.assign(model, weights, "bad.h5")


def test_missing_layers_are_named():
    model = two_head_model(64)
    weights = {"conv1": (np.zeros((3, 3, 3, 64), np.float32), np.zeros(64, np.float32))}
    with pytest.raises(UserInputError, match="no weights for fire2/expand1x1, "):
        pretrained.assign(model, weights, "partial.h5")


def test_bad_files(tmp_path):
    with pytest.raises(UserInputError, match="not found"):
        pretrained.read_weights(tmp_path / "none.h5")
    (tmp_path / "junk.h5").write_bytes(b"not hdf5")
    with pytest.raises(UserInputError, match="not a readable Keras h5"):
        pretrained.read_weights(tmp_path / "junk.h5")
    (tmp_path / "w.npz").write_bytes(b"")
    with pytest.raises(UserInputError, match="expected a Keras .h5 or an OpenVINO"):
        pretrained.read_weights(tmp_path / "w.npz")


def test_imagenet_is_the_bundled_file_offline():
    import hashlib

    def no_network(**kwargs):
        raise AssertionError("the bundled weights need no download")

    path = pretrained.resolve("imagenet", download=no_network)
    assert path == pretrained.BUNDLED and hashlib.sha256(path.read_bytes()).hexdigest() == pretrained.IMAGENET_SHA256
    assert (path.parent / "NOTICE.md").is_file()


def test_without_the_bundled_file_imagenet_downloads_the_keras_squeezenet_release_once(tmp_path):
    calls = []

    def fake_download(**kwargs):
        calls.append(kwargs)
        return str(tmp_path / kwargs["fname"])

    path = pretrained.resolve("imagenet", download=fake_download, bundled=tmp_path / "absent.h5")
    (call,) = calls
    assert call["origin"] == (
        "https://github.com/rcmalli/keras-squeezenet/releases/download/v1.0/"
        "squeezenet_weights_tf_dim_ordering_tf_kernels_notop.h5"
    )
    assert call["file_hash"] == pretrained.IMAGENET_SHA256 and call["fname"] == path.name
    assert pretrained.resolve("/some/local.h5", download=fake_download) == Path("/some/local.h5") and len(calls) == 1


def test_download_failure_is_a_user_error(tmp_path):
    def offline(**kwargs):
        raise OSError("network unreachable")

    with pytest.raises(UserInputError, match=r"could not download the ImageNet weights from .*\(network unreachable\)"):
        pretrained.resolve("imagenet", download=offline, bundled=tmp_path / "absent.h5")
