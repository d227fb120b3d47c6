"""Exports of a tiny trained model: each format round-trips (named outputs, class names inside,
parity with the checkpoint), and predict/evaluate take every kind. The conversions take seconds
each, so the round trips are in the slow tier; the manifest and kind checks are quick."""

import json
import subprocess
import sys

import numpy as np
import pytest

from conftest import ROOT, make_spec
from flowers_mtl import signature
from flowers_mtl.errors import UserInputError
from flowers_mtl.inference import model_kind

TASKS = ("type", "colour")


def test_the_manifest_round_trips_and_bad_ones_are_one_line():
    spec = make_spec({"type": 2, "colour": 3}, image_size=48)
    manifest = signature.Manifest(spec, spec.classes, "tflite", "int8", "somewhere/best/model")
    assert signature.Manifest.loads(manifest.dumps(), "x") == manifest
    with pytest.raises(UserInputError, match="x: the export's manifest is not valid JSON"):
        signature.Manifest.loads("{", "x")
    with pytest.raises(UserInputError, match="no model spec with class names"):
        signature.Manifest.loads(json.dumps({"spec": {"image_size": 48}}), "x")


def test_model_kind_by_what_is_on_disk(tmp_path):
    with pytest.raises(UserInputError, match="no such model"):
        model_kind(tmp_path / "absent")
    (tmp_path / "junk.tflite").write_text("not a flatbuffer")
    with pytest.raises(UserInputError, match="not a model"):
        model_kind(tmp_path / "junk.tflite")
    (tmp_path / "base" / "3").mkdir(parents=True)
    (tmp_path / "base" / "3" / "saved_model.pb").write_bytes(b"")
    assert model_kind(tmp_path / "base") == "savedmodel"
    assert signature.savedmodel_dir(tmp_path / "base") == tmp_path / "base" / "3"
    assert model_kind(tmp_path) == "folder"


def photos_of(trained_model) -> list[str]:
    from flowers_mtl.config import TrainConfig
    from flowers_mtl.data.splits import load_classes, read_split

    config = TrainConfig.load(trained_model)
    return list(read_split(config.test, load_classes(config.classes)).paths[:6])


def pixels_of(paths, predictor) -> np.ndarray:
    from flowers_mtl.data import images

    return np.stack([images.load_rgb(p, predictor.image_size, predictor.spec.preprocessing) for p in paths])


@pytest.mark.slow
def test_savedmodel_signatures_name_outputs_and_agree_with_the_checkpoint(trained_model, exported):
    from flowers_mtl.export.bundle import export_path
    from flowers_mtl.inference import load_predictor

    checkpoint, saved = load_predictor(trained_model), load_predictor(exported / "savedmodel")
    assert saved.manifest.spec == checkpoint.spec and saved.all_classes == checkpoint.all_classes
    paths = photos_of(trained_model)
    pixels = pixels_of(paths, checkpoint)
    by_pixels = saved.outputs(signature.PIXELS_SIGNATURE, images=pixels)
    by_bytes = saved.outputs(signature.BYTES_SIGNATURE,
                             image_bytes=np.array([open(p, "rb").read() for p in paths], dtype=object))
    expected = {f"{task}_{kind}" for task in TASKS for kind in ("probs", "label")}
    assert set(by_pixels) == set(by_bytes) == expected
    reference = checkpoint.probabilities(pixels.astype(np.float32))
    for task in TASKS:
        names = checkpoint.classes.by_task[task]
        np.testing.assert_allclose(by_pixels[f"{task}_probs"], reference[task], atol=1e-5)
        assert list(by_pixels[f"{task}_label"]) == [names[i] for i in reference[task].argmax(1)]
        np.testing.assert_allclose(by_bytes[f"{task}_probs"], by_pixels[f"{task}_probs"], atol=2e-2)
    assert (export_path(exported, "savedmodel") / "assets" / signature.MANIFEST_NAME).is_file()


@pytest.mark.slow
@pytest.mark.parametrize("quantize, atol", [("none", 1e-4), ("float16", 2e-2), ("dynamic", 0.1), ("int8", 0.35)])
def test_tflite_outputs_are_read_by_name_and_follow_the_checkpoint(trained_model, exported, quantize, atol):
    from flowers_mtl.export.bundle import export_path
    from flowers_mtl.inference import load_predictor

    checkpoint, lite = load_predictor(trained_model), load_predictor(export_path(exported, "tflite", quantize))
    assert lite.manifest.quantize == quantize and lite.classes == checkpoint.classes
    assert set(lite.output_details) == {f"{task}_{kind}" for task in TASKS for kind in ("probs", "label")}
    if quantize == "int8":
        assert lite.input["dtype"] == np.uint8 and lite.output_details["type_probs"]["dtype"] == np.uint8
    pixels = pixels_of(photos_of(trained_model), checkpoint)
    mine, reference = lite.probabilities(pixels), checkpoint.probabilities(pixels.astype(np.float32))
    raw = lite.runner(images=pixels.astype(lite.input["dtype"]))
    for task in TASKS:
        assert mine[task].shape == reference[task].shape
        np.testing.assert_allclose(mine[task].sum(axis=1), 1.0, atol=0.05)
        np.testing.assert_allclose(mine[task], reference[task], atol=atol)
        assert np.array_equal(raw[f"{task}_label"], mine[task].argmax(1)) or quantize != "none"


@pytest.mark.slow
def test_evaluate_takes_every_kind_and_writes_beside_the_export(trained_model, exported, capsys):
    from flowers_mtl.cli import evaluate
    from flowers_mtl.config import TrainConfig

    split = TrainConfig.load(trained_model).test
    accuracies = {}
    for model in (trained_model, exported / "savedmodel", exported / "model-float32.tflite"):
        assert evaluate.main(["--model", str(model), "--split", split, "--json"]) == 0
        report = json.loads(capsys.readouterr().out)
        accuracies[report["model_kind"]] = (report["type"]["accuracy"], report["colour"]["accuracy"])
    assert set(accuracies) == {"checkpoint", "savedmodel", "tflite float32"}
    assert len(set(accuracies.values())) == 1
    assert (exported / "model-float32-evaluation" / "test.json").is_file()
    assert not (exported / "savedmodel" / "evaluation").exists()


@pytest.mark.subprocess
def test_predict_with_a_tflite_model_never_imports_tensorflow(trained_model, exported):
    photo = photos_of(trained_model)[0]
    code = ("import sys; from flowers_mtl.cli import predict; "
            f"code = predict.main(['--model', {str(exported / 'model-int8.tflite')!r}, '--json', {photo!r}]); "
            "print('tensorflow' in sys.modules, code)")
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=ROOT, timeout=120)
    answer, last = done.stdout.strip().splitlines()
    assert last == "False 0", done.stderr
    assert set(json.loads(answer)) == {"path", "type", "colour"}
    assert "XNNPACK" not in done.stderr


@pytest.mark.slow
def test_export_mistakes_are_one_line(trained_model, tmp_path, capsys):
    from flowers_mtl.cli import export
    from flowers_mtl.cli.common import run

    assert run(export.main, ["--model", str(trained_model), "--format", "savedmodel", "--quantize", "int8"]) == 2
    assert "--quantize applies to TFLite" in capsys.readouterr().err
    (tmp_path / "file").write_text("")
    assert run(export.main, ["--model", str(trained_model), "--out", str(tmp_path / "file")]) == 2
    assert "exists and is not a folder" in capsys.readouterr().err
    assert run(export.main, ["--model", str(tmp_path / "absent"), "--out", str(tmp_path / "o")]) == 2
    assert "not a model folder" in capsys.readouterr().err


@pytest.mark.slow
def test_without_litert_tensorflows_interpreter_gives_the_same_answers(trained_model, exported, monkeypatch):
    from flowers_mtl.inference import load_predictor

    path = exported / "model-float16.tflite"
    light = load_predictor(path)
    monkeypatch.setitem(sys.modules, "ai_edge_litert", None)  # import fails: the fallback runs
    monkeypatch.setitem(sys.modules, "ai_edge_litert.interpreter", None)
    fallback = load_predictor(path)
    assert type(fallback.runner).__module__.startswith("tensorflow")
    pixels = pixels_of(photos_of(trained_model), light)
    for task, value in light.probabilities(pixels).items():
        np.testing.assert_allclose(fallback.probabilities(pixels)[task], value, atol=1e-5)
