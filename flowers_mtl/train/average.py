"""An exponential moving average of the weights (Polyak averaging), kept as the model.

The shadow weights live beside the model in the training checkpoint, so a resumed run goes on
averaging; `swapped` puts them into the model for validation and best/ (and so for export and
serving), then puts the trained weights back. The decay ramps up as (1 + n) / (10 + n) over the
first updates, as tf.train.ExponentialMovingAverage does with num_updates, so the average does not
remember the ImageNet start.
"""

from __future__ import annotations

import contextlib

import tensorflow as tf


class WeightAverage:
    """Shadow copies of `variables`; `decay` 0 keeps none and every method does nothing. Only the
    shadows and the update count are checkpointed (`trackable`), so the model's own variables keep
    their checkpoint names."""

    def __init__(self, variables, decay: float):
        self.decay = decay
        self._variables = list(variables) if decay else []
        self.shadows = [tf.Variable(v.read_value(), trainable=False, name=f"ema_{i}")
                        for i, v in enumerate(self._variables)]
        self.updates = tf.Variable(0, dtype=tf.int64, trainable=False, name="ema_updates")

    def trackable(self) -> tf.train.Checkpoint:
        return tf.train.Checkpoint(shadows=self.shadows, updates=self.updates)

    @property
    def enabled(self) -> bool:
        return bool(self._variables)

    def update(self) -> None:
        if self.enabled:
            self._update()

    @tf.function
    def _update(self):
        n = tf.cast(self.updates, tf.float32)
        decay = tf.minimum(self.decay, (1.0 + n) / (10.0 + n))
        for shadow, variable in zip(self.shadows, self._variables):
            shadow.assign(decay * shadow + (1.0 - decay) * variable)
        self.updates.assign_add(1)

    @contextlib.contextmanager
    def swapped(self):
        """The model holds the averaged weights inside the block, its own again after it."""
        self._swap()
        try:
            yield
        finally:
            self._swap()

    def _swap(self) -> None:
        for shadow, variable in zip(self.shadows, self._variables):
            own = variable.read_value()
            variable.assign(shadow)
            shadow.assign(own)
