#!/usr/bin/env python3
"""Train the two-task SqueezeNet: python train.py --data DIR (no arguments: a synthetic demo)."""

import sys

from flowers_mtl.cli import train_main, run

if __name__ == "__main__":
    sys.exit(run(train_main))
