#!/usr/bin/env python3
"""Predict type and colour: python predict.py --model DIR IMAGE [IMAGE ...] [--json]."""

import sys

from flowers_mtl.cli.common import run
from flowers_mtl.cli.predict import main

if __name__ == "__main__":
    sys.exit(run(main))
