import json
import subprocess
import sys

import pytest

from conftest import ROOT, make_dataset
from flowers_mtl.errors import UserInputError
from tools import compare


def result(type_acc=None, colour_acc=None, params=100, ms=1.0):
    tasks = {}
    if type_acc is not None:
        tasks["type"] = {"accuracy": type_acc, "macro_f1": type_acc / 2, "n": 10}
    if colour_acc is not None:
        tasks["colour"] = {"accuracy": colour_acc, "macro_f1": colour_acc / 2, "n": 10}
    return {"tasks": tasks, "params": params, "macs_per_image": 10 * params, "infer_ms_per_image": ms, "train_seconds": 5.0}


def test_summary_gives_mean_and_spread_and_adds_up_separate_models():
    runs = {
        "joint": [result(0.8, 0.6), result(0.9, 0.7)],
        "type-only": [result(type_acc=0.85, params=70, ms=0.7)],
        "colour-only": [result(colour_acc=0.75, params=71, ms=0.8)],
    }
    rows = compare.summarise(runs, ("type", "colour"))
    assert rows["joint"]["type"]["accuracy"]["mean"] == pytest.approx(0.85)
    assert rows["joint"]["type"]["accuracy"]["std"] == pytest.approx(0.0707, abs=1e-4)
    separate = rows["separate (type-only + colour-only)"]
    assert separate["type"]["accuracy"]["mean"] == 0.85 and separate["colour"]["accuracy"]["mean"] == 0.75
    assert separate["params"]["mean"] == 141 and separate["infer_ms_per_image"]["mean"] == pytest.approx(1.5)
    table = compare.markdown(rows, ("type", "colour"), seeds=2)
    assert "| joint | 0.850 ± 0.071 |" in table and "| type-only | 0.850 ± 0.000 | 0.425 ± 0.000 | - | - |" in table


def run(*args):
    return subprocess.run([sys.executable, str(ROOT / "compare.py"), *map(str, args)], capture_output=True, text=True, cwd=ROOT)


@pytest.mark.subprocess
@pytest.mark.slow
def test_cli_writes_tables_and_reuses_finished_runs(tmp_path):
    data = make_dataset(tmp_path / "data", per_class=1)
    args = ["--data", data, "--out", tmp_path / "cmp", "--configs", "joint,type-only", "--epochs", "1",
            "--image-size", "32", "--batch-size", "8"]
    done = run(*args)
    assert done.returncode == 0, done.stderr
    saved = json.loads((tmp_path / "cmp" / "comparison.json").read_text())
    assert set(saved["rows"]) == {"joint", "type-only"}
    assert saved["rows"]["joint"]["params"]["mean"] > saved["rows"]["type-only"]["params"]["mean"]
    assert (tmp_path / "cmp" / "comparison.md").read_text().startswith("| configuration |")
    results = sorted((tmp_path / "cmp").glob("*/seed-0/compare_result.json"))
    assert len(results) == 2
    stamps = [p.stat().st_mtime_ns for p in results]
    again = run(*args)
    assert again.returncode == 0, again.stderr
    assert [p.stat().st_mtime_ns for p in results] == stamps  # nothing retrained: the cached results stand


@pytest.mark.subprocess
def test_unknown_configuration_is_a_user_error(tmp_path):
    data = make_dataset(tmp_path / "data", per_class=1)
    done = run("--data", data, "--configs", "joint,bogus")
    assert done.returncode == 2 and "unknown configuration bogus" in done.stderr and "Traceback" not in done.stderr


def test_a_recipe_sets_the_budget_and_flags_override_it(tmp_path, monkeypatch):
    data = make_dataset(tmp_path / "data", per_class=1)
    recipe = tmp_path / "budget.json"
    recipe.write_text(json.dumps({"image_size": 48, "epochs": 2}))
    seen = []
    monkeypatch.setattr(compare, "run_one", lambda config, test: seen.append(config) or result(0.5, 0.5))
    assert compare.main(["--data", str(data), "--configs", "joint", "--config", str(recipe), "--epochs", "3",
                         "--out", str(tmp_path / "cmp")]) == 0
    (config,) = seen
    assert (config.model.image_size, config.epochs, config.seed) == (48, 3, 0)
    recipe.write_text(json.dumps({"epochz": 2}))
    with pytest.raises(UserInputError, match="unknown settings epochz"):
        compare.main(["--data", str(data), "--configs", "joint", "--config", str(recipe)])
