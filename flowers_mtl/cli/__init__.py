"""Command-line entry points, one module per command: the only place that parses flags.
Nothing in the library imports from here."""
