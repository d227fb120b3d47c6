"""tools/levers.py: its accuracy rule, and a run over two copies of one model (an ensemble of a
model with itself scores as the model)."""

import shutil

import numpy as np
import pytest

from tools import levers


def test_accuracy_counts_known_labels_per_task_and_both_on_fully_known_photos():
    probs = {"type": np.array([[0.9, 0.1], [0.2, 0.8], [0.6, 0.4]]),
             "colour": np.array([[0.1, 0.9], [0.7, 0.3], [0.5, 0.5]])}
    labels = np.array([[0, 1], [0, -1], [0, 0]])
    scores = levers.accuracy(probs, labels, ("type", "colour"))
    assert scores["type"] == pytest.approx(2 / 3)
    assert scores["colour"] == pytest.approx(1.0)  # rows 0 and 2 (argmax of a tie is the first class)
    assert scores["both"] == pytest.approx(1.0)  # rows 0 and 2: row 1 has an unknown colour


@pytest.mark.slow
def test_a_run_prints_every_lever_and_an_ensemble_of_copies_scores_as_one(trained_model, tmp_path, capsys):
    copy = tmp_path / "copy"
    shutil.copytree(trained_model, copy)
    data = trained_model.parent / "data"
    assert levers.main(["--models", str(trained_model), str(copy), "--data", str(data), "--sizes", "32,40",
                        "--crops", "40"]) == 0
    cells = [line.strip("| ").split(" | ") for line in capsys.readouterr().out.splitlines()
             if line.startswith(("| one", "| ensemble"))]
    rows = {row[0]: [cell.split(" +- ")[0] for cell in row[2:]] for row in cells}  # the means
    assert len(rows) == 12 and all(len(means) == 6 for means in rows.values())
    for name in ("32px", "32px + flip", "40px", "40px + flip", "centre 32px of 40px"):
        assert rows[f"one model, {name}"] == rows[f"ensemble of 2, {name}"]


def test_a_centre_view_crops_the_middle_of_the_larger_photo():
    images = np.arange(2 * 6 * 6 * 3).reshape(2, 6, 6, 3)
    view = levers.View(load=6, run=4)
    np.testing.assert_array_equal(view.crop(images), images[:, 1:5, 1:5, :])
    assert view.name == "centre 4px of 6px" and levers.View(4, 4).name == "4px"
    np.testing.assert_array_equal(levers.View(4, 4).crop(images[:, :4, :4]), images[:, :4, :4])
