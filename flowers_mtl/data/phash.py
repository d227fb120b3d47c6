"""Perceptual hashes: 64 bits per photo that survive resizing, re-encoding and brightness changes.

The classic DCT hash (as in the `imagehash` library's phash): the whole photo in grey at 32 x 32,
its 2-D DCT, the 8 x 8 lowest frequencies, one bit per coefficient above their median. Two copies
of one picture differ in a few bits; two different photos in about 32. Small crops shift the
picture and cost 10-25 bits, which is why the audit pairs the hash with an embedding.
"""

from __future__ import annotations

import numpy as np
from scipy.fft import dctn

from ..spec import Preprocessing
from .images import load_rgb

BITS = 64
_SIDE = 32  # grey thumbnail side
_KEEP = 8  # lowest frequencies kept per axis: 8 x 8 = 64 bits
_WHOLE_PHOTO = Preprocessing(resize="squash", resample="bilinear")  # every pixel counts, none cropped
_LUMA = np.array([0.299, 0.587, 0.114])  # ITU-R 601, Pillow's own RGB -> L


def phash(path: str) -> np.ndarray:
    """64 booleans; raises UserInputError naming the file when it does not decode."""
    grey = load_rgb(path, _SIDE, _WHOLE_PHOTO).astype(np.float64) @ _LUMA
    low = dctn(grey, norm="ortho")[:_KEEP, :_KEEP]
    return (low > np.median(low)).ravel()


def hamming(hashes: np.ndarray, rows: np.ndarray | slice = slice(None)) -> np.ndarray:
    """Bits differing between hashes[rows] and every hash: (len(rows), N) int."""
    packed = np.packbits(hashes, axis=1)  # 8 bytes a photo
    xor = packed[rows, None, :] ^ packed[None, :, :]
    return np.unpackbits(xor, axis=2).sum(axis=2, dtype=np.int32)
