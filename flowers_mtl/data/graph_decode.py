"""The preprocessing contract in TensorFlow ops, for graphs that take encoded photos (the
SavedModel's `serving_default`, which TF Serving feeds with bytes).

images.load_rgb (Pillow) is the reference; this follows it step by step: JPEG draft scaling by the
same rule, the same resize filter with its antialiasing, the same centre crop, alpha composited
on the same background. What it cannot do is EXIF orientation (TensorFlow's decoders ignore it),
so a sideways phone photo sent as bytes is seen sideways: clients that care send pixels (the
`pixels` signature) decoded with Pillow, as predict.py and serve.py do. The measured difference
between the two paths is in the README (Preprocessing: one contract, two decoders).
"""

from __future__ import annotations

import tensorflow as tf

from ..spec import Preprocessing

KERNEL = {"bilinear": "triangle", "bicubic": "keyscubic", "lanczos": "lanczos3"}  # Pillow's filters, antialiased as it does
DRAFT_SCALES = (1, 2, 4, 8)  # libjpeg's DCT scaling, as Pillow's JpegImageFile.draft picks it


def decode_rgb(encoded: tf.Tensor, size: int, contract: Preprocessing = Preprocessing()) -> tf.Tensor:
    """One encoded photo (scalar tf.string: JPEG, PNG, GIF or BMP) -> uint8 (size, size, 3)."""
    image = tf.cond(
        tf.io.is_jpeg(encoded),
        lambda: _decode_jpeg(encoded, size, contract.jpeg_draft),
        lambda: _decode_other(encoded, contract.alpha_background),
    )
    resized = _resize(tf.cast(image, tf.float32), size, contract)
    return tf.cast(tf.clip_by_value(tf.round(resized), 0.0, 255.0), tf.uint8)


def decode_batch(encoded: tf.Tensor, size: int, contract: Preprocessing = Preprocessing()) -> tf.Tensor:
    """A batch of encoded photos (N,) -> uint8 (N, size, size, 3)."""
    return tf.map_fn(lambda one: decode_rgb(one, size, contract), encoded,
                     fn_output_signature=tf.TensorSpec([size, size, 3], tf.uint8))


def _decode_jpeg(encoded: tf.Tensor, size: int, draft: bool) -> tf.Tensor:
    """Pillow's draft rule: the largest of 8, 4, 2, 1 not above min(width // size, height // size)."""
    if not draft:
        return tf.io.decode_jpeg(encoded, channels=3, dct_method="INTEGER_ACCURATE")
    height_width = tf.io.extract_jpeg_shape(encoded)[:2]
    room = tf.reduce_min(height_width // size)
    index = tf.reduce_sum(tf.cast(room >= tf.constant(DRAFT_SCALES[1:], tf.int32), tf.int32))
    branches = [
        (lambda ratio=ratio: tf.io.decode_jpeg(encoded, channels=3, ratio=ratio, dct_method="INTEGER_ACCURATE"))
        for ratio in DRAFT_SCALES
    ]
    return tf.switch_case(index, branches)


def _decode_other(encoded: tf.Tensor, background: tuple[int, int, int]) -> tf.Tensor:
    """PNG, GIF (first frame) or BMP as RGB; transparency composited on the contract's background
    (GIF's decoder gives no alpha: its transparent pixels keep their palette colour)."""
    rgba = tf.cond(
        tf.equal(tf.strings.substr(encoded, 0, 3), b"GIF"),
        lambda: tf.pad(tf.io.decode_image(encoded, channels=3, expand_animations=False), [[0, 0], [0, 0], [0, 1]],
                       constant_values=255),
        lambda: tf.io.decode_image(encoded, channels=4, expand_animations=False),
    )
    rgba = tf.cast(rgba, tf.float32)
    alpha = rgba[..., 3:] / 255.0
    rgb = rgba[..., :3] * alpha + tf.constant(background, tf.float32) * (1.0 - alpha)
    return tf.cast(tf.round(rgb), tf.uint8)


def _resize(image: tf.Tensor, size: int, contract: Preprocessing) -> tf.Tensor:
    """Squash the whole photo, or take its largest centred square, to size x size. Like Pillow's
    resize with a box (ImageOps.fit), the filter near the square's edges reads the pixels beyond
    them, so the square is not cut out first but mapped by a scale and a shift."""
    shape = tf.cast(tf.shape(image)[:2], tf.float32)
    if contract.resize == "center_crop":
        side = tf.reduce_min(shape)
        scale, offset = tf.fill([2], size / side), (shape - side) / 2.0
    else:
        scale, offset = size / shape, tf.zeros([2])
    if contract.resample == "nearest":
        square = tf.image.crop_to_bounding_box(image, *tf.unstack(tf.cast(offset, tf.int32)),
                                               *tf.unstack(tf.cast(tf.round(size / scale), tf.int32)))
        return tf.image.resize(square, [size, size], method="nearest")
    return tf.raw_ops.ScaleAndTranslate(images=image[tf.newaxis], size=[size, size], scale=scale,
                                        translation=-offset * scale, kernel_type=KERNEL[contract.resample],
                                        antialias=True)[0]
