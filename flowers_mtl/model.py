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
        **kwargs,
    ):
        super().__init__(**kwargs)
        network.split_index(split_after)  # fail early on a bad name
        self.num_classes = dict(num_classes)
        self.split_after = split_after
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
            )
        return (logits, end_points) if with_end_points else logits

    @property
    def tasks(self) -> tuple[str, ...]:
        return tuple(self.num_classes)

    def head_variables(self, task: str | None = None) -> list[tf.Variable]:
        """Trainable variables of one task's head (or of every head): those scoped under the task."""
        tasks = [task] if task is not None else list(self.num_classes)
        prefixes = tuple(f"{network.SCOPE}/{name}/" for name in tasks)
        return [v for v in self.trainable_variables if v.name.startswith(prefixes)]

    def trunk_variables(self) -> list[tf.Variable]:
        """The shared layers: every trainable variable outside the heads."""
        heads = {id(v) for v in self.head_variables()}
        return [v for v in self.trainable_variables if id(v) not in heads]

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
