"""Where things go when no place is given: prepare writes data/splits/, and train.py trains on it
when it holds a train.txt, else runs the synthetic demo (both relative to the working directory)."""

import pytest

from conftest import make_dataset
from flowers_mtl.cli import prepare as prepare_cli
from flowers_mtl.cli import train as train_cli
from flowers_mtl.data import synthetic


class Stop(Exception):
    pass


@pytest.fixture
def chosen(monkeypatch):
    """Runs train.py's main up to the training call and keeps the config it would train with."""
    seen = {}

    def fake_train(config):
        seen["config"] = config
        raise Stop

    monkeypatch.setattr("flowers_mtl.train.loop.train", fake_train)
    return seen


def test_prepare_writes_to_data_splits_by_default(tmp_path, monkeypatch):
    from test_prepare import photo_tree

    photos = photo_tree(tmp_path / "photos", per_class=4)
    monkeypatch.chdir(tmp_path)
    assert prepare_cli.main(["--from-folder", str(photos)]) == 0
    assert sorted(p.name for p in (tmp_path / "data" / "splits").iterdir()) == [
        "classes.json", "test.txt", "train.txt", "val.txt"]


def test_train_takes_data_splits_when_it_holds_a_train_txt(tmp_path, monkeypatch, chosen, capsys):
    splits = make_dataset(tmp_path / "data" / "splits", per_class=1)
    monkeypatch.chdir(tmp_path)
    with pytest.raises(Stop):
        train_cli.main([])
    assert chosen["config"].train == str(splits / "train.txt")
    assert chosen["config"].out == str(tmp_path / "models" / "splits")
    assert capsys.readouterr().out.splitlines()[0] == "no --data given: training on data/splits/ (it holds a train.txt)"


def test_train_runs_the_demo_when_data_splits_is_empty(tmp_path, monkeypatch, chosen, capsys):
    (tmp_path / "data" / "splits").mkdir(parents=True)
    (tmp_path / "data" / "splits" / "README.md").write_text("")
    monkeypatch.setattr(synthetic, "generate", lambda root: make_dataset(root, per_class=1))
    monkeypatch.chdir(tmp_path)
    with pytest.raises(Stop):
        train_cli.main([])
    config = chosen["config"]
    assert config.train == str(tmp_path / "data" / "synthetic" / "train.txt")
    assert (config.model.image_size, config.epochs) == (96, 30)  # configs/demo.json
    first = capsys.readouterr().out.splitlines()[0]
    assert "no data/splits/train.txt" in first and "SYNTHETIC" in first and "python -m flowers_mtl.prepare" in first
