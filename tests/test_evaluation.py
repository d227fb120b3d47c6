import json
import subprocess
import sys

import numpy as np
import pytest

from conftest import ROOT, TINY_CLASSES
from flowers_mtl.eval import metrics as evaluation
from flowers_mtl.eval import report as reports
from flowers_mtl.spec import ClassNames

CLASSES = ClassNames({task: tuple(names) for task, names in TINY_CLASSES.items()})


def one_hot(ids, n):
    out = np.full((len(ids), n), 0.01)
    out[np.arange(len(ids)), ids] = 0.98
    return out


def test_report_figures_on_known_predictions():
    labels = np.array([[0, 0], [0, 1], [1, 2], [1, -1]])
    probs = {"type": one_hot([0, 1, 1, 1], 2), "colour": one_hot([0, 1, 0, 2], 3)}
    report = evaluation.evaluate(probs, labels, CLASSES, n_listed=5)
    assert report["n"] == 5 and report["n_scored"] == 4 and report["skipped_undecodable"] == 1
    assert report["type"]["accuracy"] == 0.75 and report["type"]["n"] == 4
    assert report["colour"]["skipped_unknown"] == 1 and report["colour"]["n"] == 3
    assert report["colour"]["accuracy"] == pytest.approx(2 / 3)
    assert report["colour"]["confusion_matrix"] == [[1, 0, 0], [0, 1, 0], [1, 0, 0]]
    assert report["type"]["per_class"]["rose"] == {"precision": 1.0, "recall": 0.5, "f1": pytest.approx(2 / 3), "support": 2}
    # both right: row 0 only, among the three rows with every label known
    assert report["both_correct"] == pytest.approx(1 / 3) and report["both_n"] == 3
    json.dumps(report)  # JSON-ready


def test_confident_mistakes_surest_first_with_path_and_line():
    labels = np.array([[0, 0], [0, 1], [1, 2], [1, -1], [0, 0]])
    type_probs = np.array([[0.9, 0.1], [0.3, 0.7], [0.6, 0.4], [0.1, 0.9], [0.05, 0.95]])
    colour_probs = one_hot([1, 1, 2, 0, 0], 3)
    photos = [(f"img/{i}.jpg", i + 2) for i in range(5)]
    report = evaluation.evaluate({"type": type_probs, "colour": colour_probs}, labels, CLASSES, 5, photos)
    mistakes = report["type"]["confident_mistakes"]
    assert [(m["path"], m["line"], m["true"], m["predicted"]) for m in mistakes] == [
        ("img/4.jpg", 6, "rose", "daisy"),
        ("img/1.jpg", 3, "rose", "daisy"),
        ("img/2.jpg", 4, "daisy", "rose"),
    ]
    assert mistakes[0]["confidence"] == 0.95
    # the unknown colour of row 3 is never a mistake
    assert [m["path"] for m in report["colour"]["confident_mistakes"]] == ["img/0.jpg"]
    text = reports.format_report(report, CLASSES)
    assert "0.950 daisy (labelled rose)  line 6: img/4.jpg" in text


def test_at_most_ten_mistakes_are_listed():
    labels = np.zeros((30, 2), dtype=int)
    probs = {"type": one_hot([1] * 30, 2), "colour": one_hot([1] * 30, 3)}
    report = evaluation.evaluate(probs, labels, CLASSES, 30, [(f"{i}.jpg", i) for i in range(30)])
    assert len(report["type"]["confident_mistakes"]) == 10


def test_loss_and_accuracy_skip_unknown():
    labels = np.array([[0, -1], [1, -1]])
    scores = evaluation.loss_and_accuracy({"type": one_hot([0, 0], 2), "colour": one_hot([0, 0], 3)}, labels, CLASSES.tasks)
    assert scores["type"]["accuracy"] == 0.5 and scores["colour"]["n"] == 0


def test_text_report_and_pngs(tmp_path):
    labels = np.array([[0, 0], [1, 2]])
    report = evaluation.evaluate({"type": one_hot([0, 1], 2), "colour": one_hot([0, 2], 3)}, labels, CLASSES, 2)
    written = reports.write_report(report, CLASSES, tmp_path, "test")
    names = sorted(p.name for p in written)
    assert names == ["test.json", "test.txt", "test_colour_confusion.png", "test_type_confusion.png"]
    assert "type: accuracy 1.0000" in (tmp_path / "test.txt").read_text()
    assert (tmp_path / "test_type_confusion.png").read_bytes()[:4] == b"\x89PNG"


def run(script, *args):
    return subprocess.run([sys.executable, str(ROOT / script), *map(str, args)], capture_output=True, text=True, cwd=ROOT)


@pytest.mark.subprocess
def test_evaluate_cli_json(trained_model):
    split = trained_model.parent / "data" / "test.txt"
    done = run("evaluate.py", "--model", trained_model, "--split", split, "--json")
    assert done.returncode == 0, done.stderr
    report = json.loads(done.stdout)
    assert report["n"] == 14
    for task in ("type", "colour"):
        assert set(report[task]) >= {"accuracy", "macro_f1", "per_class", "confusion_matrix"}
    assert report["colour"]["skipped_unknown"] == 2
    labelled = [line.split(", ") for line in split.read_text().splitlines()]
    assert report["both_n"] == sum(colour != "-1" for _, _, colour in labelled) == 12
    assert (trained_model / "evaluation" / "test_type_confusion.png").is_file()
    for mistake in report["type"]["confident_mistakes"]:
        assert (split.parent / mistake["path"]).is_file() or mistake["path"].startswith(str(split.parent))


@pytest.mark.subprocess
def test_evaluate_cli_flip_tta(trained_model):
    split = trained_model.parent / "data" / "test.txt"
    done = run("evaluate.py", "--model", trained_model, "--split", split, "--json", "--flip-tta")
    assert done.returncode == 0, done.stderr
    report = json.loads(done.stdout)
    assert report["flip_tta"] is True and report["n_scored"] == 14
    assert (trained_model / "evaluation" / "test-flip-tta.json").is_file()  # beside, not over, the plain report


@pytest.mark.subprocess
def test_evaluate_cli_errors_are_one_line(trained_model, tmp_path):
    done = run("evaluate.py", "--model", tmp_path, "--split", trained_model.parent / "data" / "test.txt")
    assert done.returncode == 2
    assert done.stderr.strip().splitlines()[-1].startswith("error: ") and "not a model folder" in done.stderr
    assert sum(line.startswith("error: ") for line in done.stderr.splitlines()) == 1
    assert "Traceback" not in done.stderr
    bad = tmp_path / "bad.txt"
    bad.write_text("x.png, 0\n")
    done = run("evaluate.py", "--model", trained_model, "--split", bad)
    assert done.returncode == 2 and "bad.txt:1: expected 3" in done.stderr and "Traceback" not in done.stderr


def test_a_report_that_cannot_be_saved_is_printed_then_warned(trained_model, capsys, monkeypatch):
    from flowers_mtl.cli import evaluate
    from flowers_mtl.config import TrainConfig
    from flowers_mtl.eval import report as reports

    def read_only(*args, **kwargs):
        raise PermissionError(13, "Permission denied")

    monkeypatch.setattr(reports, "write_report", read_only)
    assert evaluate.main(["--model", str(trained_model), "--split", TrainConfig.load(trained_model).test]) == 0
    captured = capsys.readouterr()
    assert "type" in captured.out and "accuracy" in captured.out
    assert captured.err.startswith("warning: the report could not be saved in") and "Permission denied" in captured.err
