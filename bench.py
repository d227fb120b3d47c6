#!/usr/bin/env python3
"""Benchmark training and inference speed on this machine: python bench.py [--data DIR] [--json]."""

import sys

from flowers_mtl.cli.common import run
from tools.bench import main

if __name__ == "__main__":
    sys.exit(run(main))
