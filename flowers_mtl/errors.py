"""The two ways a run can stop that are not bugs, kept apart from Python's own exceptions.

Entry points print either as one line: a UserInputError exits with status 2, a
TrainingDiverged with status 1. Anything else is a bug and keeps its traceback.
"""

import json
from pathlib import Path


class UserInputError(Exception):
    """Bad input from the user: a split file, an image, a flag, a model folder.

    Not a ValueError, so that a programming error raising ValueError is never mistaken for a
    user's mistake (and printed as one line without its traceback)."""


class TrainingDiverged(Exception):
    """The loss or the weights stopped being finite; the message says what to change."""


def read_json(path: Path):
    """Parse a JSON file the user wrote or edited; a syntax error becomes `file:line: ...`."""
    try:
        return json.loads(Path(path).read_text())
    except json.JSONDecodeError as err:
        raise UserInputError(f"{path}:{err.lineno}: not valid JSON: {err.msg}") from None
