"""The joint multi-task objective: sum over tasks of softmax cross-entropy, unknown labels masked."""

from __future__ import annotations

import tensorflow as tf

from .splits import UNKNOWN


def masked_cross_entropy(labels: tf.Tensor, logits: tf.Tensor, label_smoothing: float = 0.0) -> tf.Tensor:
    """Mean cross-entropy over the examples whose label is known; exactly 0 when none is.

    Dividing by max(count, 1) rather than count keeps a batch with no labelled example for a
    task from producing NaN (and its gradient is then zero, not NaN).
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
    return tf.reduce_sum(per_example * weights) / tf.maximum(tf.reduce_sum(weights), 1.0)


def joint_loss(
    labels: tf.Tensor,
    logits_by_task: dict[str, tf.Tensor],
    tasks: tuple[str, ...],
    label_smoothing: float = 0.0,
) -> tuple[tf.Tensor, dict[str, tf.Tensor]]:
    """`labels` is (N, tasks) in the order of `tasks`. Returns (total, {task: loss})."""
    per_task = {
        task: masked_cross_entropy(labels[:, i], logits_by_task[task], label_smoothing)
        for i, task in enumerate(tasks)
    }
    return tf.add_n(list(per_task.values())), per_task


def masked_correct(labels: tf.Tensor, logits: tf.Tensor) -> tuple[tf.Tensor, tf.Tensor]:
    """(number correct, number known) for one task in a batch."""
    labels = tf.cast(labels, tf.int32)
    known = tf.not_equal(labels, UNKNOWN)
    correct = tf.logical_and(known, tf.equal(tf.argmax(logits, axis=-1, output_type=tf.int32), labels))
    return tf.reduce_sum(tf.cast(correct, tf.float32)), tf.reduce_sum(tf.cast(known, tf.float32))
