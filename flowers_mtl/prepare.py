"""`python -m flowers_mtl.prepare`: the command lives in cli/prepare.py, the work in data/prepare.py."""

import sys

from .cli.common import run
from .cli.prepare import main

if __name__ == "__main__":
    sys.exit(run(main))
