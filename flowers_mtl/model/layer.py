"""The trainable object: the tf-slim net inside a tf_keras Layer, built from a ModelSpec.

Why this route rather than tf.compat.v1 graph mode: `track_tf1_style_variables` makes the slim
variables ordinary TF2 variables owned by one object, so the same model trains under
tf.function, saves with tf.train.Checkpoint, and is what SavedModel/TFLite export and
tf.distribute strategies expect. The slim code itself stays unchanged (see nets/squeezenet.py).
"""

from __future__ import annotations

import contextlib

import tensorflow as tf
import tf_keras

# tf_keras's public TF1-compatibility API; `tf.compat.v1.keras` points at Keras 3 on TF 2.21.
from tf_keras.api._v1.keras.utils import track_tf1_style_variables

# The variable wrapper Keras's own mixed precision uses: float32 storage, read as float16 in a context.
from tf_keras.src.mixed_precision import autocast_variable

from .. import architecture
from ..nets import squeezenet
from ..spec import ModelSpec, Preprocessing


def preprocess(rgb_images: tf.Tensor, contract: Preprocessing = Preprocessing()) -> tf.Tensor:
    """RGB pixels in 0..255 -> the network's input: the contract's channel order, minus its mean."""
    images = tf.cast(rgb_images, tf.float32)
    if contract.channel_order == "BGR":
        images = tf.reverse(images, axis=[-1])
    return images - tf.constant(contract.mean, dtype=tf.float32)


class MultiTaskSqueezeNet(tf_keras.layers.Layer):
    """Takes RGB pixels (N, S, S, 3) in 0..255, returns {task: logits (N, classes)}.

    Preprocessing lives inside so that every caller (training, evaluation, prediction, an
    exported model) feeds the same thing: plain pixels.
    """

    def __init__(self, spec: ModelSpec, weight_decay: float = 0.0, precision: str = "float32", **kwargs):
        super().__init__(autocast=False, **kwargs)  # (the net casts its own input; see _computing_in)
        if spec.classes is None:
            raise ValueError("a ModelSpec needs its class names to build a network")
        architecture.split_index(spec.split_after)  # fail early on a bad name
        self.spec = spec
        self.num_classes = spec.classes.num_classes()
        self.weight_decay = weight_decay
        self.precision = precision

    @track_tf1_style_variables
    def call(self, rgb_images, training=False, with_end_points=False):
        with _computing_in(self.precision) as dtype, squeezenet.slim.arg_scope(
                squeezenet.squeezenet_arg_scope(self.weight_decay)):
            logits, end_points = squeezenet.squeezenet_mtl(
                tf.cast(preprocess(rgb_images, self.spec.preprocessing), dtype),
                self.num_classes,
                is_training=training,
                dropout_keep_prob=self.spec.dropout_keep_prob,
                split_after=self.spec.split_after,
                shared_trunk=self.spec.sharing == "hard",
            )
        logits = {task: tf.cast(value, tf.float32) for task, value in logits.items()}  # softmax and loss in float32
        return (logits, end_points) if with_end_points else logits

    @property
    def tasks(self) -> tuple[str, ...]:
        return tuple(self.num_classes)

    def parsed(self, variable) -> architecture.Name:
        return architecture.parse_name(variable.name, self.tasks)

    def head_variables(self, task: str | None = None) -> list[tf.Variable]:
        """The layers after the split, of one task (or of every task)."""
        return [
            v for v in self.trainable_variables
            if architecture.is_head(name := self.parsed(v), self.spec.split_after) and task in (None, name.task)
        ]

    def trunk_variables(self) -> list[tf.Variable]:
        """The layers before the split: one shared set, or with soft sharing one copy per task."""
        return [v for v in self.trainable_variables if not architecture.is_head(self.parsed(v), self.spec.split_after)]

    def task_variables(self, task: str) -> list[tf.Variable]:
        """Everything one task's answer depends on: its head and the trunk it reads (shared or its own)."""
        trunk = [v for v in self.trunk_variables() if self.parsed(v).task in (None, task)]
        return trunk + self.head_variables(task)

    def soft_sharing_pairs(self) -> list[tuple[tf.Variable, ...]]:
        """Corresponding trunk variables of the tasks' towers (soft sharing), one tuple per layer variable."""
        by_name: dict[tuple[str, str], list[tf.Variable]] = {}
        for v in self.trunk_variables():
            name = self.parsed(v)
            if name.task is not None:
                by_name.setdefault((name.path, name.kind), []).append(v)
        return [tuple(group) for group in by_name.values() if len(group) > 1]

    def build_variables(self) -> None:
        """Create the variables by one forward pass on a dummy batch."""
        size = self.spec.image_size
        self(tf.zeros([1, size, size, 3]), training=False)

    def regularization_loss(self) -> tf.Tensor:
        return tf.add_n([tf.cast(loss, tf.float32) for loss in self.losses]) if self.losses else tf.constant(0.0)


@contextlib.contextmanager
def _computing_in(precision: str):
    """Yields the dtype the net computes in. mixed_float16: every float variable is made float32
    (what the optimiser updates and checkpoints store) and read as float16 inside the net, the
    same variables and names as float32, so a checkpoint serves either precision."""
    if precision == "float32":
        yield tf.float32
        return

    def float32_weights(getter, name, *args, dtype=None, **kwargs):
        if dtype is None or not tf.as_dtype(dtype).is_floating:
            return getter(name, *args, dtype=dtype, **kwargs)
        return autocast_variable.create_autocast_variable(getter(name, *args, dtype=tf.float32, **kwargs))

    scope = tf.compat.v1.get_variable_scope()
    with tf.compat.v1.variable_scope(scope, custom_getter=float32_weights, auxiliary_name_scope=False), \
            autocast_variable.enable_auto_cast_variables(tf.float16):
        yield tf.float16


def build_model(spec: ModelSpec, weight_decay: float = 0.0, precision: str = "float32") -> MultiTaskSqueezeNet:
    """The network a spec describes, with its variables created (fresh initial weights)."""
    model = MultiTaskSqueezeNet(spec, weight_decay=weight_decay, precision=precision)
    model.build_variables()
    return model


def probability_fn(model: MultiTaskSqueezeNet, flip_tta: bool = False):
    """A compiled inference function: float RGB pixels (N, S, S, 3) -> {task: softmax (N, classes)}.

    flip_tta averages the probabilities of each photo and its mirror image: twice the compute,
    for answers that do not depend on which way a flower happens to face.
    """
    size = model.spec.image_size

    @tf.function(input_signature=[tf.TensorSpec([None, size, size, 3], tf.float32)])
    def probabilities(images):
        if not flip_tta:
            return {task: tf.nn.softmax(value) for task, value in model(images, training=False).items()}
        both = model(tf.concat([images, tf.reverse(images, axis=[2])], axis=0), training=False)
        n = tf.shape(images)[0]
        return {task: (tf.nn.softmax(value[:n]) + tf.nn.softmax(value[n:])) / 2.0 for task, value in both.items()}

    return probabilities
