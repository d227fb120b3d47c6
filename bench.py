#!/usr/bin/env python3
"""Benchmark training and inference speed on this machine: python bench.py [--data DIR] [--json]."""

import sys

from flowers_mtl.cli.common import run_module

if __name__ == "__main__":
    sys.exit(run_module("tools.bench"))  # imported inside run: its TensorFlow start-up lines are filtered too
