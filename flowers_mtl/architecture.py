"""SqueezeNet v1.1's layer table and its variable-name scheme, as plain data (no TensorFlow).

The network builds its scopes from this table, and everything that needs to know which layer a
variable or an op belongs to (the model's variable groups, the ImageNet import, soft sharing,
the cost count, the tests) asks `parse_name`: one parser, one naming scheme.

    squeezenet/conv1/weights                  trunk (shared by every task)
    squeezenet/fire4/expand3x3/biases         trunk
    squeezenet/<task>/fire9/squeeze1x1/...    a task's head (after the split point)
    squeezenet/<task>/conv1/...               a task's own trunk (soft sharing)
"""

from __future__ import annotations

from typing import NamedTuple

SCOPE = "squeezenet"  # outer variable scope


class Conv(NamedTuple):
    name: str
    filters: int
    kernel: int
    stride: int


class Pool(NamedTuple):
    """3x3/2 max pool with Caffe's ceil rounding."""

    name: str


class Fire(NamedTuple):
    """squeeze 1x1 -> (expand 1x1 | expand 3x3), concatenated."""

    name: str
    squeeze: int
    expand: int


CONV1 = Conv("conv1", 64, 3, 2)
# conv1 comes first; conv10 (1x1 to the task's classes) closes each task's head.
LAYERS: tuple[Pool | Fire, ...] = (
    Pool("pool1"),
    Fire("fire2", 16, 64),
    Fire("fire3", 16, 64),
    Pool("pool3"),
    Fire("fire4", 32, 128),
    Fire("fire5", 32, 128),
    Pool("pool5"),
    Fire("fire6", 48, 192),
    Fire("fire7", 48, 192),
    Fire("fire8", 64, 256),
    Fire("fire9", 64, 256),
)
CLASSIFIER = "conv10"
SPLIT_POINTS = tuple(layer.name for layer in LAYERS if isinstance(layer, Fire))
DEFAULT_SPLIT = "fire8"


def split_index(split_after: str) -> int:
    """How many entries of LAYERS the trunk holds."""
    if split_after not in SPLIT_POINTS:
        raise ValueError(f"split_after must be one of {', '.join(SPLIT_POINTS)}, got {split_after!r}")
    return [layer.name for layer in LAYERS].index(split_after) + 1


def head_layers(split_after: str) -> tuple[str, ...]:
    """The layers with variables that each task owns after the split."""
    after = LAYERS[split_index(split_after):]
    return tuple(layer.name for layer in after if isinstance(layer, Fire)) + (CLASSIFIER,)


class Name(NamedTuple):
    """A variable or op name, parsed: which task owns it (None: shared), which Caffe layer path
    (`fire9/expand1x1`), and the last part (`weights`, `biases`, or an op's own name)."""

    task: str | None
    path: str
    kind: str

    @property
    def layer(self) -> str:
        """The top-level layer: `fire9` of `fire9/expand1x1`."""
        return self.path.split("/", 1)[0]


def parse_name(name: str, tasks) -> Name:
    """Parse `[prefix/]squeezenet/[task/]layer[/sublayer]/kind[:0]`."""
    parts = name.split(":")[0].split(f"{SCOPE}/", 1)[-1].split("/")
    task = parts[0] if parts[0] in tasks and len(parts) > 1 else None
    if task is not None:
        parts = parts[1:]
    return Name(task, "/".join(parts[:-1]), parts[-1])


def is_head(name: Name, split_after: str) -> bool:
    return name.task is not None and name.layer in head_layers(split_after)
