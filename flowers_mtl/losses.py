"""The joint multi-task objective: sum over tasks of softmax cross-entropy, unknown labels masked."""

from __future__ import annotations

import numpy as np
import tensorflow as tf

from .config import CLASS_WEIGHTINGS
from .splits import UNKNOWN


def masked_cross_entropy(
    labels: tf.Tensor, logits: tf.Tensor, label_smoothing: float = 0.0, class_weights: tf.Tensor | None = None
) -> tf.Tensor:
    """Mean cross-entropy over the examples whose label is known; exactly 0 when none is.

    With `class_weights` (one per class) it is the weighted mean, each example counting as its
    true class's weight. Dividing by max(total weight, tiny) rather than the total keeps a batch
    with no labelled example for a task from producing NaN (its gradient is then zero, not NaN).
    """
    labels = tf.cast(labels, tf.int32)
    known = tf.not_equal(labels, UNKNOWN)
    safe_labels = tf.where(known, labels, tf.zeros_like(labels))
    num_classes = tf.shape(logits)[-1]
    targets = tf.one_hot(safe_labels, num_classes)
    if label_smoothing > 0:
        targets = targets * (1.0 - label_smoothing) + label_smoothing / tf.cast(num_classes, tf.float32)
    per_example = tf.nn.softmax_cross_entropy_with_logits(labels=targets, logits=logits)
    weights = tf.cast(known, per_example.dtype)
    if class_weights is not None:
        weights *= tf.gather(tf.cast(class_weights, per_example.dtype), safe_labels)
    return tf.reduce_sum(per_example * weights) / tf.maximum(tf.reduce_sum(weights), 1e-6)


def joint_loss(
    labels: tf.Tensor,
    logits_by_task: dict[str, tf.Tensor],
    tasks: tuple[str, ...],
    label_smoothing: float = 0.0,
    class_weights: dict[str, tf.Tensor] | None = None,
) -> tuple[tf.Tensor, dict[str, tf.Tensor]]:
    """`labels` is (N, tasks) in the order of `tasks`. Returns (total, {task: loss})."""
    class_weights = class_weights or {}
    per_task = {
        task: masked_cross_entropy(labels[:, i], logits_by_task[task], label_smoothing, class_weights.get(task))
        for i, task in enumerate(tasks)
    }
    return tf.add_n(list(per_task.values())), per_task


def masked_correct(labels: tf.Tensor, logits: tf.Tensor) -> tuple[tf.Tensor, tf.Tensor]:
    """(number correct, number known) for one task in a batch."""
    labels = tf.cast(labels, tf.int32)
    known = tf.not_equal(labels, UNKNOWN)
    correct = tf.logical_and(known, tf.equal(tf.argmax(logits, axis=-1, output_type=tf.int32), labels))
    return tf.reduce_sum(tf.cast(correct, tf.float32)), tf.reduce_sum(tf.cast(known, tf.float32))



def class_weights_from_counts(counts: np.ndarray, weighting: str) -> np.ndarray | None:
    """Per-class loss weights from training label counts, so rare classes are not drowned out.

    balanced: n / (classes * n_c), sklearn's rule; sqrt: its square root, a milder push. Both are
    rescaled so the average training example weighs 1 (the loss keeps its usual scale). A class
    with no training example gets weight 1: nothing to balance.
    """
    if weighting == "none":
        return None
    if weighting not in CLASS_WEIGHTINGS:
        raise ValueError(f"class weighting must be one of {', '.join(CLASS_WEIGHTINGS)}, got {weighting!r}")
    counts = np.asarray(counts, dtype=np.float64)
    present = counts > 0
    weights = np.ones_like(counts)
    weights[present] = counts[present].sum() / (present.sum() * counts[present])
    if weighting == "sqrt":
        weights[present] = np.sqrt(weights[present])
    weights[present] *= counts[present].sum() / (weights[present] * counts[present]).sum()
    return weights.astype(np.float32)
