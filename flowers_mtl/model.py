"""The trainable object: the tf-slim net inside a tf_keras Layer.

Why this route rather than tf.compat.v1 graph mode: `track_tf1_style_variables` makes the slim
variables ordinary TF2 variables owned by one object, so the same model trains under
tf.function, saves with tf.train.Checkpoint, and is what SavedModel/TFLite export and
tf.distribute strategies expect. The slim code itself stays unchanged (see network.py).
"""

from __future__ import annotations

import tensorflow as tf
import tf_keras

# tf_keras's public TF1-compatibility API; `tf.compat.v1.keras` points at Keras 3 on TF 2.21.
from tf_keras.api._v1.keras.utils import track_tf1_style_variables

from . import network

# SqueezeNet's ImageNet preprocessing (Caffe): BGR order, per-channel mean, no scaling.
BGR_MEAN = (104.0, 117.0, 123.0)


def preprocess(rgb_images: tf.Tensor) -> tf.Tensor:
    """RGB pixels in 0..255 -> the BGR, mean-subtracted floats SqueezeNet was trained on."""
    bgr = tf.reverse(tf.cast(rgb_images, tf.float32), axis=[-1])
    return bgr - tf.constant(BGR_MEAN, dtype=tf.float32)


class MultiTaskSqueezeNet(tf_keras.layers.Layer):
    """Takes RGB pixels (N, H, W, 3) in 0..255, returns {task: logits (N, classes)}.

    Preprocessing lives inside so that every caller (training, evaluation, prediction, a future
    exported model) feeds the same thing: plain pixels.
    """

    def __init__(
        self,
        num_classes: dict[str, int],
        split_after: str = network.DEFAULT_SPLIT,
        dropout_keep_prob: float = 0.5,
        weight_decay: float = 0.0,
        shared_trunk: bool = True,
        **kwargs,
    ):
        super().__init__(**kwargs)
        network.split_index(split_after)  # fail early on a bad name
        self.num_classes = dict(num_classes)
        self.split_after = split_after
        self.shared_trunk = shared_trunk
        self.dropout_keep_prob = dropout_keep_prob
        self.weight_decay = weight_decay

    @track_tf1_style_variables
    def call(self, rgb_images, training=False, with_end_points=False):
        with network.slim.arg_scope(network.squeezenet_arg_scope(self.weight_decay)):
            logits, end_points = network.squeezenet_mtl(
                preprocess(rgb_images),
                self.num_classes,
                is_training=training,
                dropout_keep_prob=self.dropout_keep_prob,
                split_after=self.split_after,
                shared_trunk=self.shared_trunk,
            )
        return (logits, end_points) if with_end_points else logits

    @property
    def tasks(self) -> tuple[str, ...]:
        return tuple(self.num_classes)

    def _owner(self, variable) -> tuple[str | None, str]:
        return network.owner(variable.name, self.num_classes)

    def head_variables(self, task: str | None = None) -> list[tf.Variable]:
        """The layers after the split, of one task (or of every task)."""
        layers = network.head_layers(self.split_after)
        owned = [(self._owner(v), v) for v in self.trainable_variables]
        return [v for (owner, layer), v in owned if owner is not None and task in (None, owner) and layer in layers]

    def trunk_variables(self) -> list[tf.Variable]:
        """The layers before the split: one shared set, or with soft sharing one copy per task."""
        heads = {id(v) for v in self.head_variables()}
        return [v for v in self.trainable_variables if id(v) not in heads]

    def task_variables(self, task: str) -> list[tf.Variable]:
        """Everything one task's answer depends on: its head and the trunk it reads (shared or its own)."""
        trunk = [v for v in self.trunk_variables() if self._owner(v)[0] in (None, task)]
        return trunk + self.head_variables(task)

    def soft_sharing_pairs(self) -> list[tuple[tf.Variable, ...]]:
        """Corresponding trunk variables of the tasks' towers (soft sharing), one tuple per layer variable."""
        by_name: dict[str, list[tf.Variable]] = {}
        for v in self.trunk_variables():
            task, _ = self._owner(v)
            if task is not None:
                by_name.setdefault(v.name.split("/", 2)[2], []).append(v)
        return [tuple(group) for group in by_name.values() if len(group) > 1]

    def build_variables(self, image_size: int) -> None:
        """Create the variables by one forward pass on a dummy batch."""
        self(tf.zeros([1, image_size, image_size, 3]), training=False)

    def regularization_loss(self) -> tf.Tensor:
        return tf.add_n(self.losses) if self.losses else tf.constant(0.0)


def probability_fn(model: MultiTaskSqueezeNet, image_size: int, flip_tta: bool = False):
    """A compiled inference function: float RGB pixels (N, S, S, 3) -> {task: softmax (N, classes)}.

    flip_tta averages the probabilities of each photo and its mirror image: twice the compute,
    for answers that do not depend on which way a flower happens to face.
    """
    spec = tf.TensorSpec([None, image_size, image_size, 3], tf.float32)

    @tf.function(input_signature=[spec])
    def probabilities(images):
        if not flip_tta:
            return {task: tf.nn.softmax(value) for task, value in model(images, training=False).items()}
        both = model(tf.concat([images, tf.reverse(images, axis=[2])], axis=0), training=False)
        n = tf.shape(images)[0]
        return {task: (tf.nn.softmax(value[:n]) + tf.nn.softmax(value[n:])) / 2.0 for task, value in both.items()}

    return probabilities
