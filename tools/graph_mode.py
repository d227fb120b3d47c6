"""The same training step in tf.compat.v1 graph mode, for the benchmark only.

Two uses: evidence for the route chosen in model.py (tf_keras Layer under tf.function) against
the older Session route, and a per-op profile (Session step stats) that says where a step's time
goes by op family. The network function, loss and input are the ones training uses.
"""

from __future__ import annotations

import collections

import numpy as np
import tensorflow as tf

from flowers_mtl.model.layer import preprocess
from flowers_mtl.nets import squeezenet
from flowers_mtl.train.losses import mean_loss, task_losses

from .timing import median_seconds


def _build(num_classes: dict[str, int], image_size: int, batch_size: int, learning_rate: float):
    v1 = tf.compat.v1
    images = v1.placeholder(tf.float32, [batch_size, image_size, image_size, 3])
    labels = v1.placeholder(tf.int32, [batch_size, len(num_classes)])
    with squeezenet.slim.arg_scope(squeezenet.squeezenet_arg_scope()):
        logits, _ = squeezenet.squeezenet_mtl(preprocess(images), num_classes, is_training=True)
    total = tf.add_n([mean_loss(*pair) for pair in task_losses(labels, logits, tuple(num_classes)).values()])
    train_op = v1.train.AdamOptimizer(learning_rate).minimize(total)
    return images, labels, train_op, total


def time_and_profile(
    num_classes: dict[str, int], images: np.ndarray, labels: np.ndarray, warmup: int, steps: int, repeats: int
) -> tuple[float, dict[str, float]]:
    """(images/s of the Session training step on one in-memory batch, {op type: share of op time})."""
    v1 = tf.compat.v1
    graph = tf.Graph()
    with graph.as_default():
        x, y, train_op, total = _build(num_classes, images.shape[1], images.shape[0], 1e-4)
        init = v1.global_variables_initializer()
    with v1.Session(graph=graph) as session:
        session.run(init)
        feed = {x: images, y: labels}
        for _ in range(warmup):
            session.run([train_op, total], feed)

        def some_steps():
            for _ in range(steps):
                session.run([train_op, total], feed)

        seconds = median_seconds(some_steps, repeats, warmup=0)
        options = v1.RunOptions(trace_level=v1.RunOptions.FULL_TRACE)
        metadata = v1.RunMetadata()
        session.run([train_op, total], feed, options=options, run_metadata=metadata)
    micros: collections.Counter = collections.Counter()
    for device in metadata.step_stats.dev_stats:
        for node in device.node_stats:
            # "name = OpType(inputs)": the op as it ran, after Grappler's fusions (e.g. _FusedConv2D).
            label = node.timeline_label
            if " = " not in label:
                continue
            micros[label.split(" = ", 1)[1].split("(", 1)[0]] += node.op_end_rel_micros - node.op_start_rel_micros
    all_micros = sum(micros.values()) or 1
    shares = {op: value / all_micros for op, value in micros.most_common()}
    return steps * images.shape[0] / seconds, shares


def op_families(shares: dict[str, float]) -> dict[str, float]:
    """Group op types into the families a reader thinks in."""
    families: collections.Counter = collections.Counter()
    for op, share in shares.items():
        op = op.removeprefix("_MklNative").removeprefix("_Mkl").removeprefix("_")  # oneDNN kernels
        if op.startswith("Conv2DBackpropFilter"):
            family = "conv backward (weights)"
        elif op.startswith("Conv2DBackpropInput"):
            family = "conv backward (inputs)"
        elif op.startswith("Conv2D") or op.startswith("FusedConv2D"):
            family = "conv forward"
        elif "Pool" in op:
            family = "pooling"
        elif op.startswith("Relu") or op.startswith("BiasAdd"):
            family = "relu + bias"
        elif op.startswith("Apply") or op.startswith("ResourceApply"):
            family = "optimizer update"
        elif op in ("ConcatV2", "Slice", "Split", "SplitV"):
            family = "concat / slice (fire expand)"
        elif op.startswith("Random"):
            family = "dropout"
        else:
            family = "other"
        families[family] += share
    return dict(families.most_common())
