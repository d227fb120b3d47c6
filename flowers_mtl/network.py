"""SqueezeNet v1.1 in tf-slim, with the trunk shared by every task and one head per task.

Written the way tf-slim's own nets are: an `arg_scope` function for the layer defaults and a net
function returning `(logits_by_task, end_points)`. Variable scopes follow the Caffe layer names
(`squeezenet/fire4/expand3x3/weights`, heads under `squeezenet/<task>/...`) so that ImageNet
weights map onto them one to one.
"""

from __future__ import annotations

import tensorflow as tf
import tf_slim as slim

# The layers of SqueezeNet v1.1 in order: (name, squeeze, expand) for fire modules, None for a
# 3x3/2 max pool. conv1 (64 3x3/2) comes first; conv10 is part of each task's head.
FIRE_LAYERS = (
    ("pool1", None, None),
    ("fire2", 16, 64),
    ("fire3", 16, 64),
    ("pool3", None, None),
    ("fire4", 32, 128),
    ("fire5", 32, 128),
    ("pool5", None, None),
    ("fire6", 48, 192),
    ("fire7", 48, 192),
    ("fire8", 64, 256),
    ("fire9", 64, 256),
)
SPLIT_POINTS = tuple(name for name, squeeze, _ in FIRE_LAYERS if squeeze is not None)
DEFAULT_SPLIT = "fire8"
SCOPE = "squeezenet"  # outer variable scope; heads live under SCOPE/<task>/
CONV1_FILTERS = 64
# The input is Caffe-style: mean-subtracted but not scaled, so pixel values have a standard
# deviation near 58 rather than 1. conv1's He initialisation is shrunk by that factor so that a
# network trained from scratch starts with unit-scale activations (and logits near zero) instead
# of exploding ones; ImageNet weights, when loaded, replace it anyway.
INPUT_STD = 58.0


def squeezenet_arg_scope(weight_decay: float = 0.0):
    """Defaults for every conv: ReLU, He-normal weights (no batch norm in v1.1), optional L2."""
    regularizer = slim.l2_regularizer(weight_decay) if weight_decay > 0 else None
    with slim.arg_scope(
        [slim.conv2d],
        activation_fn=tf.nn.relu,
        weights_initializer=slim.variance_scaling_initializer(factor=2.0, mode="FAN_IN"),
        weights_regularizer=regularizer,
        padding="SAME",
    ) as scope:
        return scope


def max_pool_ceil(net: tf.Tensor, scope: str) -> tf.Tensor:
    """3x3/2 max pool with Caffe's ceil rounding (113 -> 56), which SqueezeNet's weights expect.

    Pads one zero row/column at the far edge when the size is even; after a ReLU every value is
    >= 0, so a zero never wins a window that holds a real value.
    """
    height, width = net.shape[1], net.shape[2]
    if height is None or width is None:
        raise ValueError("max_pool_ceil needs a static spatial shape")
    pad_h, pad_w = (height - 3) % 2, (width - 3) % 2
    if pad_h or pad_w:
        net = tf.pad(net, [[0, 0], [0, pad_h], [0, pad_w], [0, 0]])
    return slim.max_pool2d(net, [3, 3], stride=2, padding="VALID", scope=scope)


def fire_module(net: tf.Tensor, squeeze: int, expand: int, scope: str, end_points: dict) -> tf.Tensor:
    with tf.compat.v1.variable_scope(scope):
        net = slim.conv2d(net, squeeze, [1, 1], scope="squeeze1x1")
        left = slim.conv2d(net, expand, [1, 1], scope="expand1x1")
        right = slim.conv2d(net, expand, [3, 3], scope="expand3x3")
        net = tf.concat([left, right], axis=3)
    end_points[scope] = net
    return net


def _layers(net: tf.Tensor, layers, end_points: dict) -> tf.Tensor:
    for name, squeeze, expand in layers:
        if squeeze is None:
            net = max_pool_ceil(net, scope=name)
            end_points[name] = net
        else:
            net = fire_module(net, squeeze, expand, name, end_points)
    return net


def split_index(split_after: str) -> int:
    if split_after not in SPLIT_POINTS:
        raise ValueError(f"split_after must be one of {', '.join(SPLIT_POINTS)}, got {split_after!r}")
    return [name for name, _, _ in FIRE_LAYERS].index(split_after) + 1


def _conv1(images: tf.Tensor) -> tf.Tensor:
    return slim.conv2d(
        images,
        CONV1_FILTERS,
        [3, 3],
        stride=2,
        padding="VALID",
        weights_initializer=slim.variance_scaling_initializer(factor=2.0 / INPUT_STD**2, mode="FAN_IN"),
        scope="conv1",
    )


def _trunk(images: tf.Tensor, cut: int, end_points: dict) -> tf.Tensor:
    net = _conv1(images)
    end_points["conv1"] = net
    return _layers(net, FIRE_LAYERS[:cut], end_points)


def _head(trunk: tf.Tensor, classes: int, cut: int, is_training: bool, dropout_keep_prob: float, end_points: dict):
    net = _layers(trunk, FIRE_LAYERS[cut:], end_points)
    net = slim.dropout(net, dropout_keep_prob, is_training=is_training, scope="dropout")
    net = slim.conv2d(
        net,
        classes,
        [1, 1],
        activation_fn=None,
        weights_initializer=tf.compat.v1.initializers.random_normal(stddev=0.01),
        scope="conv10",
    )
    end_points["conv10"] = net
    return tf.reduce_mean(net, axis=[1, 2], name="global_pool")


def head_layers(split_after: str) -> tuple[str, ...]:
    """The layers each task owns after the split (pools have no variables)."""
    return tuple(name for name, squeeze, _ in FIRE_LAYERS[split_index(split_after):] if squeeze) + ("conv10",)


def owner(name: str, tasks) -> tuple[str | None, str]:
    """(task, or None if shared; Caffe layer) of a variable or op named like
    `[prefix/]squeezenet/[task/]layer/...`."""
    parts = name.split(":")[0].split(f"{SCOPE}/", 1)[-1].split("/")
    if parts[0] in tasks and len(parts) > 1:
        return parts[0], parts[1]
    return None, parts[0]


def squeezenet_mtl(
    images: tf.Tensor,
    num_classes: dict[str, int],
    is_training: bool = False,
    dropout_keep_prob: float = 0.5,
    split_after: str = DEFAULT_SPLIT,
    shared_trunk: bool = True,
    scope: str = SCOPE,
):
    """Trunk conv1..`split_after`, then per task: the remaining fire modules, dropout, conv10
    (1x1, no ReLU so logits can go negative) and a global average pool.

    With `shared_trunk` (hard sharing) one trunk feeds every head. Without it (soft sharing) each
    task gets its own copy of the trunk under its scope, `<task>/conv1` ..., which the training
    objective can pull together with a penalty.

    `images` are preprocessed (BGR, mean-subtracted) NHWC floats. Returns `(logits_by_task,
    end_points)`; end points are keyed like the scopes (`fire5`, `type/fire9`, `type/conv10`).
    """
    if not num_classes:
        raise ValueError("squeezenet_mtl needs at least one task")
    cut = split_index(split_after)
    end_points: dict[str, tf.Tensor] = {}
    logits_by_task = {}
    with tf.compat.v1.variable_scope(scope, values=[images]):
        trunk = _trunk(images, cut, end_points) if shared_trunk else None
        for task, classes in num_classes.items():
            with tf.compat.v1.variable_scope(task):
                task_points: dict[str, tf.Tensor] = {}
                task_trunk = trunk if shared_trunk else _trunk(images, cut, task_points)
                logits = _head(task_trunk, classes, cut, is_training, dropout_keep_prob, task_points)
            end_points.update({f"{task}/{name}": value for name, value in task_points.items()})
            end_points[f"{task}/logits"] = logits
            logits_by_task[task] = logits
    return logits_by_task, end_points
