import json
import subprocess
import sys

import numpy as np
import pytest

from conftest import ROOT, TINY_CLASSES
from flowers_mtl.errors import UserInputError
from flowers_mtl.eval.prediction import predict_paths
from flowers_mtl.model import store


def run(*args):
    return subprocess.run([sys.executable, str(ROOT / "predict.py"), *map(str, args)], capture_output=True, text=True, cwd=ROOT)


def test_predictions_are_class_names_with_probabilities(trained_model):
    trained = store.load_trained(trained_model)
    image = trained_model.parent / "data" / "img" / "0_red_0.png"
    (prediction,) = predict_paths(trained, [str(image)], top_k=3)
    assert [name for name, _ in prediction.top["type"]] in (["rose", "daisy"], ["daisy", "rose"])
    assert len(prediction.top["colour"]) == 3
    probs = [p for _, p in prediction.top["colour"]]
    assert probs == sorted(probs, reverse=True) and abs(sum(probs) - 1) < 1e-4


def test_bad_paths_do_not_stop_the_others(trained_model, tmp_path):
    trained = store.load_trained(trained_model)
    good = str(trained_model.parent / "data" / "img" / "1_pink_0.png")
    outcomes = list(predict_paths(trained, [str(tmp_path / "nope.jpg"), good], batch_size=1))
    assert isinstance(outcomes[0], UserInputError) and outcomes[1].path == good


@pytest.mark.subprocess
def test_cli_json_lines_and_exit_code_2_on_bad_path(trained_model, tmp_path):
    text_file = tmp_path / "notes.txt"
    text_file.write_text("hello")
    images = [trained_model.parent / "data" / "img" / name for name in ("0_red_0.png", "1_white_1.png")]
    done = run("--model", trained_model, images[0], tmp_path / "missing.jpg", text_file, images[1], "--json")
    assert done.returncode == 2
    lines = [json.loads(line) for line in done.stdout.splitlines()]
    assert [line["path"] for line in lines] == [str(p) for p in images]
    for line in lines:
        assert line["type"]["label"] in TINY_CLASSES["type"] and 0 <= line["type"]["prob"] <= 1
        assert line["colour"]["label"] in TINY_CLASSES["colour"]
    # TensorFlow's own start-up lines (absl, CUDA probing) may precede ours on stderr.
    errors = [line for line in done.stderr.splitlines() if line.startswith("error: ")]
    assert len(errors) == 2 and "Traceback" not in done.stderr
    assert "missing.jpg: no such file" in errors[0] and "notes.txt: not an image" in errors[1]


@pytest.mark.subprocess
def test_cli_text_top_k(trained_model):
    done = run("--model", trained_model, trained_model.parent / "data" / "img" / "0_pink_0.png", "--top-k", "2")
    assert done.returncode == 0, done.stderr
    assert done.stdout.count("type: ") == 1 and done.stdout.count(", ") >= 2


@pytest.mark.subprocess
def test_cli_model_folder_errors(tmp_path):
    done = run("--model", tmp_path, "x.jpg")
    assert done.returncode == 2 and "not a model folder" in done.stderr and "Traceback" not in done.stderr


def test_same_pixels_as_training_pipeline(trained_model):
    """predict.py and the training/evaluation pipeline must see identical pixels for one file."""
    from flowers_mtl.data import pipeline
    from flowers_mtl.data.images import load_rgb
    from flowers_mtl.data.splits import load_classes, read_split

    data = trained_model.parent / "data"
    spec = store.load_trained(trained_model).spec
    split = read_split(data / "test.txt", load_classes(data / "classes.json"))
    images, *_ = next(iter(pipeline.evaluation_dataset(split, spec, 1)))
    np.testing.assert_array_equal(images.numpy()[0], load_rgb(split.paths[0], 32, spec.preprocessing).astype(np.float32))


def test_folders_and_patterns_name_their_photos(tmp_path):
    from flowers_mtl.data.locate import photo_paths

    (tmp_path / "a" / "deep").mkdir(parents=True)
    for name in ("a/x.jpg", "a/deep/y.PNG", "a/notes.txt", "b.webp"):
        (tmp_path / name).write_bytes(b"")
    (tmp_path / "empty").mkdir()
    paths, errors = photo_paths([str(tmp_path / "a"), str(tmp_path / "*.webp"), str(tmp_path / "nothing*.jpg"),
                                 str(tmp_path / "empty"), str(tmp_path / "plain.jpg")])
    assert paths == [str(tmp_path / "a" / "deep" / "y.PNG"), str(tmp_path / "a" / "x.jpg"), str(tmp_path / "b.webp"),
                     str(tmp_path / "plain.jpg")]
    assert [str(e) for e in errors] == [f"{tmp_path / 'nothing*.jpg'}: a pattern that matches no file",
                                        f"{tmp_path / 'empty'}: a folder with no images in it"]


def test_cli_csv_over_a_folder(trained_model, capsys):
    import csv

    from flowers_mtl.cli import predict
    from flowers_mtl.cli.common import run as run_command

    folder = trained_model.parent / "data" / "img"
    assert run_command(predict.main, ["--model", str(trained_model), "--csv", str(folder), str(folder / "*_red_0.png")]) == 0
    rows = list(csv.DictReader(capsys.readouterr().out.splitlines()))
    photos = sorted(str(p) for p in folder.glob("*.png"))
    assert [row["path"] for row in rows] == photos + sorted(str(p) for p in folder.glob("*_red_0.png"))
    assert set(rows[0]) == {"path", "type", "type_prob", "colour", "colour_prob"}
    assert all(row["type"] in TINY_CLASSES["type"] and 0 <= float(row["colour_prob"]) <= 1 for row in rows)
    assert run_command(predict.main, ["--model", str(trained_model), "--csv", "--top-k", "2", str(folder)]) == 2
    assert "use --json for --top-k" in capsys.readouterr().err
