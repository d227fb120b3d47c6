"""How fast the real loop runs on this machine, and how close that is to what the hardware allows.

Every figure is the median of several timed repeats after a warm-up, and is set against a
ceiling derived from this machine's own float32 matmul speed measured in the same run (the
network's multiply-adds / matmul FLOP/s), so figures from a noisy or different machine still
compare. Stages are timed apart too (decode, augment, step), to show where the time goes.
"""

from __future__ import annotations

import argparse
import json
import os
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import tensorflow as tf

from flowers_mtl.cli.common import SYNTHETIC_DATA, add_verbose, quiet_tensorflow
from flowers_mtl.config import TrainConfig
from flowers_mtl.data import pipeline
from flowers_mtl.data.splits import load_classes, read_split
from flowers_mtl.errors import UserInputError
from flowers_mtl.eval.prediction import predict_paths
from flowers_mtl.export import bundle
from flowers_mtl.inference import load_predictor
from flowers_mtl.model import cost
from flowers_mtl.model.layer import build_model, probability_fn
from flowers_mtl.model.store import TrainedModel
from flowers_mtl.train.step import make_optimizer, make_train_step

from . import graph_mode
from .timing import median_seconds

# A training step costs about three forward passes (forward, then gradients for activations and
# for weights); a multiply-add is two FLOPs.
TRAIN_FORWARD_EQUIVALENTS = 3
FLOPS_PER_MAC = 2


@dataclass
class BenchSettings:
    data: Path
    image_size: int = 224
    batch_size: int = 32
    warmup: int = 3  # steps or batches run before timing
    steps: int = 12  # steps or batches per timed repeat
    repeats: int = 5
    latency_samples: int = 40
    matmul_size: int = 2048


def ceilings(gflops: float, macs_per_image: float) -> tuple[float, float]:
    """(training, inference) images/s that `gflops` of compute allows a network of this size."""
    per_image = FLOPS_PER_MAC * macs_per_image / 1e9  # GFLOP per image, forward
    return gflops / (TRAIN_FORWARD_EQUIVALENTS * per_image), gflops / per_image


def matmul_gflops(size: int, repeats: int) -> float:
    """float32 GFLOP/s of one large matmul: the compute ceiling TensorFlow reaches here."""
    a = tf.random.stateless_normal([size, size], seed=[1, 2])
    b = tf.random.stateless_normal([size, size], seed=[3, 4])
    matmul = tf.function(lambda x, y: tf.reduce_sum(tf.matmul(x, y)))
    return 2 * size**3 / median_seconds(lambda: matmul(a, b).numpy(), repeats) / 1e9


def _time_batches(batches, warmup: int, steps: int, repeats: int, consume) -> float:
    """Median seconds per `steps` batches; `consume` does the work on one batch and syncs."""
    iterator = iter(batches)
    for _ in range(warmup):
        consume(next(iterator))

    def some_steps():
        for _ in range(steps):
            consume(next(iterator))

    return median_seconds(some_steps, repeats, warmup=0)


def run(settings: BenchSettings, log=print) -> dict:
    classes = load_classes(settings.data / "classes.json")
    split = read_split(settings.data / "train.txt", classes)
    config = TrainConfig.from_json({"image_size": settings.image_size, "batch_size": settings.batch_size}, "bench")
    spec = config.model.with_classes(classes)
    size, batch = settings.image_size, settings.batch_size
    per_repeat = settings.steps * batch
    result: dict = {
        "image_size": size, "batch_size": batch, "data": str(settings.data), "photos": len(split),
        "cpu_count": os.cpu_count(), "tensorflow": tf.__version__,
    }
    gflops = matmul_gflops(settings.matmul_size, settings.repeats)
    result["matmul_gflops"] = gflops
    log(f"float32 matmul {settings.matmul_size}x{settings.matmul_size}: {gflops:.1f} GFLOP/s")

    model = build_model(spec, config.weight_decay)
    network_cost = cost.measure(model)
    result["macs_per_image"] = network_cost.macs
    result["params"] = network_cost.params
    log(network_cost.summary())
    ceiling_train, ceiling_infer = ceilings(gflops, network_cost.macs)
    result["ceiling_train_images_per_s"] = ceiling_train
    result["ceiling_infer_images_per_s"] = ceiling_infer

    optimizer = make_optimizer(config, total_steps=10_000)
    step = make_train_step(model, optimizer, model.trainable_variables, config)

    def train_on(images_labels):
        losses = step(*images_labels)
        # Read back every step, so each timed step has finished (the loop reads every --log-every).
        return {task: float(value) for task, value in losses.items()}

    def consume(images_labels):
        images_labels[0].numpy()

    endless = lambda data: data.repeat()  # noqa: E731

    # Stage: reading + decoding + resizing JPEGs (what the first epoch pays once).
    decoded = pipeline.evaluation_dataset(split, spec, batch)
    seconds = _time_batches(endless(decoded), 1, settings.steps, settings.repeats, consume)
    result["decode_images_per_s"] = per_repeat / seconds
    # Stage: augmentation from the decoded cache (every later epoch).
    cached = pipeline.cached_decoded(split, spec)
    pipeline.fill_and_count(cached)
    augmented = pipeline.training_dataset(split, spec, batch, seed=0, epoch=0, cached=cached)
    seconds = _time_batches(endless(augmented), 1, settings.steps, settings.repeats, consume)
    result["augment_images_per_s"] = per_repeat / seconds
    # Stage: the training step alone, on one batch already in memory.
    in_memory = next(iter(augmented))
    seconds = _time_batches(iter(lambda: in_memory, None), settings.warmup, settings.steps, settings.repeats, train_on)
    result["step_images_per_s"] = per_repeat / seconds
    # The same step compiled by XLA (a separate model, so both start from the same kind of state).
    xla_model = build_model(spec, config.weight_decay)
    xla_step = make_train_step(
        xla_model, make_optimizer(config, total_steps=10_000), xla_model.trainable_variables, config, jit_compile=True,
    )
    try:
        seconds = _time_batches(
            iter(lambda: in_memory, None), settings.warmup, settings.steps, settings.repeats,
            lambda batch: [float(v) for v in xla_step(*batch).values()],
        )
        result["step_xla_images_per_s"] = per_repeat / seconds
    except (tf.errors.OpError, ValueError) as err:  # XLA cannot compile some op: say so, keep going
        result["step_xla_images_per_s"] = None
        result["step_xla_error"] = str(err).splitlines()[0]
    # The same step in tf.compat.v1 graph mode (the route not taken), with a per-op profile.
    images, labels = (t.numpy() for t in in_memory)
    graph_rate, op_shares = graph_mode.time_and_profile(
        classes.num_classes(), images, labels, settings.warmup, settings.steps, settings.repeats
    )
    result["graph_mode_step_images_per_s"] = graph_rate
    result["step_time_by_op_family"] = graph_mode.op_families(op_shares)
    result["step_time_top_ops"] = dict(list(op_shares.items())[:8])
    # End to end, as train.py runs after its first epoch: cached decode -> augment -> step.
    seconds = _time_batches(endless(augmented), settings.warmup, settings.steps, settings.repeats, train_on)
    result["train_images_per_s"] = per_repeat / seconds
    # End to end with no cache: every step reads and decodes its JPEGs (train.py's first epoch).
    uncached = pipeline.training_dataset(split, spec, batch, seed=0, epoch=1)
    seconds = _time_batches(endless(uncached), settings.warmup, settings.steps, settings.repeats, train_on)
    result["train_uncached_images_per_s"] = per_repeat / seconds

    # Batched inference from files: read + decode + forward, as evaluate.py runs.
    probabilities = probability_fn(model)

    def infer(images_labels_rows):
        for value in probabilities(images_labels_rows[0]).values():
            value.numpy()

    seconds = _time_batches(endless(decoded), settings.warmup, settings.steps, settings.repeats, infer)
    result["infer_images_per_s"] = per_repeat / seconds

    # Single-image latency, file path to answer, in this warm process: predict.py's code path,
    # for the checkpoint and for each export of the same weights.
    folder = Path(tempfile.mkdtemp(prefix="bench-exports-"))
    trained = TrainedModel(folder, model, checkpoint="(benchmark weights)")
    paths = [split.paths[i % len(split)] for i in range(settings.latency_samples + settings.warmup)]
    result["latency_ms_p50"], result["latency_ms_p95"] = _latency(trained, paths, settings.warmup)
    result["latency_ms_ceiling"] = 1000 / ceiling_infer
    result["exports"] = _export_latencies(trained, split, paths, settings, log)
    for key, ceiling in (
        ("step_images_per_s", ceiling_train),
        ("train_images_per_s", ceiling_train),
        ("train_uncached_images_per_s", ceiling_train),
        ("infer_images_per_s", ceiling_infer),
    ):
        result[key.replace("_images_per_s", "_fraction_of_ceiling")] = result[key] / ceiling
    return result


def _latency(predictor, paths: list[str], warmup: int) -> tuple[float, float]:
    """p50 and p95 milliseconds of predict_paths on one photo at a time, after `warmup` calls."""
    latencies = []
    for i, path in enumerate(paths):
        start = time.perf_counter()
        (outcome,) = predict_paths(predictor, [path])
        if i >= warmup:
            latencies.append((time.perf_counter() - start) * 1000)
        if isinstance(outcome, UserInputError):
            raise outcome
    return float(np.percentile(latencies, 50)), float(np.percentile(latencies, 95))


def _export_latencies(trained, split, paths, settings: BenchSettings, log) -> dict:
    """{kind: {megabytes, latency_ms_p50, latency_ms_p95}} for the SavedModel and every TFLite variant."""
    log("exporting the benchmark weights (SavedModel, TFLite float32/float16/dynamic/int8) for latency")
    spec = trained.spec
    calibration = bundle.calibration_pixels(split, spec.image_size, spec.preprocessing, count=16)
    out = {}
    for form, quantize in bundle.planned("all", None):
        path = bundle.export(trained, trained.folder, form, quantize, calibration)
        predictor = load_predictor(path.parent if form == "savedmodel" else path)
        p50, p95 = _latency(predictor, paths, settings.warmup)
        out[predictor.kind] = {"megabytes": bundle.size_bytes(path) / 1e6, "latency_ms_p50": p50, "latency_ms_p95": p95}
    return out


def _rate(value) -> str:
    return "n/a" if value is None else f"{value:.1f} img/s"


def _ratio(value, reference) -> str:
    return "" if value is None else f"{value / reference:.2f}x the tf.function step"


def format_table(result: dict) -> str:
    rows = [
        ("float32 matmul", f"{result['matmul_gflops']:.1f} GFLOP/s", ""),
        ("training, end to end (decoded cache)", f"{result['train_images_per_s']:.1f} img/s",
         f"{result['train_fraction_of_ceiling']:.0%} of {result['ceiling_train_images_per_s']:.1f}"),
        ("training, end to end (no cache)", f"{result['train_uncached_images_per_s']:.1f} img/s",
         f"{result['train_uncached_fraction_of_ceiling']:.0%}"),
        ("training step alone (in memory)", f"{result['step_images_per_s']:.1f} img/s",
         f"{result['step_fraction_of_ceiling']:.0%}"),
        ("  same step, XLA (jit_compile)", _rate(result["step_xla_images_per_s"]),
         _ratio(result["step_xla_images_per_s"], result["step_images_per_s"])),
        ("  same step, tf.compat.v1 Session", _rate(result["graph_mode_step_images_per_s"]),
         _ratio(result["graph_mode_step_images_per_s"], result["step_images_per_s"])),
        ("inference from files, batched", f"{result['infer_images_per_s']:.1f} img/s",
         f"{result['infer_fraction_of_ceiling']:.0%} of {result['ceiling_infer_images_per_s']:.1f}"),
        ("stage: read + decode + resize", f"{result['decode_images_per_s']:.1f} img/s", ""),
        ("stage: augment from cache", f"{result['augment_images_per_s']:.1f} img/s", ""),
        ("latency, checkpoint, p50 / p95", f"{result['latency_ms_p50']:.1f} / {result['latency_ms_p95']:.1f} ms",
         f"ceiling {result['latency_ms_ceiling']:.1f} ms"),
    ]
    rows += [(f"latency, {kind}, p50 / p95", f"{row['latency_ms_p50']:.1f} / {row['latency_ms_p95']:.1f} ms",
              f"{row['megabytes']:.2f} MB") for kind, row in result["exports"].items()]
    width = max(len(r[0]) for r in rows) + 2
    lines = [f"{result['image_size']}px, batch {result['batch_size']}, {result['cpu_count']} CPUs, TF {result['tensorflow']}"]
    lines += [f"{name:<{width}}{value:<18}{note}" for name, value, note in rows]
    lines.append("training step time by op family (graph-mode trace): " + ", ".join(
        f"{family} {share:.0%}" for family, share in result["step_time_by_op_family"].items()
    ))
    return "\n".join(lines)


def main(argv=None) -> int:
    p = argparse.ArgumentParser(prog="bench.py", description=__doc__.splitlines()[0])
    p.add_argument("--data", type=Path, help="folder with train.txt and classes.json (default: the generated set)")
    p.add_argument("--image-size", type=int, default=BenchSettings.image_size,
                   help=f"input size in pixels; default {BenchSettings.image_size}")
    p.add_argument("--batch-size", type=int, default=BenchSettings.batch_size,
                   help=f"photos per step; default {BenchSettings.batch_size}")
    p.add_argument("--steps", type=int, default=BenchSettings.steps,
                   help=f"steps per timed repeat; default {BenchSettings.steps}")
    p.add_argument("--repeats", type=int, default=BenchSettings.repeats,
                   help=f"timed repeats (the median is reported); default {BenchSettings.repeats}")
    p.add_argument("--smoke", action="store_true", help="a tiny, fast run that only checks the benchmark works")
    p.add_argument("--json", action="store_true", help="print one JSON object")
    add_verbose(p)
    args = p.parse_args(argv)
    if args.data is None:
        from flowers_mtl.data import synthetic

        args.data = synthetic.generate(SYNTHETIC_DATA)
    if not (args.data / "train.txt").is_file():
        raise UserInputError(f"{args.data}: no train.txt in the --data folder")
    settings = BenchSettings(args.data, args.image_size, args.batch_size, steps=args.steps, repeats=args.repeats)
    if args.smoke:
        settings = BenchSettings(args.data, 64, 4, warmup=1, steps=2, repeats=2, latency_samples=3, matmul_size=256)
    quiet_tensorflow()
    result = run(settings, log=(lambda *_: None) if args.json else print)
    print(json.dumps(result) if args.json else format_table(result))
    return 0
