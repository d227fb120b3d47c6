import subprocess
import sys
from collections import Counter

import pytest

from conftest import ROOT, draw
from flowers_mtl.data import prepare
from flowers_mtl.data.splits import load_classes, read_split


def photo_tree(root, per_class=10):
    seed = 0
    for type_id, kind in enumerate(("daisy", "rose")):
        for colour in ("red", "pink", "white"):
            for i in range(per_class):
                seed += 1  # a distinct picture each: no accidental byte-identical duplicates
                draw(root / kind / colour / f"{kind}_{colour}_{i}.png", type_id, colour, size=24, seed=seed)
    return root


def run_prepare(*args):
    return subprocess.run([sys.executable, "-m", "flowers_mtl.prepare", *map(str, args)], capture_output=True, text=True, cwd=ROOT)


def read_all(out):
    classes = load_classes(out / "classes.json")
    return {name: read_split(out / f"{name}.txt", classes) for name in ("train", "val", "test")}


def test_folder_tree_to_stratified_splits(tmp_path):
    photos, classes = prepare.photos_from_folder(photo_tree(tmp_path / "photos"))
    assert classes.to_json() == {"type": ["daisy", "rose"], "colour": ["pink", "red", "white"]}
    prepared = prepare.prepare(photos, classes, seed=3)
    prepare.write(prepared, tmp_path / "out")
    splits = read_all(tmp_path / "out")
    assert [len(s) for s in splits.values()] == [36, 15, 9]
    # every (type, colour) stratum of 10 photos lands 6 / 2-3 / 1-2
    for name, low, high in (("train", 6, 6), ("val", 2, 3), ("test", 1, 2)):
        counts = Counter(map(tuple, splits[name].labels.tolist()))
        assert len(counts) == 6 and all(low <= n <= high for n in counts.values()), (name, counts)


def test_same_seed_same_splits_other_seed_other_splits(tmp_path):
    photos, classes = prepare.photos_from_folder(photo_tree(tmp_path / "photos"))
    a = prepare.prepare(photos, classes, seed=1)
    b = prepare.prepare(photos, classes, seed=1)
    c = prepare.prepare(photos, classes, seed=2)
    def paths(prepared):
        return {name: [photo.path for photo in photos] for name, photos in prepared.splits.items()}

    assert paths(a) == paths(b) and paths(a) != paths(c)


def test_duplicates_and_unreadable_files_are_dropped_and_reported(tmp_path):
    root = photo_tree(tmp_path / "photos", per_class=5)
    copy = root / "rose" / "red" / "copy_of_daisy.png"
    copy.write_bytes((root / "daisy" / "red" / "daisy_red_0.png").read_bytes())
    (root / "daisy" / "white" / "broken.png").write_bytes(b"not really a png")
    photos, classes = prepare.photos_from_folder(root)
    prepared = prepare.prepare(photos, classes)
    assert len(prepared.dropped) == 2
    assert any("copy_of_daisy.png: duplicate of" in d and "with different labels" in d for d in prepared.dropped)
    assert any("broken.png" in d and "unreadable" in d for d in prepared.dropped)
    all_paths = [p.path for split in prepared.splits.values() for p in split]
    assert len(all_paths) == len(set(all_paths)) == 30


def test_unknown_colour_folder(tmp_path):
    root = photo_tree(tmp_path / "photos", per_class=4)
    draw(root / "rose" / "unknown" / "mix.png", 1, "pink", 24, 999)
    photos, classes = prepare.photos_from_folder(root)
    assert "unknown" not in classes.by_task["colour"]
    assert [p.labels for p in photos if p.path.name == "mix.png"] == [(1, -1)]


@pytest.mark.subprocess
def test_csv_input_with_names(tmp_path):
    root = photo_tree(tmp_path / "photos", per_class=4)
    rows = ["path,type,colour"] + [f"{p.relative_to(tmp_path)},{p.parent.parent.name},{p.parent.name}" for p in sorted(root.glob("*/*/*.png"))]
    (tmp_path / "photos.csv").write_text("\n".join(rows) + "\n")
    done = run_prepare("--from-csv", tmp_path / "photos.csv", "--out", tmp_path / "out")
    assert done.returncode == 0, done.stderr
    assert "splits: train 14, val 6, test 4; dropped 0" in done.stdout
    splits = read_all(tmp_path / "out")
    assert sum(len(s) for s in splits.values()) == 24


@pytest.mark.subprocess
def test_cli_errors_are_one_line(tmp_path):
    (tmp_path / "bad.csv").write_text("a.png,rose\n")
    done = run_prepare("--from-csv", tmp_path / "bad.csv", "--out", tmp_path / "out")
    assert done.returncode == 2 and done.stderr.strip() == f"error: {tmp_path / 'bad.csv'}:1: expected 3 columns (path, type, colour), got 2"
    done = run_prepare("--from-folder", tmp_path / "none", "--out", tmp_path / "out")
    assert done.returncode == 2 and "not a folder" in done.stderr


def test_the_summary_counts_type_by_colour_per_split_and_thin_cells_are_warned():
    from pathlib import Path

    from flowers_mtl.data.prepare import Photo, Prepared, count_table, summary, thin_cells
    from flowers_mtl.spec import ClassNames

    def photo(type_id, colour_id):
        return Photo(Path("x.jpg"), (type_id, colour_id))

    classes = ClassNames({"type": ("rose", "daisy"), "colour": ("red", "white")})
    splits = {"train": [photo(0, 0)] * 5 + [photo(1, 1)] * 4 + [photo(1, 0)] + [photo(0, -1)],
              "val": [photo(0, 0)] * 2 + [photo(1, 1)] * 2, "test": [photo(0, 0), photo(1, 1), photo(0, 1)]}
    prepared = Prepared(splits, classes)
    table = count_table(splits["train"], classes).splitlines()
    assert table[0].split() == ["red", "white", "?", "total"]
    assert table[1].split() == ["rose", "5", "0", "1", "6"] and table[2].split() == ["daisy", "1", "4", "0", "5"]
    assert "test: photos per type (rows) and colour (columns)" in summary(prepared)
    warnings = thin_cells(prepared)
    assert len(warnings) == 2
    assert warnings[0].startswith("only 1 photo(s) of daisy x red (in train)")
    assert warnings[1].startswith("only 1 photo(s) of rose x white (in test)")


def test_a_path_with_a_comma_is_written_so_that_the_reader_reads_it_back(tmp_path):
    root = tmp_path / "photos"
    for i in range(9):
        draw(root / "rose" / "red" / f"a, b {i}.png", 0, "red", seed=i)
        draw(root / "daisy" / "white" / f"c{i}.png", 1, "white", seed=100 + i)
    photos, classes = prepare.photos_from_folder(root)
    written = prepare.write(prepare.prepare(photos, classes), tmp_path / "splits")
    read_back = [p for path in written[:3] for p in read_split(path, load_classes(tmp_path / "splits" / "classes.json")).paths]
    assert sorted(read_back) == sorted(str(p.path.resolve()) for p in photos)
