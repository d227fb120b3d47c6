"""What every exported model shares: its manifest, batching, and flip TTA done outside the graph."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np

from ..signature import Manifest


@dataclass
class ExportedModel:
    source: Path
    manifest: Manifest
    flip_tta: bool = False
    batch_size: int = 32

    @property
    def spec(self):
        return self.manifest.spec

    @property
    def classes(self):
        return self.spec.classes

    @property
    def all_classes(self):
        return self.manifest.data_classes

    @property
    def image_size(self) -> int:
        return self.spec.image_size

    @property
    def kind(self) -> str:
        """'savedmodel', or 'tflite' and its weights: float32, float16, dynamic or int8."""
        if self.manifest.format == "savedmodel":
            return "savedmodel"
        return f"tflite {'float32' if self.manifest.quantize == 'none' else self.manifest.quantize}"

    @property
    def report_dir(self) -> Path:
        """Beside the export, never inside it: a SavedModel folder is what TF Serving loads as is."""
        return self.source.parent / f"{self.source.stem or self.source.name}-evaluation"

    def probabilities(self, images) -> dict[str, np.ndarray]:
        """RGB pixels (N, S, S, 3) in 0..255 -> {task: (N, classes)}; flip TTA averages the mirror's."""
        pixels = np.clip(np.rint(np.asarray(images, dtype=np.float32)), 0, 255).astype(np.uint8)
        probs = self._batched(pixels)
        if self.flip_tta:
            mirrored = self._batched(np.ascontiguousarray(pixels[:, :, ::-1]))
            probs = {task: (value + mirrored[task]) / 2.0 for task, value in probs.items()}
        return probs

    def _batched(self, pixels: np.ndarray) -> dict[str, np.ndarray]:
        parts = [self.run(pixels[start : start + self.batch_size]) for start in range(0, len(pixels), self.batch_size)]
        return {task: np.concatenate([part[task] for part in parts]) for task in self.classes.tasks}

    def run(self, pixels: np.ndarray) -> dict[str, np.ndarray]:
        """uint8 pixels (n, S, S, 3) -> {task: float probabilities (n, classes)}."""
        raise NotImplementedError
