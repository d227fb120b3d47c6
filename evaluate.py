#!/usr/bin/env python3
"""Score a trained model: python evaluate.py --model DIR --split FILE [--json]."""

import sys

from flowers_mtl.cli import evaluate_main, run

if __name__ == "__main__":
    sys.exit(run(evaluate_main))
