"""The joint multi-task objective: sum over tasks of softmax cross-entropy, unknown labels masked."""

from __future__ import annotations

import numpy as np
import tensorflow as tf

from ..config import CLASS_WEIGHTINGS
from ..data.splits import UNKNOWN


def masked_cross_entropy(
    labels: tf.Tensor, logits: tf.Tensor, label_smoothing: float = 0.0, class_weights: tf.Tensor | None = None
) -> tuple[tf.Tensor, tf.Tensor]:
    """(sum of cross-entropies, count) over the examples whose label is known.

    Returned apart, not divided, so that under a multi-replica strategy the count can be summed
    across replicas first: each replica then divides its sum by the *global* count, and the
    summed gradients are those of the mean over the whole batch. With `class_weights` (one per
    class) each example counts as its true class's weight.
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
    return tf.reduce_sum(per_example * weights), tf.reduce_sum(weights)


def mean_loss(total: tf.Tensor, count: tf.Tensor) -> tf.Tensor:
    """total / count, and exactly 0 when no label is known: dividing by max(count, tiny) keeps a
    batch with no labelled example for a task from producing NaN (its gradient is then zero)."""
    return total / tf.maximum(count, 1e-6)


def task_losses(
    labels: tf.Tensor,
    logits_by_task: dict[str, tf.Tensor],
    tasks: tuple[str, ...],
    label_smoothing: float = 0.0,
    class_weights: dict[str, tf.Tensor] | None = None,
) -> dict[str, tuple[tf.Tensor, tf.Tensor]]:
    """`labels` is (N, tasks) in the order of `tasks`. Returns {task: (sum, count)}."""
    class_weights = class_weights or {}
    return {
        task: masked_cross_entropy(labels[:, i], logits_by_task[task], label_smoothing, class_weights.get(task))
        for i, task in enumerate(tasks)
    }


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


class TaskWeighting(tf.Module):
    """How the per-task losses add up to one objective.

    Fixed: sum of w_t * L_t. Learned (Kendall, Gal and Cipolla 2018, homoscedastic uncertainty):
    each task has a trainable log-variance s_t and contributes exp(-s_t) * w_t * L_t + s_t / 2, so a
    task whose loss stays high is down-weighted, and the s_t / 2 term stops every weight from
    collapsing to zero.
    """

    def __init__(self, tasks, fixed: dict[str, float] | None = None, learned: bool = False):
        super().__init__(name="task_weighting")
        fixed = fixed or {}
        self.fixed = {task: float(fixed.get(task, 1.0)) for task in tasks}
        self.log_variances = {task: tf.Variable(0.0, name=f"log_variance_{task}") for task in tasks} if learned else {}

    def total(self, per_task: dict[str, tf.Tensor], tasks=None, replicas: int = 1) -> tf.Tensor:
        """The objective over `tasks` (default: every task in `per_task`). Under `replicas`
        replicas whose objectives get summed, the s_t / 2 term is split among them."""
        terms = []
        for task in tasks or per_task:
            term = self.fixed[task] * per_task[task]
            if self.log_variances:
                s = self.log_variances[task]
                term = tf.exp(-s) * term + 0.5 * s / replicas
            terms.append(term)
        return tf.add_n(terms)

    def variables_of(self, tasks) -> list[tf.Variable]:
        return [self.log_variances[task] for task in tasks if task in self.log_variances]

    def effective(self) -> dict[str, float]:
        """The weight each task's loss gets right now."""
        return {
            task: w * (float(tf.exp(-self.log_variances[task]).numpy()) if self.log_variances else 1.0)
            for task, w in self.fixed.items()
        }


def soft_sharing_penalty(pairs) -> tf.Tensor:
    """Sum of squared distances between corresponding variables of the task towers."""
    terms = []
    for group in pairs:
        for i in range(len(group)):
            for j in range(i + 1, len(group)):
                terms.append(tf.reduce_sum(tf.square(group[i] - group[j])))
    return tf.add_n(terms) if terms else tf.constant(0.0)
