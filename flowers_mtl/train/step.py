"""One training step, compiled: the optimisers, the variables each step moves, and the
objective (weighted masked task losses + weight decay + the soft-sharing penalty).

The step is written to be correct under a tf.distribute strategy: the label count each task
loss divides by is summed across replicas first, and the terms that do not depend on the batch
(weight decay, the soft-sharing penalty) are split among the replicas, whose gradients the
optimiser sums.
"""

from __future__ import annotations

import numpy as np
import tensorflow as tf
import tf_keras

from ..config import TrainConfig
from .distribute import sum_over_replicas
from .losses import TaskWeighting, class_weights_from_counts, mean_loss, soft_sharing_penalty, task_losses


def learning_rate_schedule(config: TrainConfig, total_steps: int):
    """Linear warm-up to --learning-rate, then cosine decay to zero at the last step."""
    warmup = min(config.warmup_steps, max(total_steps // 10, 0))
    return tf_keras.optimizers.schedules.CosineDecay(
        initial_learning_rate=0.0 if warmup else config.learning_rate,
        decay_steps=max(total_steps - warmup, 1),
        warmup_target=config.learning_rate if warmup else None,
        warmup_steps=warmup,
    )


def make_optimizer(config: TrainConfig, total_steps: int):
    """The optimiser of --optimizer; under --precision mixed_float16 wrapped in dynamic loss scaling,
    so that small float16 gradients do not underflow to zero (a step whose scaled gradients
    overflow is skipped and the scale halved)."""
    schedule = learning_rate_schedule(config, total_steps)
    if config.optimizer == "momentum":
        optimizer = tf_keras.optimizers.SGD(schedule, momentum=config.momentum, nesterov=True)
    else:
        optimizer = tf_keras.optimizers.Adam(schedule)
    if config.precision == "mixed_float16":
        return tf_keras.mixed_precision.LossScaleOptimizer(optimizer)
    return optimizer


def _scales_loss(optimizer) -> bool:
    return isinstance(optimizer, tf_keras.mixed_precision.LossScaleOptimizer)


def class_weights(config: TrainConfig, split) -> dict[str, tf.Tensor]:
    """Per-task class weights from the training split's label counts (unknown labels left out)."""
    weights = {}
    for i, (task, names) in enumerate(split.classes.by_task.items()):
        column = split.labels[:, i]
        counts = np.bincount(column[column >= 0], minlength=len(names))
        task_weights = class_weights_from_counts(counts, config.class_weighting)
        if task_weights is not None:
            weights[task] = tf.constant(task_weights)
    return weights


def make_train_step(
    model, optimizer, variables, config: TrainConfig, class_weights=None, weighting=None, tasks=None, soft_pairs=(),
    jit_compile: bool = False, strategy: tf.distribute.Strategy | None = None,
):
    """One compiled step on a global batch with gradients for `variables` only; the objective
    covers `tasks` (default all). Returns the per-task mean losses over the global batch.
    Under `strategy` (default: the current one) each replica runs the step on its share of the
    batch, fed as a distributed dataset's element. `jit_compile` asks XLA to compile the replica's
    step (bench.py measures whether that pays here)."""
    strategy = strategy or tf.distribute.get_strategy()
    weighting = weighting or TaskWeighting(model.tasks)

    def replica_step(images, labels):
        replica = tf.distribute.get_replica_context()
        replicas = replica.num_replicas_in_sync
        with tf.GradientTape() as tape:
            logits = model(images, training=True)
            sums_counts = task_losses(labels, logits, model.tasks, config.label_smoothing, class_weights)
            per_task = {}
            for task, (total, count) in sums_counts.items():
                if replicas > 1:
                    count = replica.all_reduce(tf.distribute.ReduceOp.SUM, count)
                per_task[task] = mean_loss(total, count)
            shared = model.regularization_loss()
            if soft_pairs:
                shared += config.soft_weight * soft_sharing_penalty(soft_pairs)
            objective = weighting.total(per_task, tasks, replicas) + shared / replicas
            if _scales_loss(optimizer):
                objective = optimizer.get_scaled_loss(objective)
        gradients = tape.gradient(objective, variables)
        if _scales_loss(optimizer):
            gradients = optimizer.get_unscaled_gradients(gradients)
        optimizer.apply_gradients(zip(gradients, variables))  # (sums the replicas' gradients)
        return per_task

    if jit_compile:
        replica_step = tf.function(replica_step, jit_compile=True)

    @tf.function(reduce_retracing=True)
    def train_step(images, labels):
        return sum_over_replicas(strategy, strategy.run(replica_step, args=(images, labels)))

    return train_step


class StepPlan:
    """Which optimiser and which variables each training step uses.

    joint: one optimiser over everything. alternate: one optimiser per task over the trunk and
    that task's head, taking turns in `alternate_ratio`, so a head only ever learns from its own
    task while the trunk learns from all. In frozen-trunk epochs only head variables move.
    """

    def __init__(self, model, config: TrainConfig, total_steps: int, class_weights, weighting, strategy=None):
        self.tasks = model.tasks
        if config.mode == "joint":
            self.turns = ["joint"]
            groups = {"joint": list(self.tasks)}
        else:
            ratio = {task: int((config.alternate_ratio or {}).get(task, 1)) for task in self.tasks}
            self.turns = [task for task in self.tasks for _ in range(ratio[task])]
            groups = {task: [task] for task in self.tasks if ratio[task]}
        soft_pairs = model.soft_sharing_pairs() if model.spec.sharing == "soft" else []
        self.optimizers, self._full, self._heads = {}, {}, {}
        for name, tasks in groups.items():
            share = self.turns.count(name) / len(self.turns)
            optimizer = make_optimizer(config, max(1, round(total_steps * share)))
            full = (model.trainable_variables if name == "joint" else model.task_variables(name)) + weighting.variables_of(tasks)
            heads = [v for task in tasks for v in model.head_variables(task)] + weighting.variables_of(tasks)
            # Slots for every variable now, so a heads-only step and a later full step share one
            # optimiser (and one checkpoint).
            optimizer.build(full)
            self.optimizers[name] = optimizer
            args = (config, class_weights, weighting, tasks, soft_pairs)
            self._full[name] = make_train_step(model, optimizer, full, *args, strategy=strategy)
            # Heads only: the trunk's backward pass is never computed, so frozen epochs are cheaper too.
            self._heads[name] = make_train_step(model, optimizer, heads, *args, strategy=strategy)

    def step_for(self, step: int, frozen: bool):
        name = self.turns[step % len(self.turns)]
        return (self._heads if frozen else self._full)[name]

    def checkpointables(self) -> dict:
        if list(self.optimizers) == ["joint"]:
            return {"optimizer": self.optimizers["joint"]}
        return {f"optimizer_{name}": optimizer for name, optimizer in self.optimizers.items()}

    def learning_rate(self) -> float:
        return float(tf.convert_to_tensor(next(iter(self.optimizers.values())).learning_rate).numpy())


def frozen_epochs(config: TrainConfig) -> int:
    """A trunk is only worth freezing when it starts from ImageNet."""
    return config.freeze_trunk_epochs if config.pretrained else 0
