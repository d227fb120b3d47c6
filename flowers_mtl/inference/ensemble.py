"""Several trained models answering as one: the mean of their probabilities (an ensemble of
seeds, say). The members must answer the same classes from the same input (size and
preprocessing contract), so one decoded photo feeds them all; each may be any kind of model."""

from __future__ import annotations

import numpy as np

from ..errors import UserInputError


class Ensemble:
    """The face every loaded model has (see inference/__init__.py), over several members."""

    def __init__(self, members: list):
        first = members[0]
        for member in members[1:]:
            if member.classes != first.classes or member.all_classes != first.all_classes:
                raise UserInputError(f"{member.source}: answers other classes than {first.source}; an ensemble's "
                                     "models must share their classes")
            if member.image_size != first.image_size or member.spec.preprocessing != first.spec.preprocessing:
                raise UserInputError(f"{member.source}: takes {member.image_size} px photos made another way than "
                                     f"{first.source} ({first.image_size} px); an ensemble's models must share their input")
        self.members = members
        self.spec, self.classes, self.all_classes = first.spec, first.classes, first.all_classes
        self.image_size, self.flip_tta = first.image_size, first.flip_tta

    @property
    def source(self) -> str:
        return " + ".join(str(member.source) for member in self.members)

    @property
    def kind(self) -> str:
        return f"ensemble of {len(self.members)}: {', '.join(member.kind for member in self.members)}"

    @property
    def report_dir(self):
        return self.members[0].report_dir / f"ensemble-of-{len(self.members)}"

    def probabilities(self, images) -> dict[str, np.ndarray]:
        """The members' probabilities averaged, task by task (N members: N times the compute)."""
        answers = [member.probabilities(images) for member in self.members]
        return {task: np.mean([np.asarray(answer[task]) for answer in answers], axis=0) for task in answers[0]}
