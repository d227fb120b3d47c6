import json

import numpy as np
import pytest

from flowers_mtl.data.splits import UNKNOWN, load_classes, read_split
from flowers_mtl.errors import UserInputError


@pytest.fixture
def classes(tmp_path):
    path = tmp_path / "classes.json"
    path.write_text(json.dumps({"type": ["rose", "daisy"], "colour": ["red", "pink", "white"]}))
    return load_classes(path)


def write(tmp_path, text, images=("a.jpg", "b.jpg")):
    for name in images:
        (tmp_path / name).write_bytes(b"x")
    path = tmp_path / "split.txt"
    path.write_text(text)
    return path


def test_reads_ids_names_unknowns_comments_and_relative_paths(tmp_path, classes):
    path = write(tmp_path, "# a comment\n\na.jpg, 0, 1\n  b.jpg , daisy , white\nb.jpg, 1, -1\na.jpg, rose, ?\n")
    split = read_split(path, classes)
    assert split.paths == (str(tmp_path / "a.jpg"), str(tmp_path / "b.jpg"), str(tmp_path / "b.jpg"), str(tmp_path / "a.jpg"))
    np.testing.assert_array_equal(split.labels, [[0, 1], [1, 2], [1, UNKNOWN], [0, UNKNOWN]])
    assert split.line_numbers == (3, 4, 5, 6)
    assert split.labels[:, split.classes.tasks.index("colour")].tolist() == [1, 2, UNKNOWN, UNKNOWN]


def test_absolute_paths_are_kept(tmp_path, classes):
    image = tmp_path / "elsewhere" / "c.jpg"
    image.parent.mkdir()
    image.write_bytes(b"x")
    split = read_split(write(tmp_path, f"{image}, 0, 0\n"), classes)
    assert split.paths == (str(image),)


@pytest.mark.parametrize(
    "text, message",
    [
        ("a.jpg, 0\n", r"split.txt:1: expected 3 comma-separated fields"),
        ("a.jpg, 0, 1, 2\n", r"split.txt:1: expected 3"),
        ("a.jpg, 0, 1\na.jpg, zero, 1\n", r"split.txt:2: type 'zero' is neither an integer id nor one of rose, daisy"),
        ("a.jpg, 0, 3\n", r"split.txt:1: colour id 3 out of range 0..2"),
        ("a.jpg, -2, 1\n", r"split.txt:1: type id -2 out of range"),
        ("a.jpg, 0, blue\n", r"split.txt:1: colour 'blue' is neither"),
        ("# nothing\n\n", r"split.txt: the split is empty"),
    ],
)
def test_errors_name_file_and_line(tmp_path, classes, text, message):
    with pytest.raises(UserInputError, match=message):
        read_split(write(tmp_path, text), classes)


def test_every_missing_image_is_listed(tmp_path, classes):
    path = write(tmp_path, "a.jpg, 0, 0\nnope1.jpg, 0, 0\nb.jpg, 1, 1\nnope2.jpg, 1, 1\n")
    with pytest.raises(UserInputError) as info:
        read_split(path, classes)
    text = str(info.value)
    assert "2 image file(s) not found" in text
    assert "split.txt:2: image not found" in text and "nope1.jpg" in text
    assert "split.txt:4: image not found" in text and "nope2.jpg" in text


def test_missing_split_file(tmp_path, classes):
    with pytest.raises(UserInputError, match="split file not found"):
        read_split(tmp_path / "none.txt", classes)


@pytest.mark.parametrize(
    "content, message",
    [
        ("{not json", r"classes.json:1: not valid JSON"),
        ("[1, 2]", "expected an object"),
        ('{"type": ["rose"]}', "at least two"),
        ('{"type": ["rose", "rose"]}', "names a class twice"),
    ],
)
def test_bad_classes_file(tmp_path, content, message):
    path = tmp_path / "classes.json"
    path.write_text(content)
    with pytest.raises(UserInputError, match=message):
        load_classes(path)


def test_classes_keep_order(classes):
    assert classes.tasks == ("type", "colour")
    assert classes.num_classes() == {"type": 2, "colour": 3}


def test_a_quoted_path_may_hold_commas(tmp_path):
    folder = tmp_path / "my garden, june"
    folder.mkdir()
    (folder / "a.png").write_bytes(b"")
    split_file = tmp_path / "train.txt"
    split_file.write_text('"my garden, june/a.png", 0, red\n')
    classes = tmp_path / "classes.json"
    classes.write_text(json.dumps({"type": ["rose", "daisy"], "colour": ["red", "pink"]}))
    split = read_split(split_file, load_classes(classes))
    assert split.paths == (str(folder / "a.png"),) and split.labels.tolist() == [[0, 0]]


def test_a_byte_order_mark_is_not_part_of_the_first_path(tmp_path):
    from flowers_mtl.data.splits import read_split
    from flowers_mtl.spec import ClassNames

    (tmp_path / "a.jpg").write_bytes(b"")
    (tmp_path / "split.txt").write_bytes("a.jpg, 0, 1\n".encode("utf-8-sig"))
    split = read_split(tmp_path / "split.txt", ClassNames({"type": ("x", "y"), "colour": ("r", "w")}))
    assert list(split.paths) == [str(tmp_path / "a.jpg")]
