"""The one exception type that means "the user gave us something wrong".

Command-line entry points print it as a single line and exit with status 2; anything else is
a bug and keeps its traceback.
"""


class UserInputError(ValueError):
    """Bad input from the user: a split file, an image, a flag, a model folder."""
