"""tf.distribute: the mirrored strategy over two logical CPU devices (made in conftest) gives the
default strategy's losses and weights on the same global batch, two worker processes train in
lock-step, strategy mistakes are one line, and the mixed_float16 step keeps float32 weights."""

import json
import os
import socket
import subprocess
import sys

import numpy as np
import pytest
import tensorflow as tf

from conftest import ROOT, make_dataset, tiny_config
from flowers_mtl.data.splits import load_classes
from flowers_mtl.errors import UserInputError
from flowers_mtl.model import store
from flowers_mtl.model.layer import build_model
from flowers_mtl.train import distribute
from flowers_mtl.train.loop import train
from flowers_mtl.train.losses import TaskWeighting
from flowers_mtl.train.step import StepPlan, class_weights

QUIET = {"log": lambda *_: None}
STEPS, BATCH = 3, 4
# Type and colour per photo; under 2 replicas the second half of every batch goes to replica 1,
# which then holds no known colour label at step 0 and no known type label at step 1.
LABELS = np.array([[[0, 0], [1, 2], [0, -1], [1, -1]],
                   [[0, 1], [1, 2], [-1, 0], [-1, 2]],
                   [[1, 1], [0, 0], [1, 2], [0, 1]]], np.int32)


def mirrored():
    return distribute.make_strategy("mirrored", local_devices=2)  # (one per process: make_strategy caches it)


def _run_steps(strategy, config, classes, initial):
    """STEPS steps on fixed batches under `strategy`, from the weights `initial`: (losses, weights)."""
    spec = config.model.with_classes(classes)
    with strategy.scope():
        model = build_model(spec, config.weight_decay)
        for variable, value in zip(model.variables, initial):
            variable.assign(value)
        weighting = TaskWeighting(model.tasks, learned=config.loss_weighting == "uncertainty")
        plan = StepPlan(model, config, 100, class_weights(config, _Labels(classes)), weighting, strategy)
    images = tf.random.stateless_uniform([STEPS * BATCH, 32, 32, 3], seed=[0, 1], maxval=255.0)
    per_replica = BATCH // strategy.num_replicas_in_sync
    batches = distribute.distribute_epoch(strategy, lambda index, count: tf.data.Dataset.from_tensor_slices(
        (images, LABELS.reshape(-1, 2))).batch(per_replica))
    losses = []
    for step, (x, y) in enumerate(batches):
        losses.append({task: float(value) for task, value in plan.step_for(step, frozen=False)(x, y).items()})
    return losses, [v.numpy() for v in model.variables]


class _Labels:
    """The fixed batches' labels, as the split class_weights counts them from."""

    def __init__(self, classes):
        self.classes, self.labels = classes, LABELS.reshape(-1, 2)


MODES = [
    pytest.param({}, id="joint"),
    pytest.param({"class_weighting": "balanced"}, id="class weights", marks=pytest.mark.slow),
    pytest.param({"mode": "alternate"}, id="alternate", marks=pytest.mark.slow),
    pytest.param({"loss_weighting": "uncertainty"}, id="uncertainty weighting", marks=pytest.mark.slow),
    pytest.param({"sharing": "soft", "soft_weight": 1e-2}, id="soft sharing", marks=pytest.mark.slow),
]


@pytest.mark.parametrize("settings", MODES)
def test_mirrored_steps_give_the_default_strategy_losses_and_weights(tmp_path, settings):
    """The masked loss is summed over replicas and divided by the global count of known labels, and
    weight decay is split among them: two replicas of 2 photos are one batch of 4, to float precision.
    (Dropout is off: each replica draws its own mask.)"""
    data = make_dataset(tmp_path / "data", per_class=1)
    # SGD, not Adam, for the weights to compare: Adam turns a gradient of 1e-9 either side of 0 into a +-lr step.
    config = tiny_config(data, tmp_path / "m", optimizer="momentum", learning_rate=1e-2, dropout_keep_prob=1.0,
                         weight_decay=1e-3, **settings)
    classes = load_classes(data / "classes.json")
    tf.random.set_seed(0)
    initial = [v.numpy() for v in build_model(config.model.with_classes(classes)).variables]
    one_losses, one_weights = _run_steps(tf.distribute.get_strategy(), config, classes, initial)
    two_losses, two_weights = _run_steps(mirrored(), config, classes, initial)
    assert mirrored().num_replicas_in_sync == 2
    for one, two in zip(one_losses, two_losses):
        assert one.keys() == two.keys()
        np.testing.assert_allclose([one[t] for t in one], [two[t] for t in one], rtol=1e-5)
    moved = [not np.array_equal(a, b) for a, b in zip(initial, two_weights)]
    assert sum(moved) > len(moved) // 2
    for a, b in zip(one_weights, two_weights):
        np.testing.assert_allclose(a, b, rtol=1e-4, atol=1e-5)  # (float32 sums in another order; a wrong count errs by 1e-3)


@pytest.mark.slow
def test_a_mirrored_run_trains_like_the_default_one(tmp_path):
    """The whole loop (feed, steps, validation, checkpoints, best model) under 2 replicas: the same
    per-epoch losses and validation figures as one device, from the same seed; validation scores
    the weight average, kept on both replicas."""
    data = make_dataset(tmp_path / "data", per_class=2)
    histories = []
    for name, settings in (("default", {}), ("mirrored", {"strategy": "mirrored", "local_devices": 2})):
        config = tiny_config(data, tmp_path / name, epochs=2, dropout_keep_prob=1.0, ema_decay=0.5, **settings)
        result = train(config, **QUIET)
        assert store.best_checkpoints(result.folder) and result.best["epoch"] >= 1
        histories.append(result.history)
    for one, two in zip(*histories):
        for task in one["train_loss"]:
            assert two["train_loss"][task] == pytest.approx(one["train_loss"][task], rel=1e-4)
            assert two["val"][task]["loss"] == pytest.approx(one["val"][task]["loss"], rel=1e-3)


@pytest.mark.slow
def test_a_mirrored_run_resumes_under_either_strategy(tmp_path):
    """Checkpoints are strategy-free: a mirrored run stopped at step 1 goes on under the default
    strategy (and back), with its TensorBoard logs and best model in the one folder."""
    data = make_dataset(tmp_path / "data", per_class=2)  # 12 photos: 2 steps of 8 an epoch
    mirrored_settings = {"strategy": "mirrored", "local_devices": 2}
    first = train(tiny_config(data, tmp_path / "m", epochs=2, max_steps=1, **mirrored_settings), **QUIET)
    assert first.steps == 1
    second = train(tiny_config(data, tmp_path / "m", epochs=2, max_steps=3), **QUIET)
    assert second.steps == 3 and [h["step"] for h in second.history] == [2, 3]
    third = train(tiny_config(data, tmp_path / "m", epochs=2, **mirrored_settings), **QUIET)
    assert third.steps == 4 and [h["step"] for h in third.history] == [4]
    assert list((tmp_path / "m" / store.LOGS).iterdir()) and store.best_checkpoints(tmp_path / "m")


def test_strategy_mistakes_are_one_line(tmp_path):
    data = make_dataset(tmp_path / "data", per_class=1)
    with pytest.raises(UserInputError, match="global batch and must split evenly among the 2 replicas"):
        train(tiny_config(data, tmp_path / "m", strategy="mirrored", local_devices=2, batch_size=5), **QUIET)
    with pytest.raises(UserInputError, match="--local-devices needs --strategy mirrored"):
        tiny_config(data, tmp_path / "m", local_devices=2).validate()
    if not tf.config.list_physical_devices("GPU"):
        with pytest.raises(UserInputError, match="no GPU; add --local-devices N"):
            distribute.make_strategy("mirrored")
    for raw, message in ((None, "set TF_CONFIG in every worker"), ("{not json", "expected JSON like"),
                         ('{"cluster": {"worker": ["a:1"]}, "task": {"type": "worker", "index": 3}}', "not in the cluster")):
        with pytest.raises(UserInputError, match=message):
            distribute.cluster_size(raw)
    assert distribute.cluster_size('{"cluster": {"worker": ["a:1", "b:2"]}, "task": {"type": "worker", "index": 1}}') == 2


def _free_ports(count):
    sockets = [socket.socket() for _ in range(count)]
    for s in sockets:
        s.bind(("127.0.0.1", 0))
    ports = [s.getsockname()[1] for s in sockets]
    for s in sockets:
        s.close()
    return ports


WORKER = """
import sys, numpy as np
from flowers_mtl.config import TrainConfig
from flowers_mtl.train import loop
config = TrainConfig.load(sys.argv[1]).replace(out=sys.argv[2])
with loop.training_session(config, print) as session:
    loop.run_epochs(session)
    np.savez(sys.argv[3], *[v.numpy() for v in session.model.variables])
print("chief" if session.chief else "not chief", "folder", session.folder)
"""


@pytest.mark.subprocess
def test_two_workers_train_in_lock_step(tmp_path):
    """Two processes on 127.0.0.1 under MultiWorkerMirroredStrategy: both finish, their weights are
    identical, only the chief writes the model folder, and that folder evaluates."""
    data = make_dataset(tmp_path / "data", per_class=2)  # 12 photos: 3 steps of 4 a epoch, 2 per worker
    settings = tiny_config(data, tmp_path / "settings", epochs=2, batch_size=4, strategy="multiworker")
    (tmp_path / "settings").mkdir()
    settings.save(tmp_path / "settings")
    cluster = [f"127.0.0.1:{port}" for port in _free_ports(2)]
    workers = []
    for index in range(2):
        env = os.environ | {"TF_CONFIG": json.dumps({"cluster": {"worker": cluster},
                                                     "task": {"type": "worker", "index": index}})}
        workers.append(subprocess.Popen(
            [sys.executable, "-c", WORKER, str(tmp_path / "settings"), str(tmp_path / "model"), str(tmp_path / f"w{index}.npz")],
            cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True))
    outputs = [w.communicate(timeout=600)[0] for w in workers]
    assert [w.returncode for w in workers] == [0, 0], outputs
    assert "chief folder" in outputs[0] and "not chief folder" in outputs[1]
    weights = [np.load(tmp_path / f"w{index}.npz") for index in range(2)]
    assert len(weights[0].files) == len(weights[1].files) > 10
    for key in weights[0].files:
        np.testing.assert_array_equal(weights[0][key], weights[1][key])
    worker_folder = outputs[1].split("not chief folder ")[1].split()[0]
    assert not os.path.exists(worker_folder)  # the non-chief's temporary checkpoints are gone
    assert store.best_checkpoints(tmp_path / "model")
    evaluated = subprocess.run([sys.executable, "evaluate.py", "--model", str(tmp_path / "model"), "--split",
                                str(data / "test.txt"), "--json"], cwd=ROOT, capture_output=True, text=True)
    assert evaluated.returncode == 0, evaluated.stderr
    assert json.loads(evaluated.stdout.splitlines()[-1])["n"] == 12


@pytest.mark.slow
def test_mixed_float16_keeps_float32_weights_and_scales_the_loss(tmp_path):
    """The step a GPU runs under --precision mixed_float16, run here on the CPU (where train.py refuses
    it): float16 activations, float32 weights and logits, a dynamic loss scale, a falling loss, and
    weights that load into the float32 network everything else uses."""
    data = make_dataset(tmp_path / "data", per_class=1)
    config = tiny_config(data, tmp_path / "m", precision="mixed_float16", dropout_keep_prob=1.0, learning_rate=2e-3)
    spec = config.model.with_classes(load_classes(data / "classes.json"))
    model = build_model(spec, 5e-4, "mixed_float16")
    logits, end_points = model(tf.zeros([1, 32, 32, 3]), with_end_points=True)
    assert {v.dtype for v in model.variables} == {tf.float32}
    assert {v.dtype for v in logits.values()} == {tf.float32} and end_points["fire8"].dtype == tf.float16
    plan = StepPlan(model, config, 100, None, TaskWeighting(model.tasks))
    optimizer = plan.optimizers["joint"]
    assert float(optimizer.loss_scale) > 1
    images = tf.random.stateless_uniform([4, 32, 32, 3], seed=[0, 1], maxval=255.0)
    losses = [plan.step_for(step, False)(images, LABELS[2])["colour"].numpy() for step in range(14)]
    assert np.isfinite(losses).all() and losses[-1] < 0.8 * losses[0]
    path = tf.train.Checkpoint(model=model).write(str(tmp_path / "ckpt"))
    full = build_model(spec)
    tf.train.Checkpoint(model=full).read(path).assert_existing_objects_matched()
    for task, value in full(images).items():
        np.testing.assert_allclose(value.numpy(), model(images)[task].numpy(), atol=0.05)


def test_float16_is_refused_on_cpu(tmp_path):
    if tf.config.list_physical_devices("GPU"):
        pytest.skip("this machine has a GPU")
    data = make_dataset(tmp_path / "data", per_class=1)
    with pytest.raises(UserInputError, match="--precision mixed_float16 needs a GPU"):
        train(tiny_config(data, tmp_path / "m", precision="mixed_float16"), **QUIET)
    assert not (tmp_path / "m").exists()  # refused before anything is written
