"""One typed configuration for a training run: the model's spec, plus data, optimiser and
bookkeeping (nanoGPT keeps the model's config apart from the run's the same way).

Every field carries its help text; the command line is generated from these fields, so each
setting is a flag, and a `--config FILE` recipe sets any of them. The merged result is saved as
`config.json` in the model folder. No TensorFlow here: `train.py --help` stays instant.
"""

from __future__ import annotations

import dataclasses
import json
import math
from dataclasses import dataclass, field
from pathlib import Path

from . import files
from .errors import UserInputError, read_json
from .spec import CONFIG_FILE, ModelSpec, Preprocessing, check_choices, check_keys

CLASS_WEIGHTINGS = ("none", "sqrt", "balanced")
MODES = ("joint", "alternate")
LOSS_WEIGHTINGS = ("fixed", "uncertainty")
OPTIMIZERS = ("adam", "momentum")
STRATEGIES = ("default", "mirrored", "multiworker")
PRECISIONS = ("float32", "mixed_float16")


def setting(default, help: str, group: str, **extra):
    """A field with its command-line help. `resumable`: a rerun may change it and still resume
    (a longer run, a new output place); any other change is refused."""
    return field(default=default, metadata={"help": help, "group": group, **extra})


@dataclass
class TrainConfig:
    # Data: split files and classes.json (absolute paths once resolved).
    train: str | None = setting(None, "training split file, or a NAME.shards.json (or give --data)", "data")
    val: str | None = setting(None, "validation split file: picks the best epoch", "data")
    test: str | None = setting(None, "test split, scored once at the end", "data", resumable=True)
    # Choose --epochs on a run with validation first; the refit then trains on 42% more photos of
    # the 5x6 flowers with that fixed schedule (docs/results.md).
    refit: bool = setting(False, "train on the training and validation splits together, for --epochs, with no "
                          "validation: the last epoch is the model", "data")
    classes: str | None = setting(None, "classes.json (default: beside the training split)", "data")
    out: str | None = setting(None, "model folder (default: models/<data folder name>); rerun to resume", "data",
                              resumable=True)
    tasks: list[str] | None = setting(
        None, "tasks to learn, comma-separated (default: every task in classes.json; one task: a single-task network)",
        "data")
    model: ModelSpec = field(default_factory=ModelSpec)
    pretrained: str | None = setting(
        "imagenet", "start from ImageNet SqueezeNet v1.1: 'imagenet' (the weights shipped with the package; the "
        "default), a Keras .h5 or an OpenVINO .xml; or a trained model folder, to train it further (a final phase at "
        "a larger --image-size, new photos; add --freeze-trunk-epochs 0); --from-scratch starts from random weights",
        "model")
    # Optimisation. joint: one optimiser on the weighted sum of the task losses; alternate: one
    # optimiser per task (trunk + that task's head), taking turns batch by batch in alternate_ratio.
    mode: str = setting("joint", "joint (one optimiser, summed loss) or alternate (one optimiser per task, taking "
                        "turns)", "optimisation", choices=MODES)
    alternate_ratio: dict[str, int] | None = setting(
        None, "alternate mode: steps per turn per task, e.g. type=2,colour=1 (default 1 each)", "optimisation")
    loss_weights: dict[str, float] | None = setting(
        None, "weight of each task's loss, e.g. type=1.0,colour=0.5 (default 1 each)", "optimisation")
    loss_weighting: str = setting("fixed", "fixed (--loss-weights) or uncertainty (learned per-task weights, Kendall "
                                  "et al. 2018)", "optimisation", choices=LOSS_WEIGHTINGS)
    soft_weight: float = setting(1e-3, "soft sharing: weight of the squared distance between the task trunks",
                                 "optimisation")
    optimizer: str = setting("adam", "adam, or momentum (SGD with Nesterov momentum)", "optimisation",
                             choices=OPTIMIZERS)
    # 3e-4: on the synthetic demo 1e-3 left the type head at chance after 30 epochs (test 0.30),
    # 3e-4 reached 0.88; it is also a usual Adam rate for fine-tuning from ImageNet.
    learning_rate: float = setting(3e-4, "peak learning rate (linear warm-up, then cosine decay to 0)",
                                   "optimisation")
    warmup_steps: int = setting(100, "steps of linear learning-rate warm-up (at most a tenth of the run)",
                                "optimisation")
    momentum: float = setting(0.9, "momentum of --optimizer momentum", "optimisation")
    weight_decay: float = setting(5e-5, "L2 penalty on the conv weights", "optimisation")
    # An average of the weights over the last few hundred steps; validation, best/ and so export
    # and serving use it. With the cosine decay to zero it did not help here (docs/results.md).
    ema_decay: float = setting(0.0, "keep an exponential moving average of the weights (decay per step, e.g. 0.995) "
                               "and make it the model; 0: off", "optimisation")
    label_smoothing: float = setting(0.0, "label smoothing of every task's targets, in [0, 1)", "optimisation")
    class_weighting: str = setting("none", "per-class loss weights from the training counts: none, sqrt or balanced",
                                   "optimisation", choices=CLASS_WEIGHTINGS)
    # With --pretrained: epochs that train only the heads (trunk frozen) before everything trains,
    # so the fresh conv10s do not push random gradients into the ImageNet trunk.
    freeze_trunk_epochs: int = setting(2, "with --pretrained, epochs training only the heads before the whole "
                                       "network", "optimisation")
    batch_size: int = setting(32, "photos per step", "optimisation")
    # 12 with the 2 frozen epochs: on the 5x6 flowers the validation accuracy was still rising at
    # epoch 10 and flat by 12 (docs/results.md).
    epochs: int = setting(12, "passes over the training split (a rerun with more epochs goes on, the "
                          "learning-rate schedule stretched to the new end)", "optimisation", resumable=True)
    max_steps: int = setting(0, "stop after this many steps in all (0: no limit beyond --epochs)", "optimisation",
                             resumable=True)
    seed: int = setting(0, "seed of the initial weights, shuffling and augmentation", "optimisation")
    # Augmentation (geometry only; colours stay true).
    max_rotation_deg: float = setting(10.0, "largest random rotation, in degrees", "augmentation")
    min_crop_area: float = setting(0.6, "smallest random crop, as a share of the photo's area", "augmentation")
    # Bookkeeping.
    checkpoint_every: int = setting(200, "steps between checkpoints (and one at every epoch's end)", "bookkeeping",
                                    resumable=True)
    log_every: int = setting(10, "steps between reading the losses back (progress bar, TensorBoard, divergence "
                             "check)", "bookkeeping", resumable=True)
    # Distribution: --batch-size stays the global batch, split evenly among the replicas.
    strategy: str = setting("default", "default (one device), mirrored (this machine's GPUs, or --local-devices N "
                            "logical CPUs) or multiworker (the cluster in TF_CONFIG)", "distribution",
                            choices=STRATEGIES, resumable=True)
    local_devices: int = setting(0, "mirrored without GPUs: split the CPU into N logical devices (for testing; no "
                                 "faster on one CPU)", "distribution", resumable=True)
    precision: str = setting("float32", "float32, or mixed_float16 (GPUs only: float16 compute, float32 weights, "
                             "dynamic loss scaling)", "distribution", choices=PRECISIONS)

    def validate(self) -> None:
        self.model.validate()
        for f in dataclasses.fields(self):
            value = getattr(self, f.name)
            if isinstance(value, float) and not math.isfinite(value):
                raise UserInputError(f"--{f.name.replace('_', '-')} must be a finite number, got {value}")
        for name in ("batch_size", "epochs", "checkpoint_every", "log_every"):
            if getattr(self, name) <= 0:
                raise UserInputError(f"--{name.replace('_', '-')} must be positive, got {getattr(self, name)}")
        for name in ("max_steps", "freeze_trunk_epochs", "warmup_steps", "soft_weight", "weight_decay", "local_devices"):
            if getattr(self, name) < 0:
                raise UserInputError(f"--{name.replace('_', '-')} must be >= 0, got {getattr(self, name)}")
        if self.learning_rate <= 0:
            raise UserInputError(f"--learning-rate must be positive, got {self.learning_rate}")
        if not 0 <= self.label_smoothing < 1:
            raise UserInputError(f"--label-smoothing must be in [0, 1), got {self.label_smoothing}")
        if not 0 <= self.ema_decay < 1:
            raise UserInputError(f"--ema-decay must be in [0, 1), got {self.ema_decay}")
        if self.refit and not self.val:
            raise UserInputError("--refit trains on the training and validation splits together: give --val FILE (or "
                                 "a --data folder holding val.txt)")
        if not 0 < self.min_crop_area <= 1:
            raise UserInputError(f"--min-crop-area must be in (0, 1], got {self.min_crop_area}")
        check_choices(self)
        if self.tasks is not None and len(self.tasks) == 0:
            raise UserInputError("--tasks needs at least one task")
        for flag, per_task in (("loss-weights", self.loss_weights), ("alternate-ratio", self.alternate_ratio)):
            for task, value in (per_task or {}).items():
                if not 0 <= value < math.inf:
                    raise UserInputError(f"--{flag}: {task}={value} must be >= 0")
        if self.alternate_ratio and not any(self.alternate_ratio.values()):
            raise UserInputError("--alternate-ratio: at least one task needs a positive count")
        if self.local_devices and self.strategy != "mirrored":
            raise UserInputError(f"--local-devices needs --strategy mirrored (got --strategy {self.strategy})")

    def check_tasks(self, known) -> tuple[str, ...]:
        """The tasks this run trains, in classes.json order; per-task settings must name known tasks."""
        known = tuple(known)
        for flag, names in (("tasks", self.tasks), ("loss-weights", self.loss_weights),
                            ("alternate-ratio", self.alternate_ratio)):
            unknown = [name for name in names or () if name not in known]
            if unknown:
                raise UserInputError(f"--{flag}: unknown task {', '.join(unknown)} (classes.json has {', '.join(known)})")
        return tuple(task for task in known if self.tasks is None or task in self.tasks)

    def to_json(self) -> dict:
        return dataclasses.asdict(self) | {"model": self.model.to_json()}

    def save(self, folder: Path) -> None:
        files.write_text(Path(folder) / CONFIG_FILE, json.dumps(self.to_json(), indent=1) + "\n")

    @classmethod
    def from_json(cls, raw, where: str) -> TrainConfig:
        raw = dict(check_keys(_nest_model_settings(raw), cls, where))
        raw["model"] = ModelSpec.from_json(raw.get("model", {}), f"{where}: model")
        return cls(**raw)

    @classmethod
    def load(cls, folder: Path | str) -> TrainConfig:
        path = Path(folder) / CONFIG_FILE
        if not path.is_file():
            raise UserInputError(f"{folder}: not a model folder (no {CONFIG_FILE}); train one with train.py --out {folder}")
        return cls.from_json(read_json(path), str(path))

    def replace(self, **changes) -> TrainConfig:
        """A copy with some settings changed, by flat name (`image_size=128`, `epochs=2`)."""
        return TrainConfig.from_json(self.to_json() | changes, "settings")

    def resume_conflicts(self, saved: TrainConfig) -> list[str]:
        """The run settings, other than resumable ones, in which this run differs from the saved one.
        The model's own settings are compared through model.json (ModelSpec.differences)."""
        return [
            f"{f.name}: {getattr(self, f.name)!r} != {getattr(saved, f.name)!r}"
            for f in dataclasses.fields(self)
            if f.name != "model" and not f.metadata.get("resumable") and getattr(self, f.name) != getattr(saved, f.name)
        ]


# "classes" is the run's path to classes.json; the spec's class names come from that file.
MODEL_FIELDS = {f.name for f in dataclasses.fields(ModelSpec)} - {"classes"}
PREPROCESSING_FIELDS = {f.name for f in dataclasses.fields(Preprocessing)}


def _nest_model_settings(raw) -> dict:
    """Flat settings (a recipe file, or a config.json written before model.json existed) -> the
    nested layout: model fields under "model", preprocessing under "model.preprocessing"."""
    if not isinstance(raw, dict):
        return raw
    flat = {k: v for k, v in raw.items() if k != "model"}
    model = dict(raw.get("model") or {})
    preprocessing = dict(model.get("preprocessing") or {})
    for key in list(flat):
        if key in PREPROCESSING_FIELDS:
            preprocessing[key] = flat.pop(key)
        elif key in MODEL_FIELDS:
            model[key] = flat.pop(key)
    if preprocessing:
        model["preprocessing"] = preprocessing
    return flat | ({"model": model} if model else {})


def read_recipe(path: Path) -> dict:
    """A `--config` recipe: a JSON object of settings by name (`image_size` or `image-size`)."""
    path = Path(path)
    if not path.is_file():
        raise UserInputError(f"{path}: --config file not found")
    raw = read_json(path)
    if not isinstance(raw, dict):
        raise UserInputError(f"{path}: expected a JSON object of settings")
    return {key.replace("-", "_"): value for key, value in raw.items() if not key.startswith("//")}
