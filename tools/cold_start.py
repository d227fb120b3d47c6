"""Cold start of predict.py: wall time of a whole `python predict.py --model M PHOTO` process,
median of several runs, for each model given (a folder, a SavedModel, .tflite files).

    python -m tools.cold_start --photo P --models models/x models/x/export/savedmodel ... [--runs 5]
"""

from __future__ import annotations

import argparse
import statistics
import subprocess
import sys
import time
from pathlib import Path

from flowers_mtl.cli.common import run

ROOT = Path(__file__).resolve().parents[1]


def seconds(model: str, photo: str) -> float:
    start = time.perf_counter()
    done = subprocess.run([sys.executable, str(ROOT / "predict.py"), "--model", model, photo], capture_output=True,
                          text=True)
    elapsed = time.perf_counter() - start
    if done.returncode != 0:
        raise SystemExit(f"predict.py failed on {model}: {done.stderr.strip().splitlines()[-1]}")
    return elapsed


def main(argv=None) -> int:
    p = argparse.ArgumentParser(prog="python -m tools.cold_start", description=__doc__.split("\n\n")[0])
    p.add_argument("--photo", required=True, help="the one photo to predict")
    p.add_argument("--models", nargs="+", required=True, help="model folders, SavedModels or .tflite files")
    p.add_argument("--runs", type=int, default=5, help="runs per model (the median is reported); default 5")
    args = p.parse_args(argv)
    for model in args.models:
        times = [seconds(model, args.photo) for _ in range(args.runs)]
        print(f"{model}: median {statistics.median(times):.2f} s (min {min(times):.2f}, max {max(times):.2f}, "
              f"{args.runs} runs)", flush=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(run(main))
