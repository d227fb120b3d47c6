"""SqueezeNet v1.1 in tf-slim, with the trunk shared by every task and one head per task.

Written the way tf-slim's own nets are: an `arg_scope` function for the layer defaults and a net
function returning `(logits_by_task, end_points)`, over a typed layer table
(`architecture.LAYERS`). Variable scopes follow the Caffe layer names
(`squeezenet/fire4/expand3x3/weights`, heads under `squeezenet/<task>/...`) so that ImageNet
weights map onto them one to one; `architecture.parse_name` reads them back.
"""

from __future__ import annotations

import tensorflow as tf
import tf_slim as slim

from ..architecture import CLASSIFIER, CONV1, DEFAULT_SPLIT, LAYERS, SCOPE, Fire, split_index

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


def fire_module(net: tf.Tensor, fire: Fire, end_points: dict) -> tf.Tensor:
    with tf.compat.v1.variable_scope(fire.name):
        net = slim.conv2d(net, fire.squeeze, [1, 1], scope="squeeze1x1")
        left = slim.conv2d(net, fire.expand, [1, 1], scope="expand1x1")
        right = slim.conv2d(net, fire.expand, [3, 3], scope="expand3x3")
        net = tf.concat([left, right], axis=3)
    end_points[fire.name] = net
    return net


def _layers(net: tf.Tensor, layers, end_points: dict) -> tf.Tensor:
    for layer in layers:
        if isinstance(layer, Fire):
            net = fire_module(net, layer, end_points)
        else:
            net = max_pool_ceil(net, scope=layer.name)
            end_points[layer.name] = net
    return net


def _trunk(images: tf.Tensor, cut: int, end_points: dict) -> tf.Tensor:
    net = slim.conv2d(
        images, CONV1.filters, [CONV1.kernel] * 2, stride=CONV1.stride, padding="VALID",
        weights_initializer=slim.variance_scaling_initializer(factor=2.0 / INPUT_STD**2, mode="FAN_IN"),
        scope=CONV1.name,
    )
    end_points[CONV1.name] = net
    return _layers(net, LAYERS[:cut], end_points)


def _head(trunk: tf.Tensor, classes: int, cut: int, is_training: bool, dropout_keep_prob: float, end_points: dict):
    net = _layers(trunk, LAYERS[cut:], end_points)
    net = slim.dropout(net, dropout_keep_prob, is_training=is_training, scope="dropout")
    net = slim.conv2d(
        net, classes, [1, 1], activation_fn=None,
        weights_initializer=tf.compat.v1.initializers.random_normal(stddev=0.01),
        scope=CLASSIFIER,
    )
    end_points[CLASSIFIER] = net
    return tf.reduce_mean(net, axis=[1, 2], name="global_pool")


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

