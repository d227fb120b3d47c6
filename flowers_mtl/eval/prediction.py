"""Predicting type and colour for single photos."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ..data import images
from ..errors import UserInputError


@dataclass
class Prediction:
    path: str
    top: dict[str, list[tuple[str, float]]]  # per task, (label, probability) best first

    def to_json(self) -> dict:
        result: dict = {"path": self.path}
        for task, ranked in self.top.items():
            label, prob = ranked[0]
            result[task] = {"label": label, "prob": round(prob, 6)}
            if len(ranked) > 1:
                result[task]["top"] = [{"label": name, "prob": round(p, 6)} for name, p in ranked]
        return result

    def to_text(self) -> str:
        parts = []
        for task, ranked in self.top.items():
            parts.append(f"{task}: " + ", ".join(f"{label} {prob:.3f}" for label, prob in ranked))
        return f"{self.path}: " + "; ".join(parts)


def predict_paths(trained, paths, top_k: int = 1, batch_size: int = 32):
    """Yields a Prediction or a UserInputError per path, in order: one bad file stops nothing.

    `trained` is any loaded model (inference.load_predictor): this module imports no TensorFlow,
    so predicting with a .tflite model never loads it."""
    if top_k < 1:
        raise UserInputError(f"--top-k must be at least 1, got {top_k}")
    for start in range(0, len(paths), batch_size):
        chunk = paths[start : start + batch_size]
        loaded, outcomes = [], []
        for path in chunk:
            try:
                loaded.append(images.load_rgb(path, trained.image_size, trained.spec.preprocessing))
                outcomes.append(None)
            except UserInputError as err:
                outcomes.append(err)
        probs = trained.probabilities(np.stack(loaded).astype(np.float32)) if loaded else {}
        row = 0
        for path, error in zip(chunk, outcomes):
            if error is not None:
                yield error
                continue
            top = {}
            for task, names in trained.classes.by_task.items():
                p = probs[task][row]
                order = np.argsort(-p)[: min(top_k, len(names))]
                top[task] = [(names[i], float(p[i])) for i in order]
            row += 1
            yield Prediction(path, top)
