"""A small generated data set of SYNTHETIC flower pictures, so that a fresh checkout can train,
evaluate and predict without downloading anything.

Four flower shapes in four petal colours, drawn with Pillow at random size, position and rotation
on a cluttered background of foliage-coloured strokes and blobs; a few mixed bouquets carry an
unknown colour. It is a smoke test of the whole tool, not a substitute for real photos.
"""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
from PIL import Image, ImageDraw, ImageFilter

from . import prepare

TYPES = ("daisy", "tulip", "star", "clover")
COLOURS = {  # petal RGB
    "red": (205, 30, 40),
    "yellow": (235, 205, 35),
    "white": (240, 240, 232),
    "purple": (130, 55, 175),
}
FOLIAGE = ((40, 110, 40), (70, 140, 50), (95, 75, 45), (120, 120, 110), (30, 80, 60), (150, 170, 90))
DONE_MARKER = ".complete"


def _jitter(rng: np.random.Generator, rgb, amount: int = 18) -> tuple[int, int, int]:
    return tuple(int(np.clip(c + rng.integers(-amount, amount + 1), 0, 255)) for c in rgb)


def _background(rng: np.random.Generator, size: int) -> Image.Image:
    top, bottom = np.array(_jitter(rng, FOLIAGE[rng.integers(len(FOLIAGE))], 30)), np.array(_jitter(rng, FOLIAGE[rng.integers(len(FOLIAGE))], 30))
    ramp = np.linspace(0, 1, size)[:, None, None]
    pixels = (top * (1 - ramp) + bottom * ramp) * np.ones((size, size, 3))
    pixels += rng.normal(0, 8, pixels.shape)
    image = Image.fromarray(np.clip(pixels, 0, 255).astype(np.uint8))
    draw = ImageDraw.Draw(image)
    for _ in range(rng.integers(8, 20)):  # clutter: leaves, stems, pebbles
        colour = _jitter(rng, FOLIAGE[rng.integers(len(FOLIAGE))], 25)
        x, y = rng.integers(0, size, 2)
        if rng.random() < 0.5:
            angle, length = rng.uniform(0, 2 * math.pi), rng.uniform(0.2, 0.7) * size
            draw.line([(x, y), (x + length * math.cos(angle), y + length * math.sin(angle))], fill=colour, width=int(rng.integers(1, 5)))
        else:
            rx, ry = rng.uniform(0.03, 0.15, 2) * size
            draw.ellipse([x - rx, y - ry, x + rx, y + ry], fill=colour)
    return image.filter(ImageFilter.GaussianBlur(0.8))


def _petal_polygon(kind: str, radius: float, rng: np.random.Generator) -> list[list[tuple[float, float]]]:
    """Polygons around (0, 0), one per petal, for each flower shape."""
    def ellipse(cx, cy, rx, ry, angle, points=20):
        ca, sa = math.cos(angle), math.sin(angle)
        return [
            (cx + rx * math.cos(t) * ca - ry * math.sin(t) * sa, cy + rx * math.cos(t) * sa + ry * math.sin(t) * ca)
            for t in np.linspace(0, 2 * math.pi, points, endpoint=False)
        ]

    if kind == "daisy":  # many thin petals
        n = int(rng.integers(12, 18))
        return [ellipse(0.55 * radius * math.cos(a), 0.55 * radius * math.sin(a), 0.45 * radius, 0.09 * radius, a)
                for a in np.linspace(0, 2 * math.pi, n, endpoint=False)]
    if kind == "clover":  # four round petals
        return [ellipse(0.45 * radius * math.cos(a), 0.45 * radius * math.sin(a), 0.42 * radius, 0.42 * radius, a)
                for a in np.linspace(0, 2 * math.pi, 4, endpoint=False)]
    if kind == "star":  # one five-pointed star
        points = []
        for i in range(10):
            r = radius if i % 2 == 0 else 0.4 * radius
            a = i * math.pi / 5 - math.pi / 2
            points.append((r * math.cos(a), r * math.sin(a)))
        return [points]
    # tulip: a cup of three overlapping upright petals
    return [ellipse(dx * radius, -0.1 * radius, 0.33 * radius, 0.7 * radius, tilt)
            for dx, tilt in ((-0.3, -0.25), (0.3, 0.25), (0.0, 0.0))]


def draw_flower(image: Image.Image, kind: str, rgb, rng: np.random.Generator, centre, radius: float) -> None:
    draw = ImageDraw.Draw(image)
    angle = rng.uniform(0, 2 * math.pi) if kind != "tulip" else rng.uniform(-0.4, 0.4)
    cx, cy = centre
    if kind == "tulip":  # stem
        draw.line([(cx, cy), (cx + rng.uniform(-0.3, 0.3) * radius, cy + 2.2 * radius)], fill=(40, 120, 40), width=max(2, int(radius / 8)))
    ca, sa = math.cos(angle), math.sin(angle)
    for polygon in _petal_polygon(kind, radius, rng):
        shade = _jitter(rng, rgb, 14)
        draw.polygon([(cx + x * ca - y * sa, cy + x * sa + y * ca) for x, y in polygon], fill=shade, outline=_jitter(rng, rgb, 30))
    if kind in ("daisy", "clover", "star"):  # small dark centre, so that the petals carry the colour
        r = radius * (0.18 if kind == "daisy" else 0.12)
        draw.ellipse([cx - r, cy - r, cx + r, cy + r], fill=_jitter(rng, (110, 70, 30), 20))


def draw_picture(kind: str, colours: list, size: int, rng: np.random.Generator) -> Image.Image:
    """One picture: a background, then one flower per colour given (several = a mixed bouquet)."""
    image = _background(rng, size)
    for rgb in colours:
        radius = rng.uniform(0.22, 0.4) * size / (1 if len(colours) == 1 else 1.5)
        centre = rng.uniform(radius * 0.8, size - radius * 0.8, 2)
        draw_flower(image, kind, rgb, rng, centre, radius)
    return image


def generate(root: Path, per_class: int = 80, size: int = 128, unknown_per_type: int = 3, seed: int = 0) -> Path:
    """Write ROOT/images/<type>/<colour>/*.jpg and ROOT/{train,val,test}.txt + classes.json.

    Idempotent: a finished set (marked by a file) is left as it is.
    """
    root = Path(root)
    if (root / DONE_MARKER).is_file():
        return root
    rng = np.random.default_rng(seed)
    names = list(COLOURS)
    for kind in TYPES:
        for colour in names:
            folder = root / "images" / kind / colour
            folder.mkdir(parents=True, exist_ok=True)
            for i in range(per_class):
                draw_picture(kind, [COLOURS[colour]], size, rng).save(folder / f"{kind}_{colour}_{i:03d}.jpg", quality=90)
        folder = root / "images" / kind / prepare.UNKNOWN_FOLDER
        folder.mkdir(parents=True, exist_ok=True)
        for i in range(unknown_per_type):
            mixed = [COLOURS[c] for c in rng.choice(names, size=2, replace=False)]
            draw_picture(kind, mixed, size, rng).save(folder / f"{kind}_mixed_{i:03d}.jpg", quality=90)
    photos, classes = prepare.photos_from_folder(root / "images")
    prepare.write(prepare.prepare(photos, classes, seed=seed), root)
    (root / "README.txt").write_text(
        "SYNTHETIC data generated by flowers_mtl.synthetic: drawn shapes, not photographs.\n"
    )
    (root / DONE_MARKER).write_text("")
    return root
