import numpy as np
import tensorflow as tf

from flowers_mtl.train.losses import masked_cross_entropy as sum_and_count
from flowers_mtl.train.losses import mean_loss, task_losses


def masked_cross_entropy(*args, **kwargs):
    return mean_loss(*sum_and_count(*args, **kwargs))


def test_equals_plain_cross_entropy_when_all_known():
    logits = tf.constant([[2.0, 0.0, -1.0], [0.5, 0.5, 3.0]])
    labels = tf.constant([0, 2])
    expected = tf.reduce_mean(tf.nn.sparse_softmax_cross_entropy_with_logits(labels=labels, logits=logits))
    np.testing.assert_allclose(masked_cross_entropy(labels, logits).numpy(), expected.numpy(), rtol=1e-6)


def test_unknown_labels_are_left_out():
    logits = tf.constant([[2.0, 0.0, -1.0], [9.0, -9.0, 0.0]])
    only_first = masked_cross_entropy(tf.constant([0]), logits[:1])
    np.testing.assert_allclose(masked_cross_entropy(tf.constant([0, -1]), logits).numpy(), only_first.numpy(), rtol=1e-6)


def test_no_known_label_gives_zero_loss_and_zero_gradient_not_nan():
    logits = tf.Variable([[1.0, 2.0], [3.0, 4.0]])
    with tf.GradientTape() as tape:
        loss = masked_cross_entropy(tf.constant([-1, -1]), logits)
    gradient = tape.gradient(loss, logits)
    assert float(loss) == 0.0
    assert np.all(np.isfinite(gradient.numpy())) and np.all(gradient.numpy() == 0)


def test_task_losses_are_each_tasks_sum_and_count():
    logits = {"type": tf.constant([[1.0, 0.0], [0.0, 1.0]]), "colour": tf.constant([[0.0, 1.0, 0.0], [1.0, 0.0, 0.0]])}
    labels = tf.constant([[1, 2], [1, -1]])
    pairs = task_losses(labels, logits, ("type", "colour"))
    assert float(pairs["type"][1]) == 2.0 and float(pairs["colour"][1]) == 1.0
    expected = tf.nn.sparse_softmax_cross_entropy_with_logits(labels=[1, 1], logits=logits["type"])
    np.testing.assert_allclose(float(pairs["type"][0]), float(tf.reduce_sum(expected)), rtol=1e-6)


def test_sums_and_counts_add_up_across_replicas_to_the_whole_batch_mean():
    """Two replicas with different numbers of known labels: dividing each sum by the global
    count and adding gives the whole batch's mean; the mean of the local means does not."""
    logits = tf.constant([[2.0, 0.0], [0.0, 3.0], [1.0, 1.0], [5.0, -5.0]])
    labels = tf.constant([0, 0, -1, 0])  # replica 1: two known, both costly; replica 2: one, nearly free
    whole = float(masked_cross_entropy(labels, logits))
    (s1, c1), (s2, c2) = sum_and_count(labels[:2], logits[:2]), sum_and_count(labels[2:], logits[2:])
    count = c1 + c2
    np.testing.assert_allclose(float(s1 / count + s2 / count), whole, rtol=1e-6)
    local_means = (float(mean_loss(s1, c1)) + float(mean_loss(s2, c2))) / 2
    assert abs(local_means - whole) > 0.1


def test_label_smoothing_raises_loss_of_a_confident_right_answer():
    logits, labels = tf.constant([[10.0, -10.0]]), tf.constant([0])
    assert float(masked_cross_entropy(labels, logits, 0.1)) > float(masked_cross_entropy(labels, logits))


def test_class_weights_make_each_class_count_equally():
    from flowers_mtl.train.losses import class_weights_from_counts

    counts = np.array([90, 10, 0])
    balanced = class_weights_from_counts(counts, "balanced")
    np.testing.assert_allclose(balanced[:2] * counts[:2], [50, 50])  # each present class weighs the same in total
    assert balanced[2] == 1.0
    np.testing.assert_allclose((balanced[:2] * counts[:2]).sum(), counts.sum())  # average example weighs 1
    sqrt = class_weights_from_counts(counts, "sqrt")
    assert balanced[0] < sqrt[0] < 1 < sqrt[1] < balanced[1]
    np.testing.assert_allclose((sqrt[:2] * counts[:2]).sum(), counts.sum(), rtol=1e-6)
    assert class_weights_from_counts(counts, "none") is None


def test_weighted_loss_is_the_weighted_mean_and_skips_unknown():
    logits = tf.constant([[2.0, 0.0], [0.0, 2.0], [1.0, 1.0]])
    per_example = tf.nn.sparse_softmax_cross_entropy_with_logits(labels=[0, 0, 0], logits=logits).numpy()
    weighted = masked_cross_entropy(tf.constant([0, 1, -1]), logits, class_weights=tf.constant([1.0, 3.0]))
    ce_1 = tf.nn.sparse_softmax_cross_entropy_with_logits(labels=[1], logits=logits[1:2]).numpy()[0]
    np.testing.assert_allclose(weighted.numpy(), (per_example[0] + 3 * ce_1) / 4, rtol=1e-6)
