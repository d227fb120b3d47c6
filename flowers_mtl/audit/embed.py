"""Reading every photo once: whether it decodes, its perceptual hash and its embedding.

The embedding is the global average of fire9, the 512 features conv10 classifies: from the
ImageNet trunk by default (no photo of the data has trained it, so judging labels from it is
fair), or from a trained model (each task's fire9, concatenated), which knows the classes better
but has seen the training split's labels. Photos are decoded in a thread pool a chunk at a time,
so memory holds one chunk of pixels, never the data set.
"""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass

import numpy as np
import tensorflow as tf

from ..architecture import CLASSIFIER
from ..data import images, phash
from ..errors import UserInputError
from ..model import pretrained
from ..model.layer import MultiTaskSqueezeNet, build_model
from ..model.store import load_trained
from ..spec import ClassNames, ModelSpec

EMBEDDED_LAYER = "fire9"  # conv10's input: what duplicates are compared by
PROBED_LAYER = "fire8"  # added to fire9 for the label probe: 1.2 points more out-of-fold accuracy on the 5x6 photos
CHUNK = 256  # photos decoded at a time
BATCH = 64


@dataclass
class Readings:
    """Per entry: decoded or not (and why not), hashes, the L2-normalised embedding and the probe's
    features (zeros when undecodable)."""

    ok: np.ndarray
    reasons: dict[int, str]
    hashes: np.ndarray
    embeddings: np.ndarray
    features: np.ndarray


def imagenet_trunk(weights: str = pretrained.IMAGENET) -> MultiTaskSqueezeNet:
    """SqueezeNet up to fire9 with ImageNet weights (one placeholder head: conv10 is never used)."""
    spec = ModelSpec(classes=ClassNames({"imagenet": ("unused", "unused too")}), split_after=EMBEDDED_LAYER)
    model = build_model(spec)
    pretrained.load_into(model, weights)
    return model


def trained_model(folder) -> MultiTaskSqueezeNet:
    return load_trained(folder).model


def _pooled_points(model: MultiTaskSqueezeNet) -> tuple[list[str], list[str]]:
    """(conv10's inputs: fire9 once when it is shared, else each task's own; those plus fire8's)."""
    _, points = model(tf.zeros([1, model.spec.image_size, model.spec.image_size, 3]), with_end_points=True)
    last = [EMBEDDED_LAYER] if EMBEDDED_LAYER in points else [
        f"{task}/{EMBEDDED_LAYER}" for task in model.tasks if f"{task}/{CLASSIFIER}" in points]
    return last, [name for name in points if name.split("/")[-1] == PROBED_LAYER] + last


def embedding_fn(model: MultiTaskSqueezeNet):
    """uint8 pixels -> (L2-normalised conv10 input for the duplicate cosine, fire8 + fire9 for the probe)."""
    last, probed = _pooled_points(model)
    size = model.spec.image_size

    @tf.function(input_signature=[tf.TensorSpec([None, size, size, 3], tf.uint8)])
    def embed(pixels):
        _, points = model(tf.cast(pixels, tf.float32), with_end_points=True)
        pooled = {name: tf.reduce_mean(points[name], axis=[1, 2]) for name in dict.fromkeys(last + probed)}
        embedding = tf.math.l2_normalize(tf.concat([pooled[name] for name in last], axis=1), axis=1)
        return embedding, tf.concat([pooled[name] for name in probed], axis=1)

    return embed


def _read_one(path: str, spec: ModelSpec):
    try:
        return images.load_rgb(path, spec.image_size, spec.preprocessing), phash.phash(path), None
    except UserInputError as err:
        return None, None, str(err).removeprefix(f"{path}: ")


def read_photos(paths, model: MultiTaskSqueezeNet, workers: int = 2, progress=None) -> Readings:
    """Decode, hash and embed every path (in order); `progress(done)` after each chunk."""
    embed = embedding_fn(model)
    widths = [int(output.shape[-1]) for output in embed.get_concrete_function().structured_outputs]
    n = len(paths)
    ok = np.zeros(n, bool)
    reasons: dict[int, str] = {}
    hashes = np.zeros((n, 2, phash.BITS), bool)
    embeddings = np.zeros((n, widths[0]), np.float32)
    features = np.zeros((n, widths[1]), np.float32)
    with ThreadPoolExecutor(workers) as pool:
        for start in range(0, n, CHUNK):
            rows = range(start, min(start + CHUNK, n))
            decoded = list(pool.map(lambda i: _read_one(paths[i], model.spec), rows))
            good = [(i, pixels) for i, (pixels, _, _) in zip(rows, decoded) if pixels is not None]
            for i, (_, bits, reason) in zip(rows, decoded):
                if reason is None:
                    ok[i], hashes[i] = True, bits
                else:
                    reasons[i] = reason
            for b in range(0, len(good), BATCH):
                batch = good[b:b + BATCH]
                rows_here = [i for i, _ in batch]
                embedded, probed = embed(np.stack([p for _, p in batch]))
                embeddings[rows_here], features[rows_here] = embedded.numpy(), probed.numpy()
            if progress:
                progress(rows.stop)
    return Readings(ok, reasons, hashes, embeddings, features)
