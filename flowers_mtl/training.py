"""The training loop: joint or alternate steps (see StepPlan), an optional frozen-trunk start,
validation every epoch, the best model kept, and a checkpoint that makes rerunning the same
command resume.
"""

from __future__ import annotations

import json
import math
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import tensorflow as tf
import tf_keras
from tqdm import tqdm

from . import cost, modeldir, pipeline, pretrained
from .config import CLASSES_FILE, TrainConfig
from .errors import UserInputError
from .evaluation import loss_and_accuracy, predict_split
from .losses import TaskWeighting, class_weights_from_counts, joint_loss, soft_sharing_penalty
from .model import probability_fn
from .splits import ClassNames, load_classes, read_split


@dataclass
class TrainResult:
    folder: Path
    steps: int
    best: dict | None
    seconds: float


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
    schedule = learning_rate_schedule(config, total_steps)
    if config.optimizer == "momentum":
        return tf_keras.optimizers.SGD(schedule, momentum=config.momentum, nesterov=True)
    return tf_keras.optimizers.Adam(schedule)


# Settings that change the network's variables or the training state's layout: a resume must keep them.
NETWORK_SETTINGS = ("tasks", "split_after", "sharing", "mode", "alternate_ratio", "loss_weighting")


def _check_same_model(folder: Path, config: TrainConfig, classes: ClassNames) -> None:
    """A rerun into an existing folder resumes; refuse if it would be a different network."""
    saved_classes = folder / CLASSES_FILE
    if saved_classes.is_file() and load_classes(saved_classes) != classes:
        raise UserInputError(
            f"{folder}: holds a model trained with other classes ({saved_classes}); choose another --out"
        )
    saved = TrainConfig.load(folder) if (folder / "config.json").is_file() else None
    for name in NETWORK_SETTINGS:
        if saved is not None and getattr(saved, name) != getattr(config, name):
            raise UserInputError(
                f"{folder}: holds a model trained with {name} {getattr(saved, name)!r}, not {getattr(config, name)!r}; "
                "choose another --out"
            )


class _RunningMean:
    """Exponential moving average of the per-task losses, for the progress bar."""

    def __init__(self, decay: float = 0.9):
        self.decay, self.values = decay, {}

    def update(self, values: dict[str, float]) -> dict[str, float]:
        for key, value in values.items():
            old = self.values.get(key)
            self.values[key] = value if old is None else self.decay * old + (1 - self.decay) * value
        return self.values


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
    jit_compile: bool = False,
):
    """One compiled step on a batch: the weighted task losses (of `tasks`, default all) + weight
    decay + the soft-sharing penalty, with gradients for `variables` only. Returns the per-task losses.
    `jit_compile` asks XLA to compile it (bench.py measures whether that pays here)."""
    spec_images = tf.TensorSpec([None, config.image_size, config.image_size, 3], tf.float32)
    spec_labels = tf.TensorSpec([None, len(model.tasks)], tf.int32)
    weighting = weighting or TaskWeighting(model.tasks)

    @tf.function(input_signature=[spec_images, spec_labels], jit_compile=jit_compile)
    def train_step(images, labels):
        with tf.GradientTape() as tape:
            logits = model(images, training=True)
            _, per_task = joint_loss(labels, logits, model.tasks, config.label_smoothing, class_weights)
            objective = weighting.total(per_task, tasks) + model.regularization_loss()
            if soft_pairs:
                objective += config.soft_weight * soft_sharing_penalty(soft_pairs)
        gradients = tape.gradient(objective, variables)
        optimizer.apply_gradients(zip(gradients, variables))
        return per_task

    return train_step


class StepPlan:
    """Which optimiser and which variables each training step uses.

    joint: one optimiser over everything. alternate: one optimiser per task over the trunk and
    that task's head, taking turns in `alternate_ratio`, so a head only ever learns from its own
    task while the trunk learns from all. In frozen-trunk epochs only head variables move.
    """

    def __init__(self, model, config: TrainConfig, total_steps: int, class_weights, weighting):
        self.tasks = model.tasks
        if config.mode == "joint":
            self.turns = ["joint"]
            groups = {"joint": list(self.tasks)}
        else:
            ratio = {task: int((config.alternate_ratio or {}).get(task, 1)) for task in self.tasks}
            self.turns = [task for task in self.tasks for _ in range(ratio[task])]
            groups = {task: [task] for task in self.tasks if ratio[task]}
        soft_pairs = model.soft_sharing_pairs() if config.sharing == "soft" else []
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
            self._full[name] = make_train_step(model, optimizer, full, *args)
            # Heads only: the trunk's backward pass is never computed, so frozen epochs are cheaper too.
            self._heads[name] = make_train_step(model, optimizer, heads, *args)

    def step_for(self, step: int, frozen: bool):
        name = self.turns[step % len(self.turns)]
        return (self._heads if frozen else self._full)[name]

    def checkpointables(self) -> dict:
        if list(self.optimizers) == ["joint"]:
            return {"optimizer": self.optimizers["joint"]}
        return {f"optimizer_{name}": optimizer for name, optimizer in self.optimizers.items()}

    def learning_rate(self) -> float:
        return float(next(iter(self.optimizers.values())).learning_rate)


def frozen_epochs(config: TrainConfig) -> int:
    """A trunk is only worth freezing when it starts from ImageNet."""
    return config.freeze_trunk_epochs if config.pretrained else 0


def train(config: TrainConfig, log=print) -> TrainResult:
    config.validate()
    started = time.time()
    all_classes = load_classes(config.classes)
    tasks = config.check_tasks(all_classes.tasks)
    tf.random.set_seed(config.seed)  # initial weights (CPU threads still add a little run-to-run noise)
    classes = all_classes.only(tasks)
    train_split = read_split(config.train, all_classes).only(tasks)
    val_split = read_split(config.val, all_classes).only(tasks) if config.val else None
    folder = Path(config.out)
    folder.mkdir(parents=True, exist_ok=True)
    _check_same_model(folder, config, all_classes)
    config.save(folder)
    all_classes.save(folder / CLASSES_FILE)

    model = modeldir.build_model(config, classes)
    # Decode every photo once now: it fills the cache and tells how many decode, which fixes the
    # epoch length (undecodable photos are skipped, not retried).
    train_images = pipeline.cached_decoded(train_split, config.image_size)
    n_train = pipeline.fill_and_count(train_images)
    skipped_train = pipeline.count_skipped(train_split, n_train)
    if n_train == 0:
        raise UserInputError(f"{train_split.source}: none of the {len(train_split)} photos could be decoded")
    steps_per_epoch = math.ceil(n_train / config.batch_size)
    total_steps = config.epochs * steps_per_epoch
    if config.max_steps:
        total_steps = min(total_steps, config.max_steps)
    weights = class_weights(config, train_split)
    weighting = TaskWeighting(tasks, config.loss_weights, learned=config.loss_weighting == "uncertainty")
    plan = StepPlan(model, config, total_steps, weights, weighting)
    step = tf.Variable(0, dtype=tf.int64, name="step")
    best_score = tf.Variable(-math.inf, dtype=tf.float64, name="best_score")
    state = tf.train.Checkpoint(
        model=model, step=step, best_score=best_score, task_weighting=weighting, **plan.checkpointables()
    )
    manager = tf.train.CheckpointManager(state, str(folder / modeldir.CHECKPOINTS), max_to_keep=2)
    if manager.latest_checkpoint:
        state.restore(manager.latest_checkpoint).assert_existing_objects_matched()
        log(f"resuming from {manager.latest_checkpoint} at step {int(step)}")
    elif config.pretrained:
        source, loaded = pretrained.load_into(model, config.pretrained)
        layout = (
            f"conv1..{config.split_after} shared, the rest into each head" if config.sharing == "hard"
            else "into each task's own tower"
        )
        log(f"loaded {loaded} ImageNet tensors from {source} ({layout})")
    best_saver = tf.train.Checkpoint(model=model)

    log(
        f"training {', '.join(f'{t} ({n})' for t, n in classes.num_classes().items())} on {len(train_split)} photos "
        f"({train_split.source}), {config.mode} training, {config.sharing} sharing split after {config.split_after}, "
        f"{config.image_size}px, batch {config.batch_size}, {total_steps} steps"
    )
    log(cost.measure(model, config.image_size).summary())
    if int(step) >= total_steps:
        log(f"already trained to step {int(step)} of {total_steps}; nothing to do")
        return TrainResult(folder, int(step), modeldir.read_best_metrics(folder), time.time() - started)

    val_batches = None
    if val_split is not None:
        val_batches = pipeline.evaluation_dataset(val_split, config.image_size, config.batch_size, cache=True)
    probabilities = probability_fn(model, config.image_size)

    if weights:
        log(f"class weights ({config.class_weighting}): " + "; ".join(
            f"{task} " + " ".join(f"{name} {w:.2f}" for name, w in zip(classes.by_task[task], weights[task].numpy()))
            for task in weights
        ))
    n_frozen = frozen_epochs(config)

    writer = tf.summary.create_file_writer(str(folder / modeldir.LOGS))
    running = _RunningMean()
    first_epoch = int(step) // steps_per_epoch
    last_epoch = math.ceil(total_steps / steps_per_epoch)
    for epoch in range(first_epoch, last_epoch):
        done_in_epoch = int(step) - epoch * steps_per_epoch
        batches = pipeline.training_dataset(
            train_split, config.image_size, config.batch_size, config.seed, epoch,
            config.max_rotation_deg, config.min_crop_area, cached=train_images,
        ).skip(done_in_epoch)
        steps_here = min(steps_per_epoch, total_steps - epoch * steps_per_epoch) - done_in_epoch
        frozen = epoch < n_frozen
        bar = tqdm(total=steps_here, desc=f"epoch {epoch + 1}/{last_epoch}", unit="step", disable=None, leave=False)
        epoch_started = time.time()
        for images, labels in batches.take(steps_here):
            per_task = plan.step_for(int(step), frozen)(images, labels)
            step.assign_add(1)
            losses = {task: float(value) for task, value in per_task.items()}
            if not all(math.isfinite(value) for value in losses.values()):
                manager_note = f"; the last good checkpoint is in {manager.directory}" if manager.latest_checkpoint else ""
                raise UserInputError(
                    f"training diverged at step {int(step)} (loss {losses}): lower --learning-rate "
                    f"(now {config.learning_rate}){manager_note}"
                )
            bar.set_postfix({task: f"{value:.3f}" for task, value in running.update(losses).items()})
            bar.update(1)
            if int(step) % config.log_every == 0:
                with writer.as_default(step=int(step)):
                    for task, value in losses.items():
                        tf.summary.scalar(f"train/loss_{task}", value)
                    tf.summary.scalar("train/learning_rate", plan.learning_rate())
            if int(step) % config.checkpoint_every == 0:
                manager.save(checkpoint_number=int(step))
        bar.close()
        seconds = time.time() - epoch_started
        line = f"epoch {epoch + 1}/{last_epoch} step {int(step)}{' (heads only)' if frozen else ''}: train " + " ".join(
            f"{task} {value:.3f}" for task, value in running.values.items()
        )
        line += f" | {steps_here * config.batch_size / max(seconds, 1e-9):.1f} img/s"
        if skipped_train:
            line += f" | skipped {skipped_train} undecodable photo(s) of {len(train_split)}"
        if weighting.log_variances:
            learned = weighting.effective()
            line += " | loss weights " + " ".join(f"{task} {w:.3f}" for task, w in learned.items())
            with writer.as_default(step=int(step)):
                for task, w in learned.items():
                    tf.summary.scalar(f"train/loss_weight_{task}", w)
        if val_batches is not None:
            probs, labels, _ = predict_split(probabilities, val_split, config.image_size, config.batch_size, val_batches)
            scores = loss_and_accuracy(probs, labels, tasks)
            score = float(np.nanmean([scores[task]["accuracy"] for task in tasks]))
            line += " | val " + " ".join(
                f"{task} loss {s['loss']:.3f} acc {s['accuracy']:.3f}" for task, s in scores.items()
            )
            skipped_val = pipeline.count_skipped(val_split, len(labels))
            if skipped_val:
                line += f" (skipped {skipped_val} undecodable)"
            with writer.as_default(step=int(step)):
                for task, s in scores.items():
                    tf.summary.scalar(f"val/loss_{task}", s["loss"])
                    tf.summary.scalar(f"val/accuracy_{task}", s["accuracy"])
        else:
            scores, score = None, float(epoch)  # no validation split: the latest model is the best
        if score > float(best_score):
            best_score.assign(score)
            best_saver.write(modeldir.best_prefix(folder))
            _write_best_metrics(folder, int(step), epoch + 1, scores)
            line += " *best*"
        manager.save(checkpoint_number=int(step))
        writer.flush()
        log(line)
    if skipped_train:
        for name in pipeline.undecodable(train_split, config.image_size):
            log(f"undecodable: {name}")
    return TrainResult(folder, int(step), modeldir.read_best_metrics(folder), time.time() - started)


def _write_best_metrics(folder: Path, step: int, epoch: int, scores) -> None:
    path = folder / modeldir.BEST / modeldir.BEST_METRICS
    path.write_text(json.dumps({"step": step, "epoch": epoch, "validation": scores}, indent=1) + "\n")

