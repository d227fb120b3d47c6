import json

import numpy as np
import pytest
import tensorflow as tf

from conftest import SHARED, make_dataset, tiny_config
from flowers_mtl import modeldir, training
from flowers_mtl.errors import UserInputError
from flowers_mtl.losses import TaskWeighting, soft_sharing_penalty
from flowers_mtl.splits import load_classes


MODES = {
    "joint": {},
    "alternate": {"mode": "alternate", "epochs": 80},  # each task steps every other batch: twice the steps
    "soft sharing": {"sharing": "soft", "soft_weight": 1e-2},
    # learned weights settle near 1 / (2 * loss): about half the step size while losses are near 1
    "uncertainty weighting": {"loss_weighting": "uncertainty", "epochs": 80},
    # colour alone (3 classes) has no easy type loss (2 shapes) to pull the sum down early
    "colour only": {"tasks": ["colour"], "epochs": 80},
}


@pytest.mark.parametrize("settings", MODES.values(), ids=MODES.keys())
def test_loss_falls_on_a_tiny_overfit_in_every_mode(tmp_path, settings):
    """16 tiny pictures, a few dozen steps: the summed loss must drop well below its start."""
    tf.random.set_seed(0)  # the initial weights; CPU threads still vary the run a little
    data = make_dataset(tmp_path / "data", per_class=2, unknown=4)  # 12 labelled + 4 colour-unknown
    lines = []
    settings = {"epochs": 40} | settings
    config = tiny_config(data, tmp_path / "model", batch_size=16, learning_rate=2e-3,
                         max_rotation_deg=0.0, min_crop_area=1.0, dropout_keep_prob=1.0, log_every=1, **settings)
    training.train(config, log=lines.append)
    tasks = settings.get("tasks", ["type", "colour"])
    epochs = [line.split("| ")[0] for line in lines if line.startswith("epoch")]
    losses = [sum(float(line.split(f" {task} ")[1].split()[0]) for task in tasks) for line in epochs]
    assert len(losses) == config.epochs
    assert all(np.isfinite(losses))
    assert losses[-1] < 0.5 * losses[0], losses


def _plan(tmp_path, **settings):
    data = make_dataset(tmp_path / "data", per_class=1)
    config = tiny_config(data, tmp_path / "m", **settings)
    classes = load_classes(data / "classes.json")
    model = modeldir.build_model(config, classes)
    weighting = TaskWeighting(model.tasks, learned=config.loss_weighting == "uncertainty")
    plan = training.StepPlan(model, config, 100, None, weighting)
    images = tf.random.stateless_uniform([4, 32, 32, 3], seed=[0, 1], maxval=255.0)
    labels = tf.constant([[0, 0], [1, 1], [0, 2], [1, -1]])
    return model, plan, weighting, images, labels


def snapshot(variables):
    return [v.numpy().copy() for v in variables]


def changed(before, variables):
    return [not np.array_equal(b, v.numpy()) for b, v in zip(before, variables)]


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
    trunk = model.trunk_variables()
    before = snapshot(trunk)
    plan.step_for(0, frozen=True)(images, labels)
    assert not any(changed(before, trunk))


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


def test_uncertainty_weights_are_logged_each_epoch(tmp_path):
    data = make_dataset(tmp_path / "data", per_class=1)
    lines = []
    training.train(tiny_config(data, tmp_path / "m", loss_weighting="uncertainty", epochs=2), log=lines.append)
    assert all("| loss weights type " in line for line in lines if line.startswith("epoch"))


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


def test_resume_refuses_another_network_layout(tmp_path):
    data = make_dataset(tmp_path / "data", per_class=1)
    training.train(tiny_config(data, tmp_path / "m"), log=lambda *_: None)
    with pytest.raises(UserInputError, match="sharing 'hard', not 'soft'"):
        training.train(tiny_config(data, tmp_path / "m", sharing="soft"), log=lambda *_: None)


def test_single_task_model_evaluates_and_predicts_its_task_only(tmp_path):
    data = make_dataset(tmp_path / "data", per_class=1)
    training.train(tiny_config(data, tmp_path / "m", tasks=["colour"]), log=lambda *_: None)
    trained = modeldir.load_trained(tmp_path / "m")
    assert trained.classes.tasks == ("colour",) and trained.all_classes.tasks == ("type", "colour")
    split = trained.read_split(data / "test.txt")
    assert split.labels.shape == (6, 1)
    images = np.zeros((1, 32, 32, 3), np.float32)
    assert set(trained.probabilities(images)) == {"colour"}


def test_unknown_task_names_are_user_errors(tmp_path):
    data = make_dataset(tmp_path / "data", per_class=1)
    with pytest.raises(UserInputError, match="--tasks: unknown task shape"):
        training.train(tiny_config(data, tmp_path / "m", tasks=["shape"]), log=lambda *_: None)
    with pytest.raises(UserInputError, match="--loss-weights: unknown task size"):
        training.train(tiny_config(data, tmp_path / "m2", loss_weights={"size": 1.0}), log=lambda *_: None)


def test_masked_unknown_labels_train_without_nan(tmp_path):
    """Every colour unknown: the colour term is zero, the type term still trains, nothing is NaN."""
    data = make_dataset(tmp_path / "data", per_class=1)
    for name in ("train", "val", "test"):
        path = data / f"{name}.txt"
        path.write_text("".join(line.rsplit(",", 1)[0] + ", -1\n" for line in path.read_text().splitlines()))
    result = training.train(tiny_config(data, tmp_path / "model", epochs=2), log=lambda *_: None)
    trained = modeldir.load_trained(result.folder)
    assert all(np.all(np.isfinite(v.numpy())) for v in trained.model.variables)
    metrics = json.loads((result.folder / "best" / "metrics.json").read_text())
    assert metrics["validation"]["colour"]["n"] == 0


def test_rerunning_resumes_the_step_count(tmp_path):
    data = make_dataset(tmp_path / "data", per_class=1)  # 6 photos, batch 4: 2 steps per epoch
    first = training.train(tiny_config(data, tmp_path / "m", epochs=1, batch_size=4), log=lambda *_: None)
    assert first.steps == 2
    lines = []
    second = training.train(tiny_config(data, tmp_path / "m", epochs=3, batch_size=4), log=lines.append)
    assert second.steps == 6
    assert any("resuming" in line and "at step 2" in line for line in lines)
    assert [line.split(":")[0] for line in lines if line.startswith("epoch")] == ["epoch 2/3 step 4", "epoch 3/3 step 6"]
    again = []
    training.train(tiny_config(data, tmp_path / "m", epochs=3, batch_size=4), log=again.append)
    assert any("nothing to do" in line for line in again)


def test_resume_mid_epoch_continues_from_the_checkpoint(tmp_path):
    data = make_dataset(tmp_path / "data", per_class=2)  # 12 photos, batch 4: 3 steps per epoch
    training.train(tiny_config(data, tmp_path / "m", epochs=2, batch_size=4, max_steps=4, checkpoint_every=1),
                   log=lambda *_: None)
    lines = []
    result = training.train(tiny_config(data, tmp_path / "m", epochs=2, batch_size=4, checkpoint_every=1), log=lines.append)
    assert result.steps == 6
    assert [line.split(":")[0] for line in lines if line.startswith("epoch")] == ["epoch 2/2 step 6"]


def test_max_steps_stops_early(tmp_path):
    data = make_dataset(tmp_path / "data", per_class=2)
    result = training.train(tiny_config(data, tmp_path / "m", epochs=5, batch_size=4, max_steps=2), log=lambda *_: None)
    assert result.steps == 2


def test_best_model_and_config_are_saved(tmp_path):
    data = make_dataset(tmp_path / "data", per_class=1)
    result = training.train(tiny_config(data, tmp_path / "m"), log=lambda *_: None)
    for name in ("config.json", "classes.json", "best/model.index", "best/metrics.json"):
        assert (result.folder / name).is_file(), name
    assert list((result.folder / "logs").iterdir())
    trained = modeldir.load_trained(result.folder)
    assert trained.checkpoint.endswith("best/model") and trained.image_size == 32


def test_checkpoint_round_trip_gives_identical_predictions(tmp_path):
    data = make_dataset(tmp_path / "data", per_class=1)
    result = training.train(tiny_config(data, tmp_path / "m"), log=lambda *_: None)
    images = tf.random.uniform([3, 32, 32, 3], 0, 255, seed=3)
    a = modeldir.load_trained(result.folder).probabilities(images)
    b = modeldir.load_trained(result.folder).probabilities(images)
    for task in a:
        np.testing.assert_array_equal(a[task], b[task])


def test_refuses_to_resume_with_other_classes(tmp_path):
    data = make_dataset(tmp_path / "data", per_class=1)
    training.train(tiny_config(data, tmp_path / "m"), log=lambda *_: None)
    (data / "classes.json").write_text(json.dumps({"type": ["rose", "tulip"], "colour": ["red", "pink", "white"]}))
    with pytest.raises(UserInputError, match="other classes"):
        training.train(tiny_config(data, tmp_path / "m"), log=lambda *_: None)


def test_undecodable_training_photos_are_reported(tmp_path):
    data = make_dataset(tmp_path / "data", per_class=1)
    (data / "img" / "1_white_0.png").write_bytes(b"not a png")
    lines = []
    training.train(tiny_config(data, tmp_path / "m"), log=lines.append)
    epoch_line = next(line for line in lines if line.startswith("epoch"))
    assert "skipped 1 undecodable photo(s) of 6" in epoch_line
    assert any(line.startswith("undecodable: ") and "1_white_0.png" in line for line in lines)


def test_bad_settings_are_user_errors(tmp_path):
    data = make_dataset(tmp_path / "data", per_class=1)
    with pytest.raises(UserInputError, match="--batch-size must be positive"):
        training.train(tiny_config(data, tmp_path / "m", batch_size=0))


def test_divergence_stops_with_a_clear_message(tmp_path):
    data = make_dataset(tmp_path / "data", per_class=1)
    with pytest.raises(UserInputError, match="training diverged at step .* lower --learning-rate"):
        training.train(tiny_config(data, tmp_path / "m", epochs=3, batch_size=4, optimizer="momentum", learning_rate=1e6),
                       log=lambda *_: None)


PRETRAINED_H5 = SHARED / "pretrained" / "squeezenet_weights_tf_dim_ordering_tf_kernels_notop.h5"


@pytest.mark.skipif(not PRETRAINED_H5.is_file(), reason=f"needs the shared ImageNet weights {PRETRAINED_H5} (absent)")
def test_training_starts_from_imagenet_weights_and_resume_does_not_reload_them(tmp_path):
    data = make_dataset(tmp_path / "data", per_class=1)
    lines = []
    training.train(tiny_config(data, tmp_path / "m", pretrained=str(PRETRAINED_H5)), log=lines.append)
    assert any(line.startswith("loaded 56 ImageNet tensors") for line in lines)
    again = []
    training.train(tiny_config(data, tmp_path / "m", epochs=2, pretrained=str(PRETRAINED_H5)), log=again.append)
    assert not any("ImageNet" in line for line in again) and any("resuming" in line for line in again)


@pytest.mark.skipif(not PRETRAINED_H5.is_file(), reason=f"needs the shared ImageNet weights {PRETRAINED_H5} (absent)")
def test_frozen_trunk_epochs_train_only_the_heads(tmp_path):
    from flowers_mtl import pretrained

    data = make_dataset(tmp_path / "data", per_class=1)
    config = tiny_config(data, tmp_path / "m", pretrained=str(PRETRAINED_H5), freeze_trunk_epochs=1, epochs=2)
    lines = []
    training.train(config, log=lines.append)
    assert "(heads only)" in next(line for line in lines if line.startswith("epoch 1/2"))
    assert "(heads only)" not in next(line for line in lines if line.startswith("epoch 2/2"))
    imagenet = modeldir.build_model(config, load_classes(data / "classes.json"))
    pretrained.load_into(imagenet, str(PRETRAINED_H5))
    trained = modeldir.build_model(config, load_classes(data / "classes.json"))  # as after the frozen epoch (step 1)
    tf.train.Checkpoint(model=trained).read(str(tmp_path / "m" / "checkpoints" / "ckpt-1")).expect_partial()
    trunk_same = [np.array_equal(a.numpy(), b.numpy()) for a, b in zip(imagenet.trunk_variables(), trained.trunk_variables())]
    head_same = [np.array_equal(a.numpy(), b.numpy()) for a, b in zip(imagenet.head_variables(), trained.head_variables())]
    assert all(trunk_same) and not any(head_same)


def test_class_weighting_is_logged_and_trains(tmp_path):
    data = make_dataset(tmp_path / "data", per_class=2, unknown=2)
    lines = []
    training.train(tiny_config(data, tmp_path / "m", class_weighting="balanced"), log=lines.append)
    assert any(line.startswith("class weights (balanced): type rose 1.00 daisy 1.00; colour") for line in lines)
