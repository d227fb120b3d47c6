"""The one exception type that means "the user gave us something wrong".

Command-line entry points print it as a single line and exit with status 2; anything else is
a bug and keeps its traceback.
"""


import json
from pathlib import Path


class UserInputError(ValueError):
    """Bad input from the user: a split file, an image, a flag, a model folder."""


def read_json(path: Path):
    """Parse a JSON file the user wrote or edited; a syntax error becomes `file:line: ...`."""
    try:
        return json.loads(Path(path).read_text())
    except json.JSONDecodeError as err:
        raise UserInputError(f"{path}:{err.lineno}: not valid JSON: {err.msg}") from None
