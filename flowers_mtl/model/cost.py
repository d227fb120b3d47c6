"""What a network costs: parameters and multiply-adds per image, trunk and each head apart.

Multiply-adds are counted from the traced graph (every Conv2D: output pixels x kernel size x
input channels x output channels), so they follow whatever split point or head layout the model
has; pooling, ReLU and bias adds are left out, as is usual.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import tensorflow as tf

from .. import architecture


@dataclass
class Cost:
    trunk_params: int  # with soft sharing, every task's copy of the trunk
    head_params: dict[str, int]
    trunk_macs: int  # multiply-adds per image, forward
    head_macs: dict[str, int]

    @property
    def params(self) -> int:
        return self.trunk_params + sum(self.head_params.values())

    @property
    def macs(self) -> int:
        return self.trunk_macs + sum(self.head_macs.values())

    def summary(self) -> str:
        heads = ", ".join(f"{task} head {n / 1e9:.3f} G" for task, n in self.head_macs.items())
        return (
            f"{self.params:,} parameters (trunk {self.trunk_params:,}); {self.macs / 1e9:.3f} G multiply-adds per "
            f"image forward (trunk {self.trunk_macs / 1e9:.3f} G, {heads})"
        )


def measure(model) -> Cost:
    """Trace one forward pass at the model's input size and count."""
    image_size = model.spec.image_size
    tasks = model.tasks
    forward = tf.function(lambda images: model(images, training=False))
    graph = forward.get_concrete_function(tf.TensorSpec([1, image_size, image_size, 3], tf.float32)).graph
    trunk_macs, head_macs = 0, {task: 0 for task in tasks}
    for op in graph.get_operations():
        if op.type != "Conv2D":
            continue
        _, height, width, out_channels = op.outputs[0].shape
        kernel_h, kernel_w, in_channels, _ = op.inputs[1].shape
        macs = height * width * kernel_h * kernel_w * in_channels * out_channels
        name = architecture.parse_name(op.name, tasks)
        if architecture.is_head(name, model.spec.split_after):
            head_macs[name.task] += macs
        else:
            trunk_macs += macs
    head_params = {task: _count(model.head_variables(task)) for task in tasks}
    return Cost(_count(model.trunk_variables()), head_params, int(trunk_macs), {t: int(n) for t, n in head_macs.items()})


def _count(variables) -> int:
    return sum(int(np.prod(v.shape)) for v in variables)
