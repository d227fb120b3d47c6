#!/usr/bin/env python3
"""Train the two-task SqueezeNet: python train.py --data DIR (no arguments: a synthetic demo)."""

import sys

from flowers_mtl.cli.common import run
from flowers_mtl.cli.train import main

if __name__ == "__main__":
    sys.exit(run(main))
