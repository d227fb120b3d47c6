"""The training loop in parts: `setup` (data, model folder, model, resume or ImageNet import),
`run_epoch`, `validate`, `keep_best`; `train` strings them together and returns the history of
per-epoch metrics. Rerunning the same command resumes from the last checkpoint.

The same loop runs under every tf.distribute strategy (distribute.py): variables are made in the
strategy's scope, each epoch is fed as a distributed dataset, and with several workers only the
chief owns the model folder; the others write their checkpoints to a temporary folder that is
removed at the end, and resume from the chief's.

Losses stay on the device between `--log-every` steps (reading one back waits for the step to
finish), and are read back to the host only then and at an epoch's end.
"""

from __future__ import annotations

import contextlib
import math
import re
import shutil
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import tensorflow as tf
from filelock import FileLock, Timeout
from tqdm import tqdm

from ..config import TrainConfig
from ..data import pipeline
from ..data.splits import Split, join_splits, load_classes, read_split
from ..errors import TrainingDiverged, UserInputError
from ..eval.metrics import loss_and_accuracy
from ..eval.scoring import predict_split
from ..model import cost, pretrained, store
from ..model.layer import MultiTaskSqueezeNet, build_model, probability_fn
from ..spec import CLASSES_FILE, CONFIG_FILE, SPEC_FILE, ModelSpec
from . import distribute
from .average import WeightAverage
from .losses import TaskWeighting
from .step import StepPlan, class_weights, frozen_epochs


@dataclass
class TrainResult:
    folder: Path
    steps: int
    best: dict | None
    seconds: float
    history: list[dict] = field(default_factory=list)  # one entry per epoch run by this call
    chief: bool = True  # False: a multi-worker run's other worker, which wrote nothing of the model folder


@dataclass
class Session:
    """Everything `setup` builds that the epochs share."""

    config: TrainConfig
    spec: ModelSpec
    folder: Path  # the model folder, or a worker's temporary folder
    strategy: tf.distribute.Strategy
    model: MultiTaskSqueezeNet
    plan: StepPlan
    weighting: TaskWeighting
    average: WeightAverage
    state: tf.train.Checkpoint
    manager: tf.train.CheckpointManager
    train_split: Split
    val_split: Split | None
    train_images: tf.data.Dataset | None  # decoded photos in memory (None: streamed from shards)
    skipped_train: int
    steps_per_epoch: int
    total_steps: int
    log: Callable[[str], None]
    lock: FileLock
    best_missing: bool = False  # best/ absent or damaged in a folder that has trained: write it anew

    @property
    def step(self) -> int:
        return int(self.state.step.numpy())  # (.numpy(): a mirrored variable has no int())

    @property
    def chief(self) -> bool:
        return distribute.is_chief(self.strategy)


def train(config: TrainConfig, log=print) -> TrainResult:
    started = time.time()
    with training_session(config, log) as session:
        history = run_epochs(session)
    folder = Path(config.out)
    best = store.read_best_metrics(folder) if session.chief else None
    return TrainResult(folder, session.step, best, time.time() - started, history, session.chief)


@contextlib.contextmanager
def training_session(config: TrainConfig, log=print):
    """`setup`, and at the end, however it ends: the model folder's lock released, and a non-chief
    worker's temporary folder removed."""
    session = setup(config, log)
    try:
        yield session
    finally:
        session.lock.release()
        if not session.chief:
            shutil.rmtree(session.folder, ignore_errors=True)


def run_epochs(session: Session) -> list[dict]:
    """The epochs still to run (all of them, unless resuming); their records."""
    config, log = session.config, session.log
    validation = Validation(session) if session.val_split is not None and session.chief else None
    writer = tf.summary.create_file_writer(str(session.folder / store.LOGS))
    if session.best_missing:
        _repair_best(session, validation, writer)
    history = []
    if session.step >= session.total_steps:
        log(f"already trained to step {session.step} of {session.total_steps}; nothing to do")
        return history
    with _writing(session, CONFIG_FILE):
        config.save(session.folder)  # only now: a rerun that trains nothing leaves config.json as it was
    last_epoch = math.ceil(session.total_steps / session.steps_per_epoch)
    for epoch in range(session.step // session.steps_per_epoch, last_epoch):
        record = run_epoch(session, epoch, writer)
        with session.average.swapped():  # (with no --ema-decay, the weights as trained)
            record["val"] = validation.scores(writer, session.step) if validation else None
            record["best"] = keep_best(session, record)
        save_checkpoint(session)
        with _writing(session, "TensorBoard logs"):
            writer.flush()
        log(epoch_line(record, last_epoch, session))
        if record["epoch"] == CHANCE_NOTE_EPOCH:
            note = chance_note(record["val"], session.model.num_classes, from_scratch=not config.pretrained)
            if note:
                log(note)
        history.append(record)
    if session.skipped_train:
        for name in pipeline.undecodable(session.train_split, session.spec):
            log(f"undecodable: {name}")
    return history


def _repair_best(session: Session, validation, writer) -> None:
    """best/ was lost (a kill while it was written, a damaged file): the restored weights become
    best/ again, scored on validation, and later epochs may still beat them."""
    session.state.best_score.assign(-math.inf)
    epoch = -(-session.step // session.steps_per_epoch)
    with session.average.swapped():
        record = {"epoch": epoch, "step": session.step,
                  "val": validation.scores(writer, session.step) if validation else None}
        keep_best(session, record)
    session.log(f"{session.folder / store.BEST}: rewritten from the checkpoint at step {session.step}")


# ---------------------------------------------------------------- setup

def setup(config: TrainConfig, log) -> Session:
    """Read the data, prepare the model folder, build the model and restore or import its weights."""
    config.validate()
    strategy = distribute.make_strategy(config.strategy, config.local_devices)  # first: it may split the CPU
    all_classes = load_classes(config.classes)
    tasks = config.check_tasks(all_classes.tasks)
    spec = config.model.with_classes(all_classes.only(tasks))
    train_split = read_split(config.train, all_classes).only(tasks)
    val_split = read_split(config.val, all_classes).only(tasks) if config.val else None
    if config.refit:
        train_split, val_split = join_splits([train_split, val_split]), None
    if config.test:
        read_split(config.test, all_classes)  # a mistake in it is found now, not after training
    _check_labels(train_split, log)
    distribute.check_batch(strategy, config.batch_size)
    distribute.check_precision(config.precision)
    if distribute.is_chief(strategy):
        folder, lock = _prepare_folder(config, spec, all_classes)
    else:  # its checkpoints are needed only while it runs (the strategy saves on every worker)
        folder = Path(tempfile.mkdtemp(prefix=f"flowers-mtl-{distribute.worker_name(strategy).replace(' ', '')}-"))
        _, lock = _prepare_folder(config.replace(out=str(folder)), spec, all_classes)
    try:
        with strategy.scope():
            return _build_session(config, spec, folder, lock, strategy, train_split, val_split, log)
    except BaseException:
        lock.release()
        raise


def _build_session(config, spec, folder, lock, strategy, train_split, val_split, log) -> Session:
    tf.random.set_seed(config.seed)  # initial weights (CPU threads still add a little run-to-run noise)
    model = build_model(spec, config.weight_decay, config.precision)
    train_images, n_train = _count_photos(train_split, spec)
    steps_per_epoch = math.ceil(n_train / config.batch_size)
    total_steps = config.epochs * steps_per_epoch
    if config.max_steps:
        total_steps = min(total_steps, config.max_steps)
    weights = class_weights(config, train_split)
    weighting = TaskWeighting(spec.classes.tasks, config.loss_weights, learned=config.loss_weighting == "uncertainty")
    plan = StepPlan(model, config, total_steps, weights, weighting, strategy)
    average = WeightAverage(model.trainable_variables, config.ema_decay)
    state = tf.train.Checkpoint(
        model=model, step=tf.Variable(0, dtype=tf.int64, name="step"),
        best_score=tf.Variable(-math.inf, dtype=tf.float64, name="best_score"), task_weighting=weighting,
        **plan.checkpointables(), **({"weight_average": average.trackable()} if average.enabled else {}),
    )
    manager = tf.train.CheckpointManager(state, str(folder / store.CHECKPOINTS), max_to_keep=2)
    session = Session(config, spec, folder, strategy, model, plan, weighting, average, state, manager, train_split,
                      val_split, train_images, pipeline.count_skipped(train_split, n_train), steps_per_epoch,
                      total_steps, log, lock)
    _restore_or_import(session)
    _log_start(session, weights)
    return session


def _count_photos(split: Split, spec: ModelSpec) -> tuple[tf.data.Dataset | None, int]:
    """The photos an epoch goes through. From split files every photo is decoded once now: that
    fills the in-memory cache and tells how many decode, which fixes the epoch length
    (undecodable photos are skipped, not retried). Shards hold only photos that decoded."""
    if split.shards:
        return None, len(split)
    train_images = pipeline.cached_decoded(split, spec)
    n_train = pipeline.fill_and_count(train_images)
    if n_train == 0:
        raise UserInputError(f"{split.source}: none of the {len(split)} photos could be decoded")
    return train_images, n_train


def _check_labels(split: Split, log) -> None:
    """A task with no known label in the training split cannot learn: warn, or refuse if none can."""
    known = {task: int((split.labels[:, i] >= 0).sum()) for i, task in enumerate(split.classes.tasks)}
    empty = [task for task, count in known.items() if count == 0]
    if len(empty) == len(known):
        raise UserInputError(f"{split.source}: no photo has a known label (every label is -1); nothing to learn")
    if empty:
        log(f"warning: {split.source}: no photo has a known {', '.join(empty)} label; that head will not learn "
            "(train the other task alone with --tasks)")


def _prepare_folder(config: TrainConfig, spec: ModelSpec, all_classes) -> tuple[Path, FileLock]:
    """Create and lock the model folder, or check that a rerun into it continues the same run."""
    folder = Path(config.out)
    try:
        folder.mkdir(parents=True, exist_ok=True)
        lock = FileLock(folder / LOCK_FILE)
        lock.acquire(timeout=0)
    except Timeout:
        raise UserInputError(f"{folder}: another training is writing to this folder; wait for it to end, or choose "
                             "another --out") from None
    except OSError as err:
        raise UserInputError(f"--out {folder}: cannot write there ({err.strerror or err})") from None
    try:
        _check_rerun(config, spec, all_classes, folder)
    except BaseException:
        lock.release()
        raise
    return folder, lock


LOCK_FILE = ".lock"  # held (an OS lock, released when the process ends) while a run writes the folder


def _check_rerun(config: TrainConfig, spec: ModelSpec, all_classes, folder: Path) -> None:
    saved_classes = folder / CLASSES_FILE
    if saved_classes.is_file() and load_classes(saved_classes) != all_classes:
        raise UserInputError(f"{folder}: holds a model trained with other classes ({saved_classes}); choose another "
                             "--out, or --restart (the old folder is kept as a backup)")
    if (folder / CONFIG_FILE).is_file():
        saved = TrainConfig.load(folder)
        saved_spec = store.read_model_spec(folder)
        conflicts = spec.differences(saved_spec) + config.resume_conflicts(saved)
        if conflicts:
            raise UserInputError(
                f"{folder}: holds a run with other settings ({'; '.join(conflicts)}, new != saved); "
                "rerun with the saved settings to resume, or choose another --out, or --restart (the old folder is kept "
                "as a backup)"
            )
        return  # config.json is rewritten only once the rerun trains (see run_epochs)
    with _writing_to(folder, "the model folder's settings", None):
        spec.save(folder)
        config.save(folder)
        all_classes.save(saved_classes)


def _restore_or_import(session: Session) -> None:
    """Every worker restores the chief's latest checkpoint (the model folder must be on a disk
    they all see to resume a multi-worker run), or else starts from the same ImageNet weights."""
    config, log, folder = session.config, session.log, Path(session.config.out)
    if session.chief:
        store.clean_leftovers(folder)
    saved = store.training_checkpoints(folder) if folder.is_dir() else []
    checkpoint = store.first_usable(saved, on_damaged=lambda message: log(f"warning: {message}"))
    if saved and checkpoint is None:
        raise UserInputError(f"{folder}: every checkpoint is damaged ({', '.join(saved)}); start over with --restart")
    if checkpoint:
        try:
            session.state.restore(checkpoint).assert_existing_objects_matched()
        except (AssertionError, ValueError, tf.errors.OpError) as err:
            raise UserInputError(f"{checkpoint}: does not fit {folder / SPEC_FILE} (was it edited?): "
                                 f"{str(err).splitlines()[0][:200]}") from None
        log(f"resuming from {checkpoint} at step {session.step}")
        had_best = float(session.state.best_score.numpy()) > -math.inf
        session.best_missing = (session.chief and had_best
                                and store.first_usable(store.best_checkpoints(folder), lambda _: None) is None)
        if session.best_missing:
            log(f"warning: {folder / store.BEST} is missing or damaged; it is written again from this checkpoint")
    elif config.pretrained and Path(config.pretrained).is_dir():
        loaded = store.warm_start(session.model, config.pretrained)
        log(f"started from the trained model {config.pretrained} ({loaded} tensors)")
    elif config.pretrained:
        source, loaded = pretrained.load_into(session.model, config.pretrained)
        layout = (
            f"conv1..{session.spec.split_after} shared, the rest into each head" if session.spec.sharing == "hard"
            else "into each task's own tower"
        )
        log(f"loaded {loaded} ImageNet tensors from {source} ({layout})")
    else:
        log("from scratch: random initial weights (without --from-scratch, training starts from ImageNet's)")


def _log_start(session: Session, weights: dict) -> None:
    spec, config, split = session.spec, session.config, session.train_split
    replicas = session.strategy.num_replicas_in_sync
    session.log(
        f"training {', '.join(f'{t} ({n})' for t, n in spec.classes.num_classes().items())} on {len(split)} photos "
        f"({split.source}{', streamed from shards' if split.shards else ''}), {config.mode} training, {spec.sharing} "
        f"sharing split after {spec.split_after}, {spec.image_size}px, batch {config.batch_size}"
        f"{f' ({replicas} replicas of {config.batch_size // replicas}, {config.strategy})' if replicas > 1 else ''}, "
        f"{session.total_steps} steps{f', weights averaged (EMA {config.ema_decay})' if session.average.enabled else ''}"
        f"{', refit: no validation, the last epoch is the model' if config.refit else ''}"
    )
    session.log(cost.measure(session.model).summary())
    if weights:
        session.log(f"class weights ({config.class_weighting}): " + "; ".join(
            f"{task} " + " ".join(f"{name} {w:.2f}" for name, w in zip(spec.classes.by_task[task], weights[task].numpy()))
            for task in weights
        ))


# ---------------------------------------------------------------- one epoch

def run_epoch(session: Session, epoch: int, writer) -> dict:
    """Train the rest of `epoch` (all of it, unless resuming mid-epoch). Returns its record."""
    config, step = session.config, session.state.step
    done_in_epoch = session.step - epoch * session.steps_per_epoch
    steps_here = min(session.steps_per_epoch, session.total_steps - epoch * session.steps_per_epoch) - done_in_epoch
    batches = _epoch_batches(session, epoch, done_in_epoch + steps_here, done_in_epoch)
    frozen = epoch < frozen_epochs(config)
    sums = {task: tf.constant(0.0) for task in session.model.tasks}  # stay on the device until read
    bar = tqdm(total=steps_here, desc=f"epoch {epoch + 1}", unit="step", disable=None, leave=False)
    started, ran = time.time(), 0
    for images, labels in batches:
        per_task = session.plan.step_for(session.step, frozen)(images, labels)
        session.average.update()
        step.assign_add(1)
        sums = {task: sums[task] + per_task[task] for task in sums}
        ran += 1
        if session.step % config.log_every == 0 or ran == steps_here:
            means = _read_losses(session, sums, ran)
            bar.set_postfix({task: f"{value:.3f}" for task, value in means.items()})
            bar.update(ran - bar.n)
            with writer.as_default(step=session.step):
                for task, value in means.items():
                    tf.summary.scalar(f"train/loss_{task}", value)
                tf.summary.scalar("train/learning_rate", session.plan.learning_rate())
        if session.step % config.checkpoint_every == 0 and ran < steps_here:
            save_checkpoint(session)  # (at the epoch's end the checkpoint follows its validation)
    bar.close()
    record = {
        "epoch": epoch + 1, "step": session.step, "heads_only": frozen, "train_loss": _read_losses(session, sums, ran),
        "images_per_s": ran * config.batch_size / max(time.time() - started, 1e-9),
        "skipped_undecodable": session.skipped_train,
    }
    if session.weighting.log_variances:
        record["loss_weights"] = session.weighting.effective()
        with writer.as_default(step=session.step):
            for task, w in record["loss_weights"].items():
                tf.summary.scalar(f"train/loss_weight_{task}", w)
    return record


def _epoch_batches(session: Session, epoch: int, steps: int, start: int):
    """Steps `start`..`steps` of an epoch as the strategy's distributed dataset."""
    config, strategy = session.config, session.strategy
    replicas = strategy.num_replicas_in_sync

    def dataset(index: int, count: int) -> tf.data.Dataset:
        feed = pipeline.Feed(steps, config.batch_size // replicas, replicas // count, index, count, start)
        return pipeline.training_dataset(session.train_split, session.spec, feed, config.seed, epoch,
                                         config.max_rotation_deg, config.min_crop_area, cached=session.train_images)

    return distribute.distribute_epoch(strategy, dataset)


def _read_losses(session: Session, sums: dict, steps: int) -> dict[str, float]:
    """The epoch's mean loss per task so far, read to the host; stops a diverged run."""
    means = {task: float(value) / max(steps, 1) for task, value in sums.items()}
    if not all(math.isfinite(value) for value in means.values()):
        _diverged(session, f"mean losses {means}")
    check_finite(session)
    return means


def check_finite(session: Session) -> None:
    """Stop before a model with NaN or infinite weights is used or saved: ReLU can turn NaN
    activations to 0, so the loss alone may stay finite while the weights are lost."""
    variables = session.model.trainable_variables
    finite = tf.stack([tf.reduce_all(tf.math.is_finite(v)) for v in variables]).numpy()
    if not finite.all():
        _diverged(session, f"{int((~finite).sum())} of {len(variables)} weight tensors hold NaN or infinite values")


def _diverged(session: Session, what: str):
    checkpoint = session.manager.latest_checkpoint
    where = (f"nothing non-finite was saved; the last finite checkpoint is {checkpoint} (rerunning the same command "
             "resumes from it)" if checkpoint else "nothing was saved")
    raise TrainingDiverged(
        f"training diverged by step {session.step} ({what}); {where}. To train with a lower --learning-rate (now "
        f"{session.config.learning_rate}), add --restart or choose another --out"
    )


def save_checkpoint(session: Session) -> None:
    """A training checkpoint, only of finite weights; a full disk is one line, the last one kept."""
    check_finite(session)
    with _writing(session, "a checkpoint"):
        session.manager.save(checkpoint_number=session.step)


def _writing(session: Session, what: str):
    return _writing_to(session.folder, what, session.manager.latest_checkpoint)


@contextlib.contextmanager
def _writing_to(folder: Path, what: str, last_good: str | None):
    """An OS error while writing (full disk, permissions, a read-only place) as one line."""
    try:
        yield
    except (OSError, tf.errors.OpError) as err:
        reason = getattr(err, "strerror", None) or getattr(err, "message", None) or str(err)
        # TensorFlow's form, "{{function_node ...}} PATH; No space left on device [Op:SaveV2]": the cause alone
        reason = re.sub(r"\s*\[Op:\w+\]", "", reason.split("; ")[-1])
        kept = f"; {last_good} is intact: free space and rerun the same command to resume" if last_good else ""
        raise UserInputError(f"{folder}: cannot write {what} ({reason.splitlines()[0]}){kept}") from None


# ---------------------------------------------------------------- validation and the best model

class Validation:
    """Scores on the validation split after each epoch; its decoded photos are cached."""

    def __init__(self, session: Session):
        self.session = session
        self.batches = pipeline.evaluation_dataset(session.val_split, session.spec, session.config.batch_size, cache=True)
        self.probabilities = probability_fn(session.model)

    def scores(self, writer, step: int) -> dict:
        split = self.session.val_split
        probs, labels, _ = predict_split(self.probabilities, split, self.session.spec, 0, self.batches)
        scores = loss_and_accuracy(probs, labels, self.session.model.tasks)
        with writer.as_default(step=step):
            for task, s in scores.items():
                tf.summary.scalar(f"val/loss_{task}", s["loss"])
                tf.summary.scalar(f"val/accuracy_{task}", s["accuracy"])
        return scores | {"skipped_undecodable": pipeline.count_skipped(split, len(labels))}


def keep_best(session: Session, record: dict) -> bool:
    """Save the weights as best/ if the mean validation accuracy beats the best so far (with no
    validation split the latest epoch is the best)."""
    val = record["val"]
    tasks = session.model.tasks
    score = float(np.nanmean([val[task]["accuracy"] for task in tasks])) if val else float(record["epoch"])
    if not session.chief or not score > float(session.state.best_score.numpy()):
        return False
    check_finite(session)
    with _writing(session, "the best model"):
        store.save_best(session.model, session.folder,
                        {"step": record["step"], "epoch": record["epoch"], "validation": val})
    session.state.best_score.assign(score)
    return True


CHANCE_NOTE_EPOCH = 2  # early enough to reassure, late enough that a pretrained start has moved


def chance_note(val: dict | None, num_classes: dict[str, int], from_scratch: bool) -> str | None:
    """A line for the tasks whose validation accuracy is still near guessing, saying what to expect."""
    near = [task for task, n in num_classes.items() if val and val[task]["accuracy"] < 1.5 / n]
    if not near:
        return None
    which = ", ".join(f"{task} {val[task]['accuracy']:.2f} (guessing: {1 / num_classes[task]:.2f})" for task in near)
    if from_scratch:
        advice = ("From scratch a task often stays there for several epochs before it moves; if it does not by the "
                  "last epochs, start from ImageNet weights (leave out --from-scratch) or add photos.")
    else:
        advice = ("From ImageNet weights it should move within a few epochs; if it does not, check the labels "
                  "(prepare's count table) or add photos.")
    return f"note: validation accuracy near chance so far: {which}. {advice}"


def epoch_line(record: dict, last_epoch: int, session: Session) -> str:
    line = f"epoch {record['epoch']}/{last_epoch} step {record['step']}{' (heads only)' if record['heads_only'] else ''}: "
    line += "train " + " ".join(f"{task} {value:.3f}" for task, value in record["train_loss"].items())
    line += f" | {record['images_per_s']:.1f} img/s"
    if record["skipped_undecodable"]:
        line += f" | skipped {record['skipped_undecodable']} undecodable photo(s) of {len(session.train_split)}"
    if "loss_weights" in record:
        line += " | loss weights " + " ".join(f"{task} {w:.3f}" for task, w in record["loss_weights"].items())
    val = record["val"]
    if val:
        line += " | val " + " ".join(
            f"{task} loss {val[task]['loss']:.3f} acc {val[task]['accuracy']:.3f}" for task in session.model.tasks
        )
        if val["skipped_undecodable"]:
            line += f" (skipped {val['skipped_undecodable']} undecodable)"
    return line + (" *best*" if record["best"] else "")
