#!/usr/bin/env python3
"""Predict type and colour: python predict.py --model DIR IMAGE [IMAGE ...] [--json]."""

import sys

from flowers_mtl.cli import predict_main, run

if __name__ == "__main__":
    sys.exit(run(predict_main))
