"""Loading one photo the same way everywhere: training, evaluation and prediction, following
the model's preprocessing contract (spec.Preprocessing).

Pillow rather than tf.io.decode_image because it applies the EXIF orientation (phone photos),
reads PNG/GIF/BMP/TIFF/WebP as well as JPEG and converts grayscale, CMYK, palette and alpha
images to RGB; training and serving then see identical pixels for the same file.
"""

from __future__ import annotations

import warnings

import numpy as np
from PIL import Image, ImageOps, UnidentifiedImageError

from ..errors import UserInputError
from ..spec import Preprocessing

IMAGE_SUFFIXES = {".jpg", ".jpeg", ".png", ".gif", ".bmp", ".tif", ".tiff", ".webp"}  # what folders are searched for
MAX_PIXELS = 40_000_000  # a 13000 x 13000 PNG would take 1 GB to decode; phone photos are 12-50 MP
MAX_PIXELS_HELP = f"skip photos with more pixels than this (decompression bombs); default {MAX_PIXELS:,}"
RESAMPLE = {
    "nearest": Image.Resampling.NEAREST,
    "bilinear": Image.Resampling.BILINEAR,
    "bicubic": Image.Resampling.BICUBIC,
    "lanczos": Image.Resampling.LANCZOS,
}


def load_rgb(path: str, size: int, contract: Preprocessing = Preprocessing(), max_pixels: int | None = None) -> np.ndarray:
    """The photo, upright, RGB, made size x size by the contract's resize, as uint8.

    Raises UserInputError naming the file when it is missing, not a readable image, or has more
    than max_pixels pixels (checked from the header, before anything is decoded).
    """
    try:
        return decode_rgb(path, size, contract, str(path), max_pixels)
    except FileNotFoundError:
        raise UserInputError(f"{path}: no such file") from None
    except IsADirectoryError:
        raise UserInputError(f"{path}: is a directory, not an image") from None


def decode_rgb(source, size: int, contract: Preprocessing, where: str, max_pixels: int | None = None) -> np.ndarray:
    """load_rgb for a path or an open binary file (an uploaded photo); errors name `where`.
    max_pixels None: the process's limit (set_pixel_limit, MAX_PIXELS unless a flag changed it)."""
    max_pixels = _limit[0] if max_pixels is None else max_pixels
    try:
        with Image.open(source) as image:
            if image.width * image.height > max_pixels:
                raise UserInputError(f"{where}: image too large ({image.width} x {image.height} pixels; the limit is "
                                     f"{max_pixels:,})")
            if contract.jpeg_draft:
                image.draft("RGB", (size, size))  # lets JPEG decode at a reduced scale: much faster
            if contract.exif_transpose:
                image = ImageOps.exif_transpose(image)
            if image.mode != "RGB":
                image = _to_rgb(image, contract.alpha_background)
            if contract.resize == "center_crop":
                return np.asarray(ImageOps.fit(image, (size, size), RESAMPLE[contract.resample]), dtype=np.uint8)
            return np.asarray(image.resize((size, size), RESAMPLE[contract.resample]), dtype=np.uint8)
    except UnidentifiedImageError:
        raise UserInputError(f"{where}: not an image Pillow can read") from None
    except Image.DecompressionBombError as err:
        raise UserInputError(f"{where}: image too large ({err})") from None
    except (SyntaxError, ValueError) as err:  # truncated or corrupt data
        raise UserInputError(f"{where}: cannot decode image ({err})") from None
    except OSError as err:
        if isinstance(err, (FileNotFoundError, IsADirectoryError)):
            raise
        raise UserInputError(f"{where}: cannot decode image ({err})") from None


_limit = [MAX_PIXELS]
# Pillow warns from 89 MP; the limit that counts is ours, checked from the header (a bomb is refused
# in one line, never a warning plus an error).
warnings.filterwarnings("ignore", category=Image.DecompressionBombWarning)


def set_pixel_limit(max_pixels: int) -> None:
    """The --max-pixels of a command, for every photo it decodes (training's tf.data workers too)."""
    if max_pixels <= 0:
        raise UserInputError(f"--max-pixels must be positive, got {max_pixels}")
    _limit[0] = max_pixels
    Image.MAX_IMAGE_PIXELS = max(max_pixels, Image.MAX_IMAGE_PIXELS or 0)  # Pillow's own check stays out of the way


def _to_rgb(image: Image.Image, background: tuple[int, int, int]) -> Image.Image:
    """Composite transparency on the contract's background (white: product-style photos); 16-
    and 32-bit grey (I;16, I) scaled to 8 bits, not clipped (which turns nearly all of it white)."""
    if image.mode.startswith("I"):
        image = _grey_to_8_bits(image)
    if image.mode in ("RGBA", "LA") or (image.mode == "P" and "transparency" in image.info):
        rgba = image.convert("RGBA")
        return Image.alpha_composite(Image.new("RGBA", rgba.size, (*background, 255)), rgba).convert("RGB")
    return image.convert("RGB")


def _grey_to_8_bits(image: Image.Image) -> Image.Image:
    """16-bit grey (a PNG's I;16, or I holding 0..65535) -> L by dividing by 257 (65535 -> 255)."""
    values = np.asarray(image, dtype=np.float64)
    top = 65535.0 if values.max(initial=0) > 255 or image.mode != "I" else 255.0
    return Image.fromarray(np.clip(np.round(values * 255.0 / top), 0, 255).astype(np.uint8), "L")


def try_load_rgb(path: bytes | str, size: int, contract: Preprocessing = Preprocessing()) -> tuple[np.ndarray, bool]:
    """For the tf.data pipeline: a black image and False instead of an exception."""
    if isinstance(path, bytes):
        path = path.decode("utf-8")
    try:
        return load_rgb(path, int(size), contract), True
    except UserInputError:
        return np.zeros((int(size), int(size), 3), dtype=np.uint8), False
