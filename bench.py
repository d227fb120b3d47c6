#!/usr/bin/env python3
"""Benchmark training and inference speed on this machine: python bench.py [--data DIR] [--json]."""

import sys

from tools.bench import main
from flowers_mtl.cli.common import run

if __name__ == "__main__":
    sys.exit(run(main))
