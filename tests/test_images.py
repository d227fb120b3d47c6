import numpy as np
import pytest
from PIL import Image

from flowers_mtl.data.images import load_rgb, try_load_rgb
from flowers_mtl.errors import UserInputError


def test_resizes_whole_photo_to_square_rgb_uint8(tmp_path):
    path = tmp_path / "a.jpg"
    Image.new("RGB", (80, 40), (200, 10, 10)).save(path)
    image = load_rgb(str(path), 32)
    assert image.shape == (32, 32, 3) and image.dtype == np.uint8
    assert abs(int(image[..., 0].mean()) - 200) < 6


@pytest.mark.parametrize("mode, suffix", [("L", "png"), ("CMYK", "jpg"), ("P", "gif"), ("RGBA", "png"), ("LA", "png")])
def test_other_modes_become_rgb(tmp_path, mode, suffix):
    path = tmp_path / f"a.{suffix}"
    Image.new(mode, (20, 20)).save(path)
    assert load_rgb(str(path), 16).shape == (16, 16, 3)


def test_transparent_pixels_become_white(tmp_path):
    path = tmp_path / "a.png"
    Image.new("RGBA", (10, 10), (255, 0, 0, 0)).save(path)
    assert load_rgb(str(path), 10).min() == 255


def test_exif_orientation_is_applied(tmp_path):
    """A landscape file tagged 'rotate 90' is a portrait photo: its top row must come out on a side."""
    pixels = np.zeros((20, 40, 3), dtype=np.uint8)
    pixels[:5] = 255  # white band along the top of the stored pixels
    image = Image.fromarray(pixels)
    exif = image.getexif()
    exif[0x0112] = 6  # orientation: rotate 90 CW to display
    path = tmp_path / "rotated.jpg"
    image.save(path, exif=exif, quality=95)
    upright = load_rgb(str(path), 20)
    assert upright[:, -3:].mean() > 200  # the band is now the right-hand edge
    assert upright[:3, 5:15].mean() < 60


def test_bad_files_name_the_path(tmp_path):
    text = tmp_path / "notes.txt"
    text.write_text("not an image")
    truncated = tmp_path / "cut.jpg"
    Image.new("RGB", (64, 64), (1, 2, 3)).save(tmp_path / "full.jpg")
    truncated.write_bytes((tmp_path / "full.jpg").read_bytes()[:200])
    for path, message in [(tmp_path / "nope.jpg", "no such file"), (text, "not an image"), (truncated, "cannot decode"), (tmp_path, "directory")]:
        with pytest.raises(UserInputError, match=message) as info:
            load_rgb(str(path), 16)
        assert str(path) in str(info.value)


def test_try_load_reports_failure_instead_of_raising(tmp_path):
    image, ok = try_load_rgb(str(tmp_path / "nope.jpg").encode(), 8)
    assert not ok and image.shape == (8, 8, 3)


def test_the_contract_chooses_squash_or_centre_crop(tmp_path):
    from flowers_mtl.spec import Preprocessing

    pixels = np.zeros((40, 80, 3), np.uint8)
    pixels[:, :10] = (255, 0, 0)  # a red band on the left, well outside the centred square
    Image.fromarray(pixels).save(tmp_path / "wide.png")
    squashed = load_rgb(str(tmp_path / "wide.png"), 20, Preprocessing(resize="squash"))
    cropped = load_rgb(str(tmp_path / "wide.png"), 20, Preprocessing(resize="center_crop"))
    assert squashed[:, :2, 0].mean() > 200 and cropped[:, :, 0].max() < 10


def test_exif_orientation_is_applied_only_when_the_contract_says_so(tmp_path):
    from flowers_mtl.spec import Preprocessing

    pixels = np.zeros((20, 40, 3), np.uint8)
    pixels[:, :20] = 255  # white left half
    exif = Image.Exif()
    exif[0x0112] = 6  # rotate 90 degrees clockwise to view
    Image.fromarray(pixels).save(tmp_path / "turned.jpg", exif=exif.tobytes(), quality=95)
    upright = load_rgb(str(tmp_path / "turned.jpg"), 20, Preprocessing(exif_transpose=True))
    as_stored = load_rgb(str(tmp_path / "turned.jpg"), 20, Preprocessing(exif_transpose=False))
    assert upright[:10].mean() > 200 and upright[10:].mean() < 50  # white on top once turned
    assert as_stored[:, :10].mean() > 200 and as_stored[:, 10:].mean() < 50
