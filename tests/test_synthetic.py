from flowers_mtl.data import synthetic
from flowers_mtl.data.splits import load_classes, read_split


def test_generates_a_labelled_split_set_once(tmp_path):
    root = synthetic.generate(tmp_path / "syn", per_class=3, size=48, unknown_per_type=1)
    classes = load_classes(root / "classes.json")
    assert classes.to_json() == {"type": sorted(synthetic.TYPES), "colour": sorted(synthetic.COLOURS)}
    splits = {name: read_split(root / f"{name}.txt", classes) for name in ("train", "val", "test")}
    total = sum(len(s) for s in splits.values())
    assert total == 4 * 4 * 3 + 4
    assert sum(int((s.labels[:, 1] == -1).sum()) for s in splits.values()) == 4
    assert "SYNTHETIC" in (root / "README.txt").read_text()
    before = (root / "train.txt").stat().st_mtime_ns
    synthetic.generate(tmp_path / "syn", per_class=3, size=48, unknown_per_type=1)
    assert (root / "train.txt").stat().st_mtime_ns == before


def test_pictures_differ_by_colour_where_the_petals_are():
    import numpy as np

    rng = np.random.default_rng(0)
    red = np.asarray(synthetic.draw_picture("clover", [synthetic.COLOURS["red"]], 64, rng)).reshape(-1, 3)
    # the red flower puts strongly red pixels in the picture; the foliage background has none
    assert ((red[:, 0] > 150) & (red[:, 1] < 80)).sum() > 50
