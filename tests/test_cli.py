"""The train.py entry point: user mistakes are one `error:` line and exit status 2."""

import subprocess
import sys

import pytest

from conftest import ROOT, make_dataset


def train(*args):
    return subprocess.run([sys.executable, str(ROOT / "train.py"), *map(str, args)], capture_output=True, text=True, cwd=ROOT)


def errors(done):
    return [line for line in done.stderr.splitlines() if line.startswith("error: ")]


@pytest.mark.parametrize(
    "args, message",
    [
        (["--data", "/no/such/folder"], "--data must be a folder"),
        (["--data", "{data}", "--split-after", "fire1"], "--split-after must be one of"),
        (["--data", "{data}", "--pretrained", "/no/weights.h5"], "/no/weights.h5: pretrained weights file not found"),
        (["--data", "{data}", "--train", "{data}/train.txt"], "either --data DIR or --train FILE"),
        (["--train", "{data}/missing.txt"], "missing.txt: split file not found"),
    ],
)
def test_user_mistakes_are_one_line_exit_2(tmp_path, args, message):
    data = make_dataset(tmp_path / "data", per_class=1)
    done = train(*[a.format(data=data) for a in args], "--out", tmp_path / "m", "--image-size", "32")
    assert done.returncode == 2, done.stderr
    assert len(errors(done)) == 1 and message in errors(done)[0] and "Traceback" not in done.stderr


def test_train_then_rerun_resumes(tmp_path):
    data = make_dataset(tmp_path / "data", per_class=1)
    args = ["--data", data, "--out", tmp_path / "m", "--image-size", "32", "--epochs", "1", "--batch-size", "4"]
    first = train(*args)
    assert first.returncode == 0, first.stderr
    assert "all tasks right:" in first.stdout  # the test split was evaluated at the end
    second = train(*args)
    assert second.returncode == 0 and "nothing to do" in second.stdout
