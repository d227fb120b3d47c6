#!/usr/bin/env python3
"""Export a trained model: python export.py --model DIR [--format savedmodel|tflite|all] [--quantize none|float16|int8]."""

import sys

from flowers_mtl.cli.common import run
from flowers_mtl.cli.export import main

if __name__ == "__main__":
    sys.exit(run(main))
