#!/usr/bin/env python3
"""Audit a data folder: python audit.py --data DIR --out DIR [--json]; fix: --apply corrections.csv --out NEWDIR."""

import sys

from flowers_mtl.cli.audit import main
from flowers_mtl.cli.common import run

if __name__ == "__main__":
    sys.exit(run(main))
