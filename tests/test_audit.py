"""audit.py: planted duplicates, flips and broken files are found; corrections become new split files."""

from __future__ import annotations

import csv
import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from PIL import Image, ImageEnhance

from conftest import ROOT, chromium
from flowers_mtl.audit import corrections, duplicates, suspects
from flowers_mtl.audit.entries import read_entries
from flowers_mtl.data import phash, synthetic
from flowers_mtl.data.splits import load_classes, read_split
from flowers_mtl.errors import UserInputError

CLASSES = {"type": ["daisy", "star"], "colour": ["red", "yellow", "white"]}


def picture(kind: str, colour: str, rng: np.random.Generator, size: int = 96) -> Image.Image:
    """A drawn flower on a background of its own (a smooth random field), so that no two look alike."""
    field = rng.integers(0, 256, (6, 6, 3), dtype=np.uint8)
    image = Image.fromarray(field).resize((size, size), Image.Resampling.BICUBIC)
    synthetic.draw_flower(image, kind, synthetic.COLOURS[colour], rng, rng.uniform(35, 61, 2), rng.uniform(22, 32))
    return image


def write_data(folder: Path, seed: int = 0) -> dict:
    """36 pictures in train/val/test with planted problems; returns what was planted."""
    rng = np.random.default_rng(seed)
    (folder / "img").mkdir(parents=True)
    (folder / "classes.json").write_text(json.dumps(CLASSES))
    lines = {"train": [], "val": [], "test": []}
    n = 0
    for t, kind in enumerate(CLASSES["type"]):
        for c, colour in enumerate(CLASSES["colour"]):
            for _ in range(6):
                picture(kind, colour, rng).save(folder / "img" / f"p{n:02d}.png")
                split = "train" if n % 6 < 4 else ("val", "test")[n % 2]
                lines[split].append(f"img/p{n:02d}.png, {t}, {-1 if n == 5 else c}")
                n += 1
    original = Image.open(folder / "img" / "p00.png")  # line 1 of train.txt: daisy, red
    original.resize((60, 60)).save(folder / "img" / "resized.jpg")
    original.save(folder / "img" / "recompressed.jpg", quality=20)
    ImageEnhance.Brightness(original).enhance(1.3).save(folder / "img" / "brighter.png")
    original.crop((4, 4, 92, 90)).save(folder / "img" / "cropped.png")
    (folder / "img" / "broken.png").write_bytes(b"not a picture")
    lines["test"].append("img/resized.jpg, 0, 0")  # a leak
    lines["train"] += ["img/recompressed.jpg, 0, 2", "img/brighter.png, 0, 0"]  # a colour conflict
    lines["val"] += ["img/cropped.png, 0, 0", "img/broken.png, 1, 1"]
    for name, rows in lines.items():
        (folder / f"{name}.txt").write_text("\n".join(rows) + "\n")
    return {"group": {"img/p00.png", "img/resized.jpg", "img/recompressed.jpg", "img/brighter.png", "img/cropped.png"},
            "broken": ("val", len(lines["val"]))}


@pytest.fixture(scope="module")
def audited(tmp_path_factory):
    from flowers_mtl.audit import embed, page
    from flowers_mtl.audit.report import run_audit

    folder = tmp_path_factory.mktemp("data")
    planted = write_data(folder)
    result = run_audit(read_entries(folder), embed.imagenet_trunk())
    page.write_page(result, folder / "audit")
    return folder, planted, result


def test_the_report_has_four_keys_and_each_item_its_fields(audited):
    _, _, result = audited
    report = json.loads(json.dumps(result.to_json()))
    assert set(report) == {"photos", "undecodable", "duplicates", "label_suspects"}
    assert report["photos"] == 41
    assert set(report["undecodable"][0]) == {"path", "split", "line", "reason"}
    assert {"paths", "splits", "lines", "labels", "leak", "label_conflict"} <= set(report["duplicates"][0])
    for suspect in report["label_suspects"]:
        assert set(suspect) == {"path", "split", "line", "task", "given", "suggested", "score"}
        assert suspect["given"] != suspect["suggested"] and 0 < suspect["score"] <= 1


def test_every_planted_copy_is_in_one_group_that_leaks_and_disagrees_on_colour(audited):
    _, planted, result = audited
    assert len(result.duplicates) == 1, result.duplicates  # and no false group among the 36 originals
    group = result.duplicates[0]
    assert set(group["paths"]) == planted["group"]
    assert group["leak"] and set(group["splits"]) == {"train", "val", "test"}
    assert group["label_conflict"] == ["colour"]


def test_an_undecodable_photo_is_named_with_its_split_and_line(audited):
    _, planted, result = audited
    (broken,) = result.undecodable
    assert (broken["path"], broken["split"], broken["line"]) == ("img/broken.png", *planted["broken"])
    assert "not an image" in broken["reason"]


def test_unknown_labels_are_never_suspects_and_the_worst_comes_first(audited):
    _, _, result = audited
    assert not [s for s in result.label_suspects if s["path"] == "img/p05.png" and s["task"] == "colour"]
    scores = [s["score"] for s in result.label_suspects]
    assert scores == sorted(scores, reverse=True)
    assert result.judged == {"type": 40, "colour": 39}  # the broken photo, and p05's unknown colour, left out


def test_the_page_holds_the_report_and_a_thumbnail_of_each_copy(audited):
    folder, planted, _ = audited
    html = (folder / "audit" / "index.html").read_text()
    data = json.loads(html.split('type="application/json">')[1].split("</script>")[0])
    assert data["report"]["duplicates"][0]["paths"] == sorted(planted["group"], key=data["report"]["duplicates"][0]["paths"].index)
    assert set(planted["group"]) <= set(data["thumbs"])
    assert all((folder / "audit" / thumb).is_file() for thumb in data["thumbs"].values())


def test_a_photo_hash_survives_copies_but_tells_pictures_apart(tmp_path):
    rng = np.random.default_rng(1)
    one, other = picture("daisy", "red", rng, 160), picture("daisy", "red", rng, 160)
    one.save(tmp_path / "one.png")
    other.save(tmp_path / "other.png")
    one.resize((70, 70)).save(tmp_path / "small.png")
    one.save(tmp_path / "q15.jpg", quality=15)
    ImageEnhance.Brightness(one).enhance(0.75).save(tmp_path / "dark.png")
    one.crop((12, 10, 150, 146)).save(tmp_path / "cropped.png")  # 6-9% off each side
    names = ("one.png", "small.png", "q15.jpg", "dark.png", "cropped.png", "other.png")
    hashes = np.stack([phash.phash(str(tmp_path / n)) for n in names])
    bits = phash.hamming(hashes, slice(0, 1))[0]
    assert bits[0] == 0 and max(bits[1:4]) <= 6 and bits[4] <= 10 and bits[5] >= 16, bits


def test_pairs_join_into_groups_through_a_shared_member():
    pairs = [(0, 3, 0, 1.0), (3, 5, 2, 0.9), (1, 2, 4, 0.95)]
    assert duplicates.groups_of(pairs, 7) == [[0, 3, 5], [1, 2]]


def test_the_rule_takes_a_closer_hash_with_a_lower_cosine_but_not_a_far_one():
    hashes = np.zeros((4, 2, 64), bool)  # whole photo and centre
    hashes[2, :, :10] = True  # 10 bits from photo 0
    hashes[3, :, :30] = True  # 30 bits: never, however close the embedding
    embeddings = np.array([[1.0, 0.0], [0.75, np.sqrt(1 - 0.75**2)], [0.8, -0.6], [1.0, 0.0]])
    pairs = duplicates.duplicate_pairs(hashes, embeddings, np.ones(4, bool))
    assert [(i, j) for i, j, *_ in pairs] == [(0, 1)]  # 0 bits at cosine 0.75 passes; 10 bits at 0.8 does not (0.82)


def test_no_photo_is_judged_by_a_classifier_that_saw_its_label():
    """Features that only identify the photo: a classifier fitted on a photo could recall its label;
    out of fold it knows nothing about it."""
    labels = np.arange(40) % 2
    probs = suspects.out_of_fold(np.eye(40), labels, np.arange(40))
    assert np.all(probs[np.arange(40), labels] < 0.7)


def test_flipped_labels_top_the_suspects_and_copies_stay_in_one_fold(tmp_path):
    rng = np.random.default_rng(0)
    labels = np.repeat([0, 1, 2], 20)
    features = rng.normal(size=(60, 8)) * 0.3 + np.eye(8)[labels] * 2
    flipped = labels.copy()
    flipped[[3, 25, 47]] = [1, 2, 0]
    probs = suspects.out_of_fold(features, flipped, np.arange(60))
    margin = probs.max(axis=1) - probs[np.arange(60), flipped]
    assert set(np.argsort(-margin)[:3]) == {3, 25, 47}
    groups = suspects.group_ids(60, [[1, 2, 30]])
    folds = suspects.StratifiedGroupKFold(suspects.FOLDS, shuffle=True, random_state=0).split(features, labels, groups)
    assert all(len({1, 2, 30} & set(held)) in (0, 3) for _, held in folds)


# corrections.csv -> new split files (no TensorFlow, no decoding: the photos need not exist)

@pytest.fixture
def listed(tmp_path):
    data = tmp_path / "data"
    data.mkdir()
    (data / "classes.json").write_text(json.dumps(CLASSES))
    (data / "train.txt").write_text("img/a.png, 0, 0\nimg/b.png, 1, 1\nimg/f.png, 0, 2\nimg/c.png, 1, 2\n")
    (data / "val.txt").write_text("img/d.png, 0, 1\nimg/a.png, 0, 0\n")
    (data / "test.txt").write_text("img/e.png, 1, -1\nimg/f.png, 0, 2\n")
    return data


def apply(data: Path, rows: list[str], out: Path) -> list[Path]:
    table = data.parent / "corrections.csv"
    table.write_text("path,task,label,split\n" + "\n".join(rows) + "\n")
    entries = read_entries(data)
    labels, kept, _ = corrections.apply(corrections.read_corrections(table, entries), entries)
    return corrections.write_corrected(entries, labels, kept, out)


def test_corrections_relabel_drop_one_line_and_drop_everywhere(listed, tmp_path):
    before = {p.name: p.read_text() for p in listed.iterdir()}
    apply(listed, ["img/b.png,type,daisy,train", "img/c.png,colour,-1,", "img/a.png,drop,,val", "img/f.png,drop,,",
                   f"{listed / 'img' / 'e.png'},colour,yellow,test"], tmp_path / "fixed")
    classes = load_classes(tmp_path / "fixed" / "classes.json")
    read = {name: read_split(tmp_path / "fixed" / f"{name}.txt", classes, check_files=False) for name in ("train", "val", "test")}
    rows = {name: [(Path(p).name, *map(int, row)) for p, row in zip(s.paths, s.labels)] for name, s in read.items()}
    assert rows == {"train": [("a.png", 0, 0), ("b.png", 0, 1), ("c.png", 1, -1)],
                    "val": [("d.png", 0, 1)], "test": [("e.png", 1, 1)]}
    assert Path(read["train"].paths[0]) == (listed / "img" / "a.png").resolve()
    assert {p.name: p.read_text() for p in listed.iterdir()} == before  # the originals untouched


def test_dropping_every_photo_of_a_split_is_refused(listed, tmp_path):
    with pytest.raises(UserInputError, match="drop every photo of val.txt"):
        apply(listed, ["img/d.png,drop,,", "img/a.png,drop,,val"], tmp_path / "fixed")


@pytest.mark.parametrize("row, message", [
    ("img/zz.png,type,daisy,", r"corrections.csv:2: img/zz.png is not in any split of"),
    ("img/e.png,type,daisy,train", r"corrections.csv:2: img/e.png is not in train.txt of"),
    ("img/a.png,type,tulip,", r"corrections.csv:2: type 'tulip' is neither an integer id nor one of daisy, star"),
    ("img/a.png,petals,red,", r"corrections.csv:2: task 'petals' is neither 'drop' nor one of type, colour"),
    ("img/a.png,type", r"corrections.csv:2: expected 4 fields"),
    ("img/a.png,type,,", r"corrections.csv:2: no label for type \(a class name, an id, or -1 for unknown\)"),
    ("img/a.png,type,star,holdout", r"corrections.csv:2: split 'holdout' is not one of train, val, test"),
])
def test_a_bad_correction_is_one_line_naming_its_line(listed, tmp_path, row, message):
    with pytest.raises(UserInputError, match=message):
        apply(listed, [row], tmp_path / "fixed")


def test_two_corrections_that_disagree_are_refused_and_the_data_folder_is_never_the_output(listed, tmp_path):
    with pytest.raises(UserInputError, match=r"corrections.csv:3: contradicts .*corrections.csv:2 on .*a.png \(type\)"):
        apply(listed, ["img/a.png,type,star,train", "img/a.png,type,daisy,"], tmp_path / "fixed")
    with pytest.raises(UserInputError, match="--out must be a new folder"):
        apply(listed, ["img/a.png,type,star,train"], listed)


@pytest.mark.subprocess
def test_the_command_prints_json_and_applies_corrections(audited, tmp_path):
    folder, planted, _ = audited
    run = subprocess.run([sys.executable, "audit.py", "--data", str(folder), "--out", str(tmp_path / "report"), "--json"],
                         cwd=ROOT, capture_output=True, text=True, timeout=300)
    assert run.returncode == 0, run.stderr
    report = json.loads(run.stdout)
    assert set(report["duplicates"][0]["paths"]) == planted["group"]
    assert json.loads((tmp_path / "report" / "audit.json").read_text()) == report
    (tmp_path / "fix.csv").write_text("path,task,label,split\nimg/resized.jpg,drop,,test\n")
    fixed = subprocess.run([sys.executable, "audit.py", "--data", str(folder), "--out", str(tmp_path / "fixed"),
                            "--apply", str(tmp_path / "fix.csv")], cwd=ROOT, capture_output=True, text=True, timeout=120)
    assert fixed.returncode == 0, fixed.stderr
    assert "dropped 1 line(s)" in fixed.stdout and "resized" not in (tmp_path / "fixed" / "test.txt").read_text()
    bad = subprocess.run([sys.executable, "audit.py", "--data", str(tmp_path / "nowhere"), "--out", str(tmp_path / "r")],
                         cwd=ROOT, capture_output=True, text=True, timeout=120)
    assert bad.returncode == 2 and bad.stderr.strip().splitlines() == [
        f"error: {tmp_path / 'nowhere'}: --data must be a folder holding split files and classes.json"]


@pytest.mark.slow
@pytest.mark.skipif(chromium() is None and not __import__("os").environ.get("FLOWERS_MTL_REQUIRE_SHARED"),
                    reason="needs Debian's chromium (apt-get install -y chromium); CI installs it")
def test_choices_on_the_page_become_corrections_that_apply(audited, tmp_path):
    from playwright.sync_api import sync_playwright

    folder, _, result = audited
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=chromium(), args=["--no-sandbox", "--disable-gpu"])
        page = browser.new_page(viewport={"width": 1200, "height": 900})
        page.goto((folder / "audit" / "index.html").as_uri())
        page.locator(".group.leak input[type=radio]").nth(1).check()  # keep the first copy, drop the others
        page.locator(".suspect select").first.select_option(index=1)  # the suggested label
        table = page.input_value("#csv")
        images_shown = page.evaluate("[...document.images].filter(i => i.complete && i.naturalWidth > 0).length")
        browser.close()
    rows = list(csv.reader(table.splitlines()))
    first = result.duplicates[0]
    worst = result.label_suspects[0]
    assert rows[0] == ["path", "task", "label", "split"]
    assert sorted(rows[1:]) == sorted([[p, "drop", "", s] for p, s in zip(first["paths"][1:], first["splits"][1:])]
                                      + [[worst["path"], worst["task"], worst["suggested"], worst["split"]]])
    assert images_shown >= len(first["paths"])
    (tmp_path / "corrections.csv").write_text(table)
    entries = read_entries(folder)
    labels, kept, changed = corrections.apply(corrections.read_corrections(tmp_path / "corrections.csv", entries), entries)
    assert changed["dropped"] == len(first["paths"]) - 1 and changed[worst["task"]] == 1


@pytest.mark.slow  # (its trained-model fixture costs 10 s)
def test_a_trained_model_embeds_with_each_tasks_fire9(trained_model, tmp_path):
    from flowers_mtl.audit import embed

    rng = np.random.default_rng(2)
    paths = []
    for i, kind in enumerate(("daisy", "star", "daisy")):
        picture(kind, "red", rng).save(tmp_path / f"{i}.png")
        paths.append(str(tmp_path / f"{i}.png"))
    (tmp_path / "empty.jpg").write_bytes(b"")
    readings = embed.read_photos(paths + [str(tmp_path / "empty.jpg")], embed.trained_model(trained_model))
    assert readings.embeddings.shape == (4, 2 * 512) and readings.features.shape == (4, 512 + 2 * 512)
    assert np.allclose(np.linalg.norm(readings.embeddings[:3], axis=1), 1.0, atol=1e-5)
    assert readings.ok.tolist() == [True, True, True, False] and list(readings.reasons) == [3]


def test_too_few_photos_to_fold_judge_nothing_rather_than_fail(tmp_path):
    from flowers_mtl.audit.entries import Entries
    from flowers_mtl.spec import ClassNames

    labels = np.array([[0, 0], [0, 1], [1, 2], [1, 0]])
    entries = Entries(tmp_path, ClassNames({t: tuple(n) for t, n in CLASSES.items()}), ("train",) * 4, (1, 2, 3, 4),
                      tuple(f"{i}.png" for i in range(4)), labels)
    found, judged = suspects.find_suspects(entries, np.eye(4), np.ones(4, bool), [])
    assert found == [] and judged == {"type": 0, "colour": 0}


@pytest.mark.parametrize("command", ["audit", "apply"])
def test_an_out_folder_that_cannot_be_made_is_one_line_before_any_work(listed, tmp_path, command):
    from flowers_mtl.cli.audit import main

    (tmp_path / "a-file").write_text("")
    (tmp_path / "fix.csv").write_text("img/a.png,type,star,train\n")
    extra = ["--apply", str(tmp_path / "fix.csv")] if command == "apply" else []
    with pytest.raises(UserInputError, match=r"--out .*a-file/report: cannot (make the folder|write the split files)"):
        main(["--data", str(listed), "--out", str(tmp_path / "a-file" / "report"), *extra])
