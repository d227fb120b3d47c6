"""The preprocessing contract in TensorFlow ops (the SavedModel's bytes signature) against the
Pillow reference, file format by format: at most one level of 255 apart."""

import io

import numpy as np
import pytest
import tensorflow as tf
from PIL import Image

from flowers_mtl.data import graph_decode, images
from flowers_mtl.spec import Preprocessing


def picture(height: int, width: int, mode: str = "RGB", seed: int = 0) -> Image.Image:
    """Smooth content (a real photo's statistics, not noise), so resampling differences show."""
    yy, xx = np.mgrid[:height, :width]
    channels = [(np.sin(xx / (7 + 3 * c) + seed) * np.cos(yy / (5 + 2 * c)) + 1) * 127 for c in range(len(mode))]
    return Image.fromarray(np.squeeze(np.stack(channels, axis=-1).astype(np.uint8), axis=-1) if mode == "L"
                           else np.stack(channels, axis=-1).astype(np.uint8), mode)


def both(tmp_path, image: Image.Image, fmt: str, size: int, contract: Preprocessing = Preprocessing()):
    path = tmp_path / f"photo.{fmt.lower()}"
    image.save(path, fmt, **({"quality": 90} if fmt == "JPEG" else {}))
    graph = graph_decode.decode_rgb(tf.constant(path.read_bytes()), size, contract).numpy()
    return graph.astype(int), images.load_rgb(str(path), size, contract).astype(int)


@pytest.mark.parametrize("fmt", ["JPEG", "PNG", "GIF", "BMP"])
@pytest.mark.parametrize("resize", ["squash", "center_crop"])
@pytest.mark.parametrize("resample", ["bilinear", "bicubic"])
def test_each_format_decodes_to_the_pillow_pixels(tmp_path, fmt, resize, resample):
    graph, pillow = both(tmp_path, picture(90, 131), fmt, 48, Preprocessing(resize=resize, resample=resample))
    assert graph.shape == (48, 48, 3)
    assert np.abs(graph - pillow).max() <= 1


def test_a_large_jpeg_is_draft_decoded_as_pillow_does(tmp_path):
    """1200 x 900 to 64 px: Pillow decodes at 1/8 scale; without the same rule the pixels differ."""
    graph, pillow = both(tmp_path, picture(900, 1200, seed=3), "JPEG", 64)
    assert np.abs(graph - pillow).max() <= 1
    no_draft_graph, no_draft_pillow = both(tmp_path, picture(900, 1200, seed=3), "JPEG", 64, Preprocessing(jpeg_draft=False))
    assert np.abs(no_draft_graph - no_draft_pillow).max() <= 1


def test_transparency_is_composited_on_the_contract_background(tmp_path):
    rgba = picture(40, 40, "RGBA")
    graph, pillow = both(tmp_path, rgba, "PNG", 32, Preprocessing(alpha_background=(0, 0, 255)))
    assert np.abs(graph - pillow).max() <= 1


def test_grayscale_becomes_three_equal_channels(tmp_path):
    graph, pillow = both(tmp_path, picture(50, 60, "L"), "PNG", 32)
    assert np.abs(graph - pillow).max() <= 1 and np.array_equal(graph[..., 0], graph[..., 2])


def test_a_batch_decodes_photo_by_photo(tmp_path):
    blobs = []
    for seed in range(3):
        buffer = io.BytesIO()
        picture(30 + 10 * seed, 50, seed=seed).save(buffer, "PNG")
        blobs.append(buffer.getvalue())
    batch = graph_decode.decode_batch(tf.constant(blobs), 24).numpy()
    assert batch.shape == (3, 24, 24, 3) and batch.dtype == np.uint8
    assert np.array_equal(batch[1], graph_decode.decode_rgb(tf.constant(blobs[1]), 24).numpy())
