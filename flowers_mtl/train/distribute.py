"""tf.distribute for training: the strategy a run asks for, how an epoch's input is split among
workers and replicas, and which worker owns the model folder.

Every strategy runs the same step (see step.py): `--batch-size` is the global batch, each of the
R replicas takes batch/R photos of it, and the losses each replica returns are already divided by
the global count of known labels, so their cross-replica sum is the batch's mean loss.
"""

from __future__ import annotations

import functools
import json
import os

import tensorflow as tf

from ..errors import UserInputError

TF_CONFIG = "TF_CONFIG"


@functools.cache
def make_strategy(name: str, local_devices: int = 0) -> tf.distribute.Strategy:
    """The strategy of --strategy. Called before anything else touches TensorFlow's devices:
    logical CPU devices can only be made before the runtime starts. One of each per process: two
    live strategies over the same devices would share collective-op keys and collide."""
    if name == "default":
        return tf.distribute.get_strategy()
    if name == "mirrored":
        if local_devices:
            return tf.distribute.MirroredStrategy(logical_cpus(local_devices))
        if not tf.config.list_physical_devices("GPU"):
            raise UserInputError("--strategy mirrored: this machine has no GPU; add --local-devices N to mirror over N "
                                 "logical CPU devices (a test of the set-up, not a speed-up)")
        return tf.distribute.MirroredStrategy()
    if name == "multiworker":
        cluster_size(os.environ.get(TF_CONFIG))
        return tf.distribute.MultiWorkerMirroredStrategy()
    raise ValueError(f"unknown strategy {name!r}")


def logical_cpus(count: int) -> list[str]:
    """The first CPU split into `count` logical devices; their names."""
    try:
        cpu = tf.config.list_physical_devices("CPU")[0]
        tf.config.set_logical_device_configuration(cpu, [tf.config.LogicalDeviceConfiguration()] * count)
    except RuntimeError:  # the runtime has started: the devices it has are final
        pass
    devices = tf.config.list_logical_devices("CPU")
    if len(devices) < count:
        raise UserInputError(f"--local-devices {count}: TensorFlow had already started with {len(devices)} CPU device(s)")
    return [device.name for device in devices[:count]]


def cluster_size(raw: str | None) -> int:
    """Check TF_CONFIG (the cluster and this process's place in it) and return how many workers
    it names, so that a mistake is one line rather than a hang or a gRPC traceback."""
    example = ('{"cluster": {"worker": ["host1:12345", "host2:12345"]}, "task": {"type": "worker", "index": 0}}')
    if not raw:
        raise UserInputError(f"--strategy multiworker: set {TF_CONFIG} in every worker's environment, e.g. {example}")
    try:
        config = json.loads(raw)
        workers = config["cluster"].get("worker", []) + config["cluster"].get("chief", [])
        task_type, index = config["task"]["type"], int(config["task"]["index"])
    except (ValueError, KeyError, TypeError, AttributeError):
        raise UserInputError(f"{TF_CONFIG}: expected JSON like {example}, got {raw[:200]!r}") from None
    members = config["cluster"].get(task_type)
    if not isinstance(members, list) or not 0 <= index < len(members):
        raise UserInputError(f"{TF_CONFIG}: task {task_type} {index} is not in the cluster {config['cluster']}")
    return len(workers)


def is_chief(strategy: tf.distribute.Strategy) -> bool:
    """The worker that writes the model folder (the only one, unless multi-worker)."""
    return strategy.extended.should_checkpoint


def worker_name(strategy: tf.distribute.Strategy) -> str:
    resolver = getattr(strategy, "cluster_resolver", None)
    return f"{resolver.task_type} {resolver.task_id}" if resolver and resolver.task_type else "worker 0"


def check_batch(strategy: tf.distribute.Strategy, batch_size: int) -> int:
    """The per-replica batch: the global batch split evenly, or a one-line refusal."""
    replicas = strategy.num_replicas_in_sync
    if batch_size % replicas:
        raise UserInputError(f"--batch-size {batch_size} is the global batch and must split evenly among the "
                             f"{replicas} replicas; use a multiple of {replicas}")
    return batch_size // replicas


def check_precision(precision: str) -> None:
    """float16 is a GPU format: a CPU emulates it, far slower than float32, so it is refused there."""
    if precision == "mixed_float16" and not tf.config.list_physical_devices("GPU"):
        raise UserInputError("--precision mixed_float16 needs a GPU: a CPU has no float16 arithmetic and would run "
                             "slower than float32; train here with --precision float32 (the default)")


def distribute_epoch(strategy: tf.distribute.Strategy, make_dataset):
    """`make_dataset(index, count)` builds input pipeline `index` of `count` (one per worker),
    batched per replica; each step takes the next batch of every local replica in turn."""

    def dataset_fn(context: tf.distribute.InputContext) -> tf.data.Dataset:
        return make_dataset(context.input_pipeline_id, context.num_input_pipelines)

    return strategy.distribute_datasets_from_function(dataset_fn)


def sum_over_replicas(strategy: tf.distribute.Strategy, per_replica: dict) -> dict:
    """Each replica's losses are its share of the global mean; their sum is the mean."""
    return {key: strategy.reduce(tf.distribute.ReduceOp.SUM, value, axis=None) for key, value in per_replica.items()}
