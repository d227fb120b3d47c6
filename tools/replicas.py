"""Training throughput on 1 device against N mirrored replicas (logical CPU devices here, GPUs
where there are some), each setting in its own train.py process, alternating, repeated.

    python -m tools.replicas --data ../shared/datasets/flowers/seed [--devices 2] [--repeats 3]

Each run trains --epochs epochs from the ImageNet weights with the whole network moving from
the first step; the figure of a run is the median images/s of its epochs after the first (the
first pays for tracing). Printed: every run's figure, then the median per setting and the ratio.
"""

from __future__ import annotations

import argparse
import re
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
EPOCH_SPEED = re.compile(r"^epoch (\d+)/\d+ .*\| ([\d.]+) img/s", re.MULTILINE)


def run(data: Path, out: Path, devices: int, args) -> float:
    command = [sys.executable, "train.py", "--data", str(data), "--out", str(out), "--epochs", str(args.epochs),
               "--batch-size", str(args.batch_size), "--image-size", str(args.image_size),
               "--freeze-trunk-epochs", "0"]
    if devices > 1:
        command += ["--strategy", "mirrored", "--local-devices", str(devices)]
    done = subprocess.run(command, cwd=ROOT, capture_output=True, text=True)
    if done.returncode:
        sys.exit(f"{' '.join(command)} failed:\n{done.stdout[-2000:]}{done.stderr[-2000:]}")
    speeds = [float(speed) for epoch, speed in EPOCH_SPEED.findall(done.stdout) if int(epoch) > 1]
    return statistics.median(speeds)


def main(argv=None) -> int:
    p = argparse.ArgumentParser(prog="python -m tools.replicas", description=__doc__.split("\n")[0])
    p.add_argument("--data", type=Path, required=True, help="folder with train.txt (and val.txt)")
    p.add_argument("--devices", type=int, default=2, help="replicas of the mirrored runs; default 2")
    p.add_argument("--repeats", type=int, default=3, help="runs per setting; default 3")
    p.add_argument("--epochs", type=int, default=3, help="epochs per run; default 3")
    p.add_argument("--batch-size", type=int, default=32, help="the global batch; default 32")
    p.add_argument("--image-size", type=int, default=224, help="default 224")
    args = p.parse_args(argv)
    figures: dict[int, list[float]] = {1: [], args.devices: []}
    with tempfile.TemporaryDirectory() as work:
        for repeat in range(args.repeats):
            for devices in figures:
                speed = run(args.data, Path(work) / f"run-{devices}-{repeat}", devices, args)
                figures[devices].append(speed)
                print(f"repeat {repeat + 1}: {devices} device(s): {speed:.1f} img/s", flush=True)
    one, many = (statistics.median(figures[d]) for d in figures)
    print(f"median of {args.repeats}: 1 device {one:.1f} img/s, {args.devices} mirrored replicas {many:.1f} img/s "
          f"({many / one:.2f}x), batch {args.batch_size} at {args.image_size} px")
    return 0


if __name__ == "__main__":
    sys.exit(main())
