"""ImageNet SqueezeNet v1.1 weights -> the tf-slim variables.

Two file formats carry the same Caffe model: the Keras h5 of keras-squeezenet (fp32, conv1..fire9)
and an OpenVINO IR pair (.xml + .bin, fp16, the full net with conv10), read here with numpy and
xml.etree alone. Both become {caffe layer name: (kernel HWIO, bias)}. conv1..fire8 go into the
shared trunk and fire9 into *every* task head; conv10 stays freshly initialised per task because
its classes are ours, not ImageNet's.
"""

from __future__ import annotations

import xml.etree.ElementTree as ET
from pathlib import Path

import numpy as np

from .. import architecture
from ..errors import UserInputError

LayerWeights = dict[str, tuple[np.ndarray, np.ndarray]]

IMAGENET = "imagenet"
IMAGENET_URL = (
    "https://github.com/rcmalli/keras-squeezenet/releases/download/v1.0/"
    "squeezenet_weights_tf_dim_ordering_tf_kernels_notop.h5"
)
IMAGENET_SHA256 = "2d935d8c102ad1232484a77da8e6fbdf3ff4ab608974a0d8b6283115ffff204f"
BUNDLED = Path(__file__).with_name("weights") / "squeezenet_v1.1_imagenet_notop.h5"  # that file, shipped (NOTICE.md)
NOT_IMPORTED = (architecture.CLASSIFIER,)  # per-task classes: always trained from a fresh start


def read_keras_h5(path: Path) -> LayerWeights:
    import h5py

    weights: LayerWeights = {}
    try:
        with h5py.File(path, "r") as handle:
            for layer in handle.attrs.get("layer_names", []):  # Keras' own index of its layers
                layer = layer.decode() if isinstance(layer, bytes) else str(layer)
                group = handle[layer]
                kernel = bias = None
                for weight in group.attrs.get("weight_names", []):
                    weight = weight.decode() if isinstance(weight, bytes) else str(weight)
                    value = np.asarray(group[weight], dtype=np.float32)
                    if weight.endswith("kernel:0"):
                        kernel = value
                    elif weight.endswith("bias:0"):
                        bias = value
                if kernel is not None or bias is not None:
                    weights[layer] = (kernel, bias)
    except OSError as err:
        raise UserInputError(f"{path}: not a readable Keras h5 weights file ({err})") from None
    incomplete = sorted(layer for layer, (kernel, bias) in weights.items() if kernel is None or bias is None)
    if incomplete:
        raise UserInputError(f"{path}: layers without both kernel and bias: {', '.join(incomplete)}")
    return weights


def read_openvino(xml_path: Path) -> LayerWeights:
    """Each Convolution `X/WithoutBiases` takes its OIHW fp16 kernel from a Const, and the Add `X`
    after it its bias; the Consts point into the .bin beside the .xml."""
    xml_path = Path(xml_path)
    bin_path = xml_path.with_suffix(".bin")
    if not bin_path.is_file():
        raise UserInputError(f"{xml_path}: the weights file {bin_path.name} is missing beside it")
    try:
        root = ET.parse(xml_path).getroot()
    except ET.ParseError as err:
        raise UserInputError(f"{xml_path}: not valid XML ({err})") from None
    blob = bin_path.read_bytes()
    layers = {layer.get("id"): layer for layer in root.iter("layer")}
    feeds: dict[str, list[str]] = {}
    for edge in root.iter("edge"):
        feeds.setdefault(edge.get("to-layer"), []).append(edge.get("from-layer"))

    def const(layer) -> np.ndarray:
        data = layer.find("data")
        if data.get("element_type") not in ("f16", "f32"):
            raise UserInputError(f"{xml_path}: constant {layer.get('name')} has unsupported type {data.get('element_type')}")
        dtype = "<f2" if data.get("element_type") == "f16" else "<f4"
        shape = tuple(int(d) for d in data.get("shape").split(","))
        offset, size = int(data.get("offset")), int(data.get("size"))
        if offset + size > len(blob):
            raise UserInputError(f"{xml_path}: constant {layer.get('name')} lies past the end of {bin_path.name}")
        return np.frombuffer(blob, dtype=dtype, count=int(np.prod(shape)), offset=offset).reshape(shape).astype(np.float32)

    weights: LayerWeights = {}
    for layer_id, layer in layers.items():
        if layer.get("type") != "Convolution":
            continue
        name = layer.get("name").removesuffix("/WithoutBiases")
        kernel = next(const(layers[i]) for i in feeds[layer_id] if layers[i].get("type") == "Const")
        add = next(a for a in layers.values() if a.get("type") == "Add" and layer_id in feeds.get(a.get("id"), []))
        bias = next(const(layers[i]) for i in feeds[add.get("id")] if layers[i].get("type") == "Const")
        weights[name] = (kernel.transpose(2, 3, 1, 0), bias.reshape(-1))  # OIHW -> HWIO
    if not weights:
        raise UserInputError(f"{xml_path}: no convolution layers found in this OpenVINO IR")
    return weights


def read_weights(path: str | Path) -> LayerWeights:
    path = Path(path)
    if not path.is_file():
        raise UserInputError(f"{path}: pretrained weights file not found")
    if path.suffix in (".h5", ".hdf5"):
        return read_keras_h5(path)
    if path.suffix in (".xml", ".bin"):
        return read_openvino(path.with_suffix(".xml"))
    raise UserInputError(f"{path}: expected a Keras .h5 or an OpenVINO .xml/.bin pair")


def resolve(spec: str, download=None, bundled: Path = BUNDLED) -> Path:
    """A local file as given; `imagenet` is the h5 shipped with the package (offline), or where
    an install lacks it, keras-squeezenet's h5 downloaded once into the Keras cache."""
    if spec != IMAGENET:
        return Path(spec)
    if bundled.is_file():
        return bundled
    if download is None:
        from tf_keras.utils import get_file as download
    try:
        path = download(
            fname=IMAGENET_URL.rsplit("/", 1)[1],
            origin=IMAGENET_URL,
            file_hash=IMAGENET_SHA256,
            hash_algorithm="sha256",
            cache_subdir="models/flowers_mtl",
        )
    except Exception as err:  # network down, proxy, hash mismatch: all the user's to fix
        raise UserInputError(
            f"could not download the ImageNet weights from {IMAGENET_URL} ({err}); "
            "download the file by hand and pass its path to --pretrained"
        ) from None
    return Path(path)


def assign(model, weights: LayerWeights, source: str = "weights") -> int:
    """Copy the weights into the model's variables with every shape checked; returns how many
    tensors were loaded. Every conv the network has before conv10 must be in the file."""
    loaded, missing = 0, set()
    for variable in model.variables:
        name = architecture.parse_name(variable.name, model.tasks)
        layer, kind = name.path, name.kind
        if layer in NOT_IMPORTED:
            continue
        if layer not in weights:
            missing.add(layer)
            continue
        value = weights[layer][0 if kind == "weights" else 1]
        if tuple(value.shape) != tuple(variable.shape):
            raise UserInputError(
                f"{source}: {layer} {kind} has shape {tuple(value.shape)}, the network needs {tuple(variable.shape)}"
                " (is this SqueezeNet v1.1?)"
            )
        variable.assign(value)
        loaded += 1
    if missing:
        raise UserInputError(f"{source}: no weights for {', '.join(sorted(missing))} (is this SqueezeNet v1.1?)")
    return loaded


def load_into(model, spec: str) -> tuple[Path, int]:
    path = resolve(spec)
    return path, assign(model, read_weights(path), str(path))
