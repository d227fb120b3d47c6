"""Test-time levers: an ensemble averages its members' probabilities, refuses members that do not
fit together, and evaluates and predicts through the usual commands (several --model); a model
folder runs at another input size (--image-size)."""

import json
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pytest

from conftest import make_spec
from flowers_mtl.errors import UserInputError
from flowers_mtl.inference.ensemble import Ensemble
from flowers_mtl.spec import Preprocessing

SPEC = make_spec({"type": 2, "colour": 3}, 32)


@dataclass
class Fixed:
    """A member whose answer is fixed: what the ensemble does with answers, apart from any network."""

    answer: dict
    source: str = "m"
    spec: object = SPEC
    image_size: int = 32
    flip_tta: bool = False
    kind: str = "checkpoint"
    report_dir: Path = Path("m/evaluation")
    classes: object = field(default_factory=lambda: SPEC.classes)

    @property
    def all_classes(self):
        return self.classes

    def probabilities(self, images):
        return {task: np.repeat(value[np.newaxis], len(images), axis=0) for task, value in self.answer.items()}


def test_members_answers_are_averaged_task_by_task():
    a = Fixed({"type": np.array([0.9, 0.1]), "colour": np.array([0.2, 0.2, 0.6])}, source="a")
    b = Fixed({"type": np.array([0.3, 0.7]), "colour": np.array([0.6, 0.4, 0.0])}, source="b")
    ensemble = Ensemble([a, b])
    answer = ensemble.probabilities(np.zeros((3, 32, 32, 3), np.float32))
    np.testing.assert_allclose(answer["type"], [[0.6, 0.4]] * 3)
    np.testing.assert_allclose(answer["colour"], [[0.4, 0.3, 0.3]] * 3)
    assert ensemble.source == "a + b" and ensemble.kind == "ensemble of 2: checkpoint, checkpoint"
    assert ensemble.report_dir == Path("m/evaluation/ensemble-of-2") and ensemble.classes == SPEC.classes


def test_members_that_do_not_fit_together_are_one_line():
    a = Fixed({}, source="a")
    with pytest.raises(UserInputError, match="b: answers other classes than a"):
        Ensemble([a, Fixed({}, source="b", classes=make_spec({"type": 3}).classes)])
    with pytest.raises(UserInputError, match="b: takes 64 px photos made another way than a"):
        Ensemble([a, Fixed({}, source="b", image_size=64)])
    other_contract = make_spec({"type": 2, "colour": 3}, 32, preprocessing=Preprocessing(resize="center_crop"))
    with pytest.raises(UserInputError, match="made another way"):
        Ensemble([a, Fixed({}, source="b", spec=other_contract)])


@pytest.mark.slow
def test_evaluate_and_predict_take_several_models(trained_model, tmp_path, capsys):
    """The same model twice is that model: the same accuracy and the same answers."""
    from flowers_mtl.cli import evaluate, predict

    config = json.loads((trained_model / "config.json").read_text())
    test = config["test"]
    assert evaluate.main(["--model", str(trained_model), "--split", test, "--json"]) == 0
    alone = json.loads(capsys.readouterr().out.splitlines()[-1])
    assert evaluate.main(["--model", str(trained_model), "--model", str(trained_model), "--split", test, "--json"]) == 0
    twice = json.loads(capsys.readouterr().out.splitlines()[-1])
    assert twice["model_kind"].startswith("ensemble of 2")
    for task in ("type", "colour"):
        assert twice[task]["accuracy"] == alone[task]["accuracy"]
    assert (trained_model / "evaluation" / "ensemble-of-2").is_dir()
    photo = Path(test).parent / "img" / "0_red_0.png"
    answers = []
    for models in ([trained_model], [trained_model, trained_model]):
        assert predict.main([arg for m in models for arg in ("--model", str(m))] + ["--json", str(photo)]) == 0
        answers.append(json.loads(capsys.readouterr().out.splitlines()[-1]))
    assert answers[0] == answers[1]


@pytest.mark.slow
def test_a_model_folder_runs_at_another_input_size(trained_model, tmp_path, capsys):
    from flowers_mtl.cli import evaluate
    from flowers_mtl.inference import load_predictor
    from flowers_mtl.model.store import load_trained

    own, larger = load_trained(trained_model), load_trained(trained_model, image_size=48)
    assert larger.image_size == 48 and own.image_size == 32
    images = np.random.default_rng(0).uniform(0, 255, (2, 48, 48, 3)).astype(np.float32)
    answer = larger.probabilities(images)
    assert answer["type"].shape == (2, 2) and np.allclose(answer["colour"].sum(axis=1), 1, atol=1e-5)
    for a, b in zip(own.model.variables, larger.model.variables):  # the same weights
        np.testing.assert_array_equal(a.numpy(), b.numpy())
    test = json.loads((trained_model / "config.json").read_text())["test"]
    assert evaluate.main(["--model", str(trained_model), "--split", test, "--json"]) == 0
    plain = json.loads(capsys.readouterr().out.splitlines()[-1])
    assert evaluate.main(["--model", str(trained_model), "--split", test, "--json", "--image-size", "32"]) == 0
    same = json.loads(capsys.readouterr().out.splitlines()[-1])
    assert [same[t]["accuracy"] for t in ("type", "colour")] == [plain[t]["accuracy"] for t in ("type", "colour")]
    assert (trained_model / "evaluation" / "test-32px.json").is_file()
    with pytest.raises(UserInputError, match="--image-size must be at least 32"):
        load_trained(trained_model, image_size=16)
    exported = tmp_path / "model.tflite"  # judged a .tflite by its header, refused before it is read
    exported.write_bytes(b"\0\0\0\0TFL3" + bytes(16))
    with pytest.raises(UserInputError, match="--image-size needs a model folder"):
        load_predictor(exported, image_size=48)
