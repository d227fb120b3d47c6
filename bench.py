#!/usr/bin/env python3
"""Benchmark training and inference speed on this machine: python bench.py [--data DIR] [--json]."""

import sys

from flowers_mtl.bench import main
from flowers_mtl.cli import run

if __name__ == "__main__":
    sys.exit(run(main))
