"""Training: step-level checks on fixed batches (what each step moves, and that it lowers the
loss), then short runs of the loop read through its history, never its log text."""

import json

import numpy as np
import pytest
import tensorflow as tf

from conftest import PRETRAINED_H5, make_dataset, tiny_config
from flowers_mtl.config import TrainConfig
from flowers_mtl.data.splits import load_classes
from flowers_mtl.errors import TrainingDiverged, UserInputError
from flowers_mtl.model import store
from flowers_mtl.model.layer import build_model
from flowers_mtl.train.loop import train
from flowers_mtl.train.losses import TaskWeighting, soft_sharing_penalty
from flowers_mtl.train.step import StepPlan

QUIET = {"log": lambda *_: None}


def _plan(tmp_path, **settings):
    data = make_dataset(tmp_path / "data", per_class=1)
    config = tiny_config(data, tmp_path / "m", **settings)
    classes = load_classes(data / "classes.json")
    tasks = config.check_tasks(classes.tasks)
    tf.random.set_seed(0)
    model = build_model(config.model.with_classes(classes.only(tasks)), config.weight_decay)
    weighting = TaskWeighting(model.tasks, learned=config.loss_weighting == "uncertainty")
    plan = StepPlan(model, config, 100, None, weighting)
    images = tf.random.stateless_uniform([4, 32, 32, 3], seed=[0, 1], maxval=255.0)
    every_task = tf.constant([[0, 0], [1, 1], [0, 2], [1, -1]])  # type, colour
    labels = tf.gather(every_task, [classes.tasks.index(task) for task in tasks], axis=1)
    return model, plan, weighting, images, labels


def snapshot(variables):
    return [v.numpy().copy() for v in variables]


def changed(before, variables):
    return [not np.array_equal(b, v.numpy()) for b, v in zip(before, variables)]


# Soft sharing (two towers) and learned weighting have quick tests of their own below; their
# loss-lowering runs are the slowest to trace, so they run in the slow tier.
MODES = [
    pytest.param({}, id="joint"),
    pytest.param({"mode": "alternate"}, id="alternate", marks=pytest.mark.slow),  # (quick: the next test's turns)
    pytest.param({"tasks": ["colour"]}, id="colour only"),
    pytest.param({"sharing": "soft", "soft_weight": 1e-2}, id="soft sharing", marks=pytest.mark.slow),
    pytest.param({"loss_weighting": "uncertainty"}, id="uncertainty weighting", marks=pytest.mark.slow),
]


@pytest.mark.parametrize("settings", MODES)
def test_steps_on_a_fixed_batch_lower_its_loss_in_every_mode(tmp_path, settings):
    """Each step returns the batch's loss before its update: twelve steps must bring it well down."""
    model, plan, _, images, labels = _plan(tmp_path, learning_rate=2e-3, dropout_keep_prob=1.0, **settings)
    losses = []
    for step in range(12):
        losses.append(sum(float(v) for v in plan.step_for(step, frozen=False)(images, labels).values()))
    assert all(np.isfinite(losses)) and losses[-1] < 0.7 * losses[0], losses


def test_alternate_steps_leave_the_other_head_untouched(tmp_path):
    model, plan, _, images, labels = _plan(tmp_path, mode="alternate", alternate_ratio={"type": 2, "colour": 1})
    assert plan.turns == ["type", "type", "colour"]
    type_head, colour_head, trunk = model.head_variables("type"), model.head_variables("colour"), model.trunk_variables()
    before = {name: snapshot(v) for name, v in (("type", type_head), ("colour", colour_head), ("trunk", trunk))}
    plan.step_for(0, frozen=False)(images, labels)  # a type step
    assert not any(changed(before["colour"], colour_head))
    assert all(changed(before["type"], type_head)) and any(changed(before["trunk"], trunk))
    before_type = snapshot(type_head)
    plan.step_for(2, frozen=False)(images, labels)  # a colour step
    assert not any(changed(before_type, type_head)) and all(changed(before["colour"], colour_head))


def test_frozen_steps_move_only_head_variables(tmp_path):
    model, plan, _, images, labels = _plan(tmp_path)
    trunk, heads = model.trunk_variables(), model.head_variables()
    before_trunk, before_heads = snapshot(trunk), snapshot(heads)
    plan.step_for(0, frozen=True)(images, labels)
    assert not any(changed(before_trunk, trunk)) and all(changed(before_heads, heads))


def test_a_joint_step_moves_every_variable(tmp_path):
    model, plan, _, images, labels = _plan(tmp_path)
    before = snapshot(model.trainable_variables)
    plan.step_for(0, frozen=False)(images, labels)
    assert all(changed(before, model.trainable_variables))


def test_soft_sharing_has_a_trunk_per_task_pulled_together(tmp_path):
    model, plan, _, images, labels = _plan(tmp_path, sharing="soft", soft_weight=1.0)
    pairs = model.soft_sharing_pairs()
    assert len(pairs) == 2 * (1 + 7 * 3)  # weights and biases of conv1 and fire2..fire8 (3 convs each)
    assert all(a.shape == b.shape and a.name != b.name for a, b in pairs)
    a, b = pairs[0]
    with tf.GradientTape() as tape:
        penalty = soft_sharing_penalty(pairs)
    grad_a, grad_b = tape.gradient(penalty, [a, b])
    np.testing.assert_allclose(grad_a.numpy(), 2 * (a.numpy() - b.numpy()), rtol=1e-5, atol=1e-7)
    np.testing.assert_allclose(grad_b.numpy(), -grad_a.numpy(), rtol=1e-6)


def test_uncertainty_weights_are_trained(tmp_path):
    model, plan, weighting, images, labels = _plan(tmp_path, loss_weighting="uncertainty", learning_rate=1e-2)
    assert weighting.effective() == {"type": 1.0, "colour": 1.0}
    for step in range(3):
        plan.step_for(step, frozen=False)(images, labels)
    assert all(abs(w - 1.0) > 1e-3 for w in weighting.effective().values())


def test_a_task_with_no_label_in_the_batch_adds_nothing(tmp_path):
    """Every colour unknown in an alternate colour step: zero loss, no NaN, nothing moves (weight
    decay off: it would move the weights on its own, labels or not)."""
    model, plan, _, images, _ = _plan(tmp_path, mode="alternate", weight_decay=0.0)
    labels = tf.constant([[0, -1], [1, -1], [0, -1], [1, -1]])
    variables = model.trainable_variables
    before = snapshot(variables)
    losses = plan.step_for(1, frozen=False)(images, labels)
    assert float(losses["colour"]) == 0.0
    assert all(np.all(np.isfinite(v.numpy())) for v in variables)
    assert not any(changed(before, variables))


# ---------------------------------------------------------------- runs of the loop

def test_history_has_one_record_per_epoch_with_losses_and_validation(tmp_path):
    data = make_dataset(tmp_path / "data", per_class=1)  # 6 photos, batch 4: 2 steps per epoch
    lines = []
    config = tiny_config(data, tmp_path / "m", epochs=2, batch_size=4, loss_weighting="uncertainty",
                         class_weighting="balanced")
    result = train(config, log=lines.append)
    assert any(line.startswith("class weights (balanced): type rose 1.00 daisy 1.00; colour") for line in lines)
    assert [(r["epoch"], r["step"]) for r in result.history] == [(1, 2), (2, 4)]
    for record in result.history:
        assert set(record["train_loss"]) == {"type", "colour"} and all(np.isfinite(list(record["train_loss"].values())))
        assert record["val"]["type"]["n"] == 6 and 0 <= record["val"]["colour"]["accuracy"] <= 1
        assert set(record["loss_weights"]) == {"type", "colour"}
    assert result.history[0]["best"]  # the first validated epoch is always the best so far


def test_resume_refuses_other_settings_and_names_them(trained_model):
    data = trained_model.parent / "data"
    config = tiny_config(data, trained_model, epochs=2)
    with pytest.raises(UserInputError, match="sharing: 'soft' != 'hard'"):
        train(config.replace(sharing="soft"), **QUIET)
    with pytest.raises(UserInputError, match="learning_rate: 0.1 != 0.0003"):
        train(config.replace(learning_rate=0.1), **QUIET)
    with pytest.raises(UserInputError, match="image_size: 48 != 32"):
        train(config.replace(image_size=48), **QUIET)
    other = data.parent / "other-classes.json"
    other.write_text(json.dumps({"type": ["rose", "tulip"], "colour": ["red", "pink", "white"]}))
    with pytest.raises(UserInputError, match="other classes"):
        train(config.replace(classes=str(other)), **QUIET)


def test_single_task_model_evaluates_and_predicts_its_task_only(tmp_path):
    from flowers_mtl.eval.scoring import read_split_for

    data = make_dataset(tmp_path / "data", per_class=1)
    train(tiny_config(data, tmp_path / "m", tasks=["colour"]), **QUIET)
    trained = store.load_trained(tmp_path / "m")
    assert trained.classes.tasks == ("colour",) and trained.all_classes.tasks == ("type", "colour")
    assert read_split_for(trained, data / "test.txt").labels.shape == (6, 1)
    assert set(trained.probabilities(np.zeros((1, 32, 32, 3), np.float32))) == {"colour"}


def test_unknown_task_names_are_user_errors(tmp_path):
    data = make_dataset(tmp_path / "data", per_class=1)
    with pytest.raises(UserInputError, match="--tasks: unknown task shape"):
        train(tiny_config(data, tmp_path / "m", tasks=["shape"]), **QUIET)
    with pytest.raises(UserInputError, match="--loss-weights: unknown task size"):
        train(tiny_config(data, tmp_path / "m2", loss_weights={"size": 1.0}), **QUIET)


def test_masked_unknown_labels_train_without_nan(tmp_path):
    """Every colour unknown: the colour term is zero, the type term still trains, nothing is NaN."""
    data = make_dataset(tmp_path / "data", per_class=1)
    for name in ("train", "val", "test"):
        path = data / f"{name}.txt"
        path.write_text("".join(line.rsplit(",", 1)[0] + ", -1\n" for line in path.read_text().splitlines()))
    result = train(tiny_config(data, tmp_path / "model", epochs=2), **QUIET)
    assert all(r["train_loss"]["colour"] == 0.0 and r["train_loss"]["type"] > 0 for r in result.history)
    trained = store.load_trained(result.folder)
    assert all(np.all(np.isfinite(v.numpy())) for v in trained.model.variables)
    assert result.best["validation"]["colour"]["n"] == 0


@pytest.mark.slow
def test_rerunning_resumes_the_step_count(tmp_path):
    data = make_dataset(tmp_path / "data", per_class=1)  # 6 photos, batch 4: 2 steps per epoch
    first = train(tiny_config(data, tmp_path / "m", epochs=1, batch_size=4), **QUIET)
    assert first.steps == 2
    second = train(tiny_config(data, tmp_path / "m", epochs=3, batch_size=4), **QUIET)
    assert second.steps == 6 and [r["epoch"] for r in second.history] == [2, 3]
    again = train(tiny_config(data, tmp_path / "m", epochs=3, batch_size=4), **QUIET)
    assert again.steps == 6 and again.history == []


@pytest.mark.slow  # two training runs (15 s): the quick tier keeps the resume bookkeeping tests above
def test_resume_mid_epoch_continues_from_the_checkpoint(tmp_path):
    data = make_dataset(tmp_path / "data", per_class=2)  # 12 photos, batch 4: 3 steps per epoch
    config = tiny_config(data, tmp_path / "m", epochs=2, batch_size=4, checkpoint_every=1)
    assert train(config.replace(max_steps=4), **QUIET).steps == 4  # stops early, mid-epoch
    result = train(config, **QUIET)
    assert result.steps == 6 and [(r["epoch"], r["step"]) for r in result.history] == [(2, 6)]


def test_model_folder_holds_spec_config_and_best(trained_model):
    for name in ("model.json", "config.json", "classes.json", "best/model.index", "best/metrics.json"):
        assert (trained_model / name).is_file(), name
    assert list((trained_model / "logs").iterdir())
    trained = store.load_trained(trained_model)
    assert trained.checkpoint.endswith("best/model") and trained.image_size == 32
    assert TrainConfig.load(trained_model).model.image_size == 32


def test_saved_weights_load_back_exactly(tmp_path):
    """best/ written from a model with known (random) weights loads into a model with the same
    weights and the same answers."""
    from conftest import make_spec

    spec = make_spec({"type": 2, "colour": 3}, 32)
    model = build_model(spec)
    for v in model.variables:
        v.assign(tf.random.stateless_normal(v.shape, seed=[len(v.name), 7]) * 0.05)
    folder = tmp_path / "m"
    (folder / store.BEST).mkdir(parents=True)
    spec.save(folder)
    store.save_weights(model, store.best_prefix(folder))
    loaded = store.load_trained(folder)
    for a, b in zip(model.variables, loaded.model.variables):
        assert a.name == b.name
        np.testing.assert_array_equal(a.numpy(), b.numpy())
    images = tf.random.stateless_uniform([3, 32, 32, 3], seed=[3, 4], maxval=255.0)
    expected = {task: tf.nn.softmax(v).numpy() for task, v in model(images).items()}
    for task, probs in loaded.probabilities(images).items():
        np.testing.assert_allclose(probs, expected[task], rtol=1e-5, atol=1e-6)


def test_a_folder_from_before_model_json_still_loads(tmp_path):
    """Older folders have a flat config.json and no model.json: the spec is rebuilt from them."""
    from conftest import TINY_CLASSES

    folder = tmp_path / "m"
    (folder / store.BEST).mkdir(parents=True)
    (folder / "classes.json").write_text(json.dumps(TINY_CLASSES))
    old = {"train": "t", "val": None, "test": None, "classes": "c", "out": "m", "tasks": ["colour"],
           "split_after": "fire9", "sharing": "hard", "image_size": 32, "dropout_keep_prob": 0.5, "epochs": 1}
    (folder / "config.json").write_text(json.dumps(old))
    spec = store.read_model_spec(folder)
    assert spec.split_after == "fire9" and spec.classes.to_json() == {"colour": TINY_CLASSES["colour"]}
    store.save_weights(build_model(spec), store.best_prefix(folder))
    trained = store.load_trained(folder)
    assert trained.classes.tasks == ("colour",) and trained.image_size == 32 and trained.all_classes.tasks == ("type", "colour")
    (folder / "config.json").unlink()
    with pytest.raises(UserInputError, match="not a model folder"):
        store.load_trained(folder)


def test_undecodable_training_photos_are_counted_and_named(tmp_path):
    data = make_dataset(tmp_path / "data", per_class=1)
    (data / "img" / "1_white_0.png").write_bytes(b"not a png")
    lines = []
    result = train(tiny_config(data, tmp_path / "m"), log=lines.append)
    assert result.history[0]["skipped_undecodable"] == 1
    assert result.history[0]["val"]["skipped_undecodable"] == 1
    assert any(line.startswith("undecodable: ") and "1_white_0.png" in line for line in lines)


def test_bad_settings_are_user_errors(tmp_path):
    data = make_dataset(tmp_path / "data", per_class=1)
    with pytest.raises(UserInputError, match="--batch-size must be positive"):
        train(tiny_config(data, tmp_path / "m", batch_size=0))


def test_divergence_raises_its_own_error(tmp_path):
    data = make_dataset(tmp_path / "data", per_class=1)
    config = tiny_config(data, tmp_path / "m", epochs=3, batch_size=4, optimizer="momentum", learning_rate=1e6)
    with pytest.raises(TrainingDiverged, match="training diverged by step .* lower --learning-rate"):
        train(config, **QUIET)
    assert not issubclass(TrainingDiverged, UserInputError) and not issubclass(UserInputError, ValueError)


@pytest.mark.shared_data
def test_training_starts_from_imagenet_weights_and_resume_does_not_reload_them(tmp_path):
    data = make_dataset(tmp_path / "data", per_class=1)
    lines = []
    train(tiny_config(data, tmp_path / "m", pretrained=str(PRETRAINED_H5)), log=lines.append)
    assert any(line.startswith("loaded 56 ImageNet tensors") for line in lines)
    again = []
    train(tiny_config(data, tmp_path / "m", epochs=2, pretrained=str(PRETRAINED_H5)), log=again.append)
    assert not any(line.startswith("loaded") for line in again) and any("resuming" in line for line in again)


@pytest.mark.shared_data
def test_frozen_trunk_epochs_train_only_the_heads(tmp_path):
    from flowers_mtl.model import pretrained

    data = make_dataset(tmp_path / "data", per_class=1)
    config = tiny_config(data, tmp_path / "m", pretrained=str(PRETRAINED_H5), freeze_trunk_epochs=1, epochs=2)
    result = train(config, **QUIET)
    assert [r["heads_only"] for r in result.history] == [True, False]
    spec = config.model.with_classes(load_classes(data / "classes.json"))
    imagenet = build_model(spec)
    pretrained.load_into(imagenet, str(PRETRAINED_H5))
    trained = build_model(spec)  # as after the frozen epoch (step 1)
    tf.train.Checkpoint(model=trained).read(str(tmp_path / "m" / "checkpoints" / "ckpt-1")).expect_partial()
    trunk_same = [np.array_equal(a.numpy(), b.numpy()) for a, b in zip(imagenet.trunk_variables(), trained.trunk_variables())]
    head_same = [np.array_equal(a.numpy(), b.numpy()) for a, b in zip(imagenet.head_variables(), trained.head_variables())]
    assert all(trunk_same) and not any(head_same)


@pytest.mark.slow
def test_a_tiny_set_is_overfit(tmp_path):
    """The whole loop, end to end: 16 tiny pictures, 40 epochs, the summed loss falls far."""
    data = make_dataset(tmp_path / "data", per_class=2, unknown=4)  # 12 labelled + 4 colour-unknown
    config = tiny_config(data, tmp_path / "model", batch_size=16, learning_rate=2e-3, epochs=40,
                         max_rotation_deg=0.0, min_crop_area=1.0, dropout_keep_prob=1.0)
    result = train(config, **QUIET)
    losses = [sum(r["train_loss"].values()) for r in result.history]
    assert len(losses) == 40 and all(np.isfinite(losses))
    assert losses[-1] < 0.5 * losses[0], losses
    assert result.best["validation"]["type"]["accuracy"] >= 0.75  # chance: 0.5


def test_a_task_near_chance_gets_a_note_saying_what_to_expect():
    from flowers_mtl.train.loop import chance_note

    val = {"type": {"accuracy": 0.30}, "colour": {"accuracy": 0.90}}
    note = chance_note(val, {"type": 4, "colour": 3}, from_scratch=True)
    assert note.startswith("note: validation accuracy near chance so far: type 0.30 (guessing: 0.25).")
    assert "colour" not in note and "leave out --from-scratch" in note
    assert "check the labels" in chance_note(val, {"type": 4, "colour": 3}, from_scratch=False)
    good = {"type": {"accuracy": 0.6}, "colour": {"accuracy": 0.9}}
    assert chance_note(good, {"type": 4, "colour": 3}, from_scratch=True) is None
    assert chance_note(None, {"type": 4}, from_scratch=True) is None
