#!/usr/bin/env python3
"""Compare ways of training the two tasks: python compare.py --data DIR [--seeds N] [--configs a,b]."""

import sys

from flowers_mtl.cli.common import run_module

if __name__ == "__main__":
    sys.exit(run_module("tools.compare"))  # imported inside run: its TensorFlow start-up lines are filtered too
