#!/usr/bin/env python3
"""Score a trained model: python evaluate.py --model DIR --split FILE [--json]."""

import sys

from flowers_mtl.cli.common import run
from flowers_mtl.cli.evaluate import main

if __name__ == "__main__":
    sys.exit(run(main))
