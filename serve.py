#!/usr/bin/env python3
"""Serve a model over HTTP: python serve.py --model PATH [--port 8501] [--name flowers]."""

import sys

from flowers_mtl.cli.common import run
from flowers_mtl.cli.serve import main

if __name__ == "__main__":
    sys.exit(run(main))
