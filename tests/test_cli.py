"""The entry points: user mistakes are one `error:` line and exit status 2, checked in-process;
one subprocess run of train.py end to end."""

import subprocess
import sys

import pytest

from conftest import ROOT, make_dataset
from flowers_mtl.cli import evaluate, predict
from flowers_mtl.cli import train as train_cli
from flowers_mtl.cli.common import run


def error_lines(text):
    return [line for line in text.splitlines() if line.startswith("error: ")]


@pytest.mark.parametrize(
    "args, message",
    [
        (["--data", "/no/such/folder"], "--data must be a folder"),
        (["--data", "{data}", "--split-after", "fire1"], "--split-after must be one of"),
        (["--data", "{data}", "--pretrained", "/no/weights.h5"], "/no/weights.h5: pretrained weights file not found"),
        (["--data", "{data}", "--train", "{data}/train.txt"], "either --data DIR or --train FILE"),
        (["--train", "{data}/missing.txt"], "missing.txt: split file not found"),
        (["--data", "{data}", "--tasks", "shape"], "--tasks: unknown task shape"),
        (["--config", "{data}/none.json"], "none.json: --config file not found"),
    ],
)
def test_train_user_mistakes_are_one_line_exit_2(tmp_path, capsys, args, message):
    data = make_dataset(tmp_path / "data", per_class=1)
    status = run(train_cli.main, [*[a.format(data=data) for a in args], "--out", str(tmp_path / "m"), "--image-size", "32"])
    err = capsys.readouterr().err
    assert status == 2 and len(error_lines(err)) == 1 and message in error_lines(err)[0], err


@pytest.mark.parametrize(
    "main, args, message",
    [
        (evaluate.main, ["--model", "{tmp}", "--split", "x.txt"], "x.txt: split file not found"),
        (evaluate.main, ["--model", "{tmp}", "--split", "x.txt", "--batch-size", "0"], "--batch-size must be positive"),
        (predict.main, ["--model", "{tmp}", "a.jpg", "--top-k", "0"], "--top-k must be at least 1"),
        (predict.main, ["--model", "{tmp}", "a.jpg"], "not a model folder"),
    ],
)
def test_evaluate_and_predict_user_mistakes(tmp_path, capsys, main, args, message):
    status = run(main, [a.format(tmp=tmp_path) for a in args])
    err = capsys.readouterr().err
    assert status == 2 and len(error_lines(err)) == 1 and message in err, err


def test_a_bad_flag_value_is_argparse_exit_2(capsys):
    with pytest.raises(SystemExit) as stop:
        train_cli.parser().parse_args(["--epochs", "many"])
    assert stop.value.code == 2 and "--epochs: invalid int value: 'many'" in capsys.readouterr().err


@pytest.mark.subprocess
def test_train_then_rerun_resumes(tmp_path):
    data = make_dataset(tmp_path / "data", per_class=1)
    args = ["--data", data, "--out", tmp_path / "m", "--image-size", "32", "--epochs", "1", "--batch-size", "4"]

    def train(*extra):
        return subprocess.run([sys.executable, str(ROOT / "train.py"), *map(str, args), *extra], capture_output=True,
                              text=True, cwd=tmp_path)

    first = train()
    assert first.returncode == 0, first.stderr
    assert "all tasks right:" in first.stdout  # the test split was evaluated at the end
    second = train()
    assert second.returncode == 0 and "nothing to do" in second.stdout
    changed = train("--learning-rate", "0.1")
    assert changed.returncode == 2 and "learning_rate: 0.1 != 0.0003" in error_lines(changed.stderr)[0]
    assert "Traceback" not in changed.stderr


@pytest.mark.subprocess
def test_a_normal_run_prints_no_tensorflow_start_up_lines(trained_model, tmp_path):
    """TensorFlow's C++ start-up lines (I0000 cudart_stub, E0000 cuInit, the absl notice) are
    dropped; the command's own error lines still come through, in order."""
    photo = next((trained_model.parent / "data" / "img").glob("*.png"))
    done = subprocess.run([sys.executable, str(ROOT / "predict.py"), "--model", str(trained_model), str(photo),
                           str(tmp_path / "missing.jpg")], capture_output=True, text=True, cwd=ROOT, timeout=300)
    assert done.returncode == 2
    assert done.stderr.splitlines() == [f"error: {tmp_path / 'missing.jpg'}: no such file"]
    assert done.stdout.startswith(str(photo))


def test_native_noise_is_matched_and_nothing_else():
    from flowers_mtl.cli.common import NATIVE_NOISE

    noise = [
        "WARNING: All log messages before absl::InitializeLog() is called are written to STDERR",
        "I0000 00:00:1795540911.312057    8973 cudart_stub.cc:31] Could not find cuda drivers on your machine.",
        "E0000 00:00:1795540916.763800    8973 cuda_platform.cc:52] failed call to cuInit: INTERNAL: CUDA error",
    ]
    kept = ["error: photo.jpg: no such file", "E0000 00:00:1795540916.763800    8973 op_kernel.cc:1] a real failure",
            "Traceback (most recent call last):"]
    assert all(NATIVE_NOISE.match(line) for line in noise)
    assert not any(NATIVE_NOISE.match(line) for line in kept)


@pytest.mark.slow
def test_a_rerun_resumes_only_the_same_run_and_restart_keeps_a_backup(tmp_path, capsys):
    """Same command: resumes. Another image size or another start (ImageNet vs scratch): refused
    with the differences and the two ways on. --restart: the old folder becomes a backup."""
    import json

    data, out = make_dataset(tmp_path / "data", per_class=2), tmp_path / "model"
    base = ["--data", str(data), "--out", str(out), "--epochs", "1", "--batch-size", "8", "--checkpoint-every", "1"]

    def train(*extra):
        code = run(train_cli.main, [*base, *extra])
        return code, capsys.readouterr()

    assert train("--image-size", "32", "--from-scratch")[0] == 0
    code, printed = train("--image-size", "32", "--from-scratch", "--epochs", "2")
    assert code == 0 and "resuming from" in printed.out
    code, printed = train("--image-size", "48", "--from-scratch")
    assert code == 2 and "image_size: 48 != 32" in printed.err and "--restart" in printed.err
    code, printed = train("--image-size", "32")  # ImageNet start, the default, against a run from scratch
    assert code == 2 and "pretrained" in printed.err and "another --out" in printed.err
    assert json.loads((out / "config.json").read_text())["model"]["image_size"] == 32  # the refusals wrote nothing
    code, printed = train("--image-size", "48", "--from-scratch", "--restart")
    assert code == 0 and f"is now {out}.backup-1" in printed.out
    assert json.loads((tmp_path / "model.backup-1" / "config.json").read_text())["model"]["image_size"] == 32
    assert json.loads((out / "config.json").read_text())["model"]["image_size"] == 48
    assert run(train_cli.main, [*base, "--from-scratch", "--pretrained", "imagenet"]) == 2
    assert "not both" in capsys.readouterr().err
