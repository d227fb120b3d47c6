import numpy as np
import pytest
import tensorflow as tf

from conftest import make_spec
from flowers_mtl.architecture import SPLIT_POINTS, parse_name
from flowers_mtl.model.layer import MultiTaskSqueezeNet, build_model, preprocess

TASKS = {"type": 5, "colour": 6}


def count(variables):
    return sum(int(np.prod(v.shape)) for v in variables)


@pytest.fixture(scope="module")
def built():
    model = build_model(make_spec(TASKS, 227))
    logits, end_points = model(tf.zeros([2, 227, 227, 3]), with_end_points=True)
    return model, logits, end_points


def test_both_heads_output_logits_per_class(built):
    _, logits, _ = built
    assert {task: tuple(value.shape) for task, value in logits.items()} == {"type": (2, 5), "colour": (2, 6)}


def test_caffe_ceil_pooling_sizes_at_227(built):
    _, _, end_points = built
    sizes = {name: end_points[name].shape[1] for name in ("conv1", "pool1", "pool3", "pool5", "fire8", "type/fire9")}
    assert sizes == {"conv1": 113, "pool1": 56, "pool3": 28, "pool5": 14, "fire8": 14, "type/fire9": 14}
    assert end_points["fire8"].shape[-1] == 512


def test_trunk_has_squeezenet_v11_parameter_count(built):
    model, _, _ = built
    trunk = [v for v in model.trainable_variables if not v.name.startswith(("squeezenet/type/", "squeezenet/colour/"))]
    assert count(trunk) == 525_312
    head_fire9 = 32_832 + 16_640 + 147_712
    for task, classes in TASKS.items():
        head = [v for v in model.trainable_variables if v.name.startswith(f"squeezenet/{task}/")]
        assert count(head) == head_fire9 + 512 * classes + classes


def test_variable_names_follow_caffe_layers_with_heads_under_task(built):
    model, _, _ = built
    names = {v.name.split(":")[0] for v in model.variables}
    assert "squeezenet/conv1/weights" in names
    assert "squeezenet/fire2/squeeze1x1/weights" in names
    assert "squeezenet/fire8/expand3x3/biases" in names
    assert "squeezenet/type/fire9/expand1x1/weights" in names
    assert "squeezenet/colour/conv10/weights" in names
    assert not any(name.startswith("squeezenet/fire9") for name in names)
    assert len(names) == 2 + 7 * 6 + 2 * (6 + 2)


def test_variables_are_made_once_and_reused(built):
    model, _, _ = built
    before = len(model.variables)
    model(tf.zeros([1, 64, 64, 3]), training=True)
    assert len(model.variables) == before


@pytest.mark.parametrize("split_after", ["fire5", "fire9"])
def test_split_point_moves_layers_into_heads(split_after):
    model = build_model(make_spec({"a": 2, "b": 3}, split_after=split_after))
    names = {v.name for v in model.variables}
    assert any(name.startswith("squeezenet/a/fire6/") for name in names) == (split_after == "fire5")
    assert any(name.startswith("squeezenet/fire9/") for name in names) == (split_after == "fire9")


def test_bad_split_point_is_rejected():
    with pytest.raises(ValueError, match="split_after must be one of " + ", ".join(SPLIT_POINTS)):
        MultiTaskSqueezeNet(make_spec(TASKS, split_after="fire1"))


def test_preprocess_is_bgr_minus_caffe_mean():
    pixel = tf.constant([[[[10.0, 20.0, 30.0]]]])
    np.testing.assert_allclose(preprocess(pixel).numpy()[0, 0, 0], [30 - 104, 20 - 117, 10 - 123])


def test_fresh_network_starts_with_small_logits():
    """From scratch, the loss should start near log(classes), not explode (the input is unscaled
    Caffe pixels, std ~58). Over ten initialisations the logit spread stays small; plain He init
    of conv1 gives ~20."""
    images = tf.random.stateless_uniform([4, 96, 96, 3], seed=[1, 2], maxval=255.0)
    spreads = []
    for seed in range(10):
        tf.random.set_seed(seed)
        spreads.append(float(tf.math.reduce_std(build_model(make_spec(TASKS, 96))(images)["type"])))
    assert np.median(spreads) < 1.0 and max(spreads) < 5.0, spreads


def test_weight_decay_adds_regularization_losses():
    model = build_model(make_spec({"a": 2}), weight_decay=1e-3)
    assert float(model.regularization_loss()) > 0
    assert float(build_model(make_spec({"a": 2})).regularization_loss()) == 0


def test_flip_tta_answers_the_same_for_a_photo_and_its_mirror(built):
    from flowers_mtl.model.layer import probability_fn

    model = built[0]
    size = model.spec.image_size
    images = tf.random.stateless_uniform([2, size, size, 3], seed=[1, 2], maxval=255.0)
    mirrored = tf.reverse(images, axis=[2])
    plain, tta = probability_fn(model), probability_fn(model, flip_tta=True)
    for task in ("type", "colour"):
        np.testing.assert_allclose(tta(images)[task], tta(mirrored)[task], atol=1e-6)
        expected = (plain(images)[task] + plain(mirrored)[task]) / 2
        np.testing.assert_allclose(tta(images)[task], expected, atol=1e-6)
        assert not np.allclose(plain(images)[task], plain(mirrored)[task], atol=1e-6)


def test_soft_sharing_builds_one_tower_per_task():
    model = build_model(make_spec(TASKS, sharing="soft"))
    logits = model(tf.zeros([2, 64, 64, 3]))
    assert {task: tuple(value.shape) for task, value in logits.items()} == {"type": (2, 5), "colour": (2, 6)}
    names = {v.name.split(":")[0] for v in model.variables}
    assert "squeezenet/type/conv1/weights" in names and "squeezenet/colour/fire8/expand3x3/weights" in names
    assert not any(name.startswith("squeezenet/conv1") for name in names)  # nothing shared
    assert count(model.trunk_variables()) == 2 * 525_312
    tower = model.task_variables("type")
    assert all(v.name.startswith("squeezenet/type/") for v in tower)
    assert count(tower) == 525_312 + count(model.head_variables("type"))
    assert len(model.soft_sharing_pairs()) == 2 * (1 + 7 * 3)


def test_single_task_network_has_one_head():
    model = build_model(make_spec({"colour": 6}))
    logits = model(tf.zeros([1, 64, 64, 3]))
    assert list(logits) == ["colour"] and tuple(logits["colour"].shape) == (1, 6)
    assert count(model.trunk_variables()) == 525_312


@pytest.mark.parametrize(
    "name, parsed",
    [
        ("squeezenet/conv1/weights:0", (None, "conv1", "weights")),
        ("squeezenet/fire4/expand3x3/biases:0", (None, "fire4/expand3x3", "biases")),
        ("squeezenet/type/fire9/squeeze1x1/weights:0", ("type", "fire9/squeeze1x1", "weights")),
        ("multi_task_squeeze_net/squeezenet/colour/conv10/Conv2D", ("colour", "conv10", "Conv2D")),
    ],
)
def test_one_parser_reads_variable_and_op_names(name, parsed):
    assert tuple(parse_name(name, ("type", "colour"))) == parsed


def test_every_variable_parses_to_a_layer_of_the_table(built):
    from flowers_mtl.architecture import CLASSIFIER, CONV1, LAYERS

    model = built[0]
    layers = {CONV1.name, CLASSIFIER} | {layer.name for layer in LAYERS}
    names = [model.parsed(v) for v in model.variables]
    assert all(name.layer in layers and name.kind in ("weights", "biases") for name in names)
    assert {name.task for name in names if name.layer in ("fire9", "conv10")} == {"type", "colour"}
    assert all(name.task is None for name in names if name.layer not in ("fire9", "conv10"))
