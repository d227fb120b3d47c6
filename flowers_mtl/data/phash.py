"""Perceptual hashes: 64 bits per photo that survive resizing, re-encoding and brightness changes.

The classic DCT hash (as in the `imagehash` library's phash): the photo in grey at 32 x 32, its
2-D DCT, the 8 x 8 lowest frequencies, one bit per coefficient above their median. Two copies of
one picture differ in a few bits; two different photos in about 32. A crop shifts and enlarges
the picture and costs 10-25 bits, so each photo also gets the hash of its centre (CENTRE of each
side), and two photos are as far apart as the closest of: whole to whole, centre to whole, whole
to centre; a copy cropped by a few percent a side then lands near the other's centre hash.
"""

from __future__ import annotations

import numpy as np
from PIL import Image
from scipy.fft import dctn

from ..spec import Preprocessing
from .images import load_rgb

BITS = 64
CENTRE = 0.84  # the centre hash covers the middle 84% of each side (a crop of 8% a side)
_SIDE = 32  # grey thumbnail side
_KEEP = 8  # lowest frequencies kept per axis: 8 x 8 = 64 bits
_DECODED = 64  # decoded once at this side; both thumbnails come from it
_WHOLE_PHOTO = Preprocessing(resize="squash", resample="bilinear")  # every pixel counts, none cropped
_LUMA = np.array([0.299, 0.587, 0.114])  # ITU-R 601, Pillow's own RGB -> L


def _bits(grey: Image.Image) -> np.ndarray:
    low = dctn(np.asarray(grey.resize((_SIDE, _SIDE), Image.Resampling.BILINEAR), np.float64), norm="ortho")
    low = low[:_KEEP, :_KEEP]
    return (low > np.median(low)).ravel()


def phash(path: str) -> np.ndarray:
    """(2, 64) booleans: the whole photo's hash and its centre's. Raises UserInputError naming the
    file when it does not decode."""
    grey = Image.fromarray((load_rgb(path, _DECODED, _WHOLE_PHOTO).astype(np.float32) @ _LUMA).astype(np.float32), "F")
    margin = _DECODED * (1 - CENTRE) / 2
    centre = grey.crop((margin, margin, _DECODED - margin, _DECODED - margin))
    return np.stack([_bits(grey), _bits(centre)])


def hamming(hashes: np.ndarray, rows: np.ndarray | slice = slice(None)) -> np.ndarray:
    """Bits differing between hashes[rows] and every photo, the closest of whole-whole,
    centre-whole and whole-centre: (len(rows), N) int."""
    packed = np.packbits(hashes, axis=2)  # (N, 2, 8 bytes)

    def distance(a, b):
        return np.unpackbits(packed[rows, a][:, None, :] ^ packed[None, :, b], axis=2).sum(axis=2, dtype=np.int32)

    return np.minimum(np.minimum(distance(0, 0), distance(1, 0)), distance(0, 1))
