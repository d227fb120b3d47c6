"""Command-line flags generated from a settings dataclass: one flag per field, its help text
and choices from the field's metadata, nested dataclasses (the model spec) flattened. Every
flag defaults to None, so that what the user typed can be told from what a recipe or the
dataclass sets."""

from __future__ import annotations

import argparse
import dataclasses
import types
import typing


def task_list(text: str) -> list[str]:
    names = [name.strip() for name in text.split(",") if name.strip()]
    if not names:
        raise argparse.ArgumentTypeError("expected task names separated by commas, e.g. type,colour")
    return names


def per_task(kind):
    """Parse `type=1.0,colour=0.5` into {task: value}."""

    def parse(text: str) -> dict:
        values = {}
        for item in text.split(","):
            task, sep, value = item.partition("=")
            try:
                if not sep or not task.strip():
                    raise ValueError
                values[task.strip()] = kind(value)
            except ValueError:
                raise argparse.ArgumentTypeError(f"expected task=value pairs separated by commas, got {item!r}") from None
        return values

    parse.__name__ = f"task={kind.__name__}"
    return parse


def _argument(kind) -> dict:
    """argparse keywords for a field's type."""
    if typing.get_origin(kind) in (typing.Union, types.UnionType):  # `X | None`: a flag gives an X
        (kind,) = [a for a in typing.get_args(kind) if a is not type(None)]
    origin = typing.get_origin(kind)
    if kind is bool:
        return {"action": argparse.BooleanOptionalAction}
    if origin is list:
        return {"type": task_list, "metavar": "TASK,..."}
    if origin is dict:
        return {"type": per_task(typing.get_args(kind)[1]), "metavar": "TASK=N,..."}
    if kind in (int, float, str):
        return {"type": kind}
    raise TypeError(f"no command-line form for a field of type {kind}")


def add_flags(parser: argparse.ArgumentParser, cls, groups: dict[str, argparse._ArgumentGroup], group="model") -> None:
    """One flag per field of `cls` (recursing into dataclass fields), added to its group."""
    hints = typing.get_type_hints(cls)
    for f in dataclasses.fields(cls):
        if f.metadata.get("flag") is False:
            continue
        if dataclasses.is_dataclass(hints[f.name]):
            add_flags(parser, hints[f.name], groups, group)
            continue
        default = f.default if f.default is not dataclasses.MISSING else None
        help_text = f.metadata["help"] + (f"; default {default}" if default is not None else "")
        keywords = _argument(hints[f.name])
        if "choices" in f.metadata:  # checked by validate(), in one line, for recipes too
            keywords["metavar"] = "{" + ",".join(map(str, f.metadata["choices"])) + "}"
        target = groups.get(f.metadata.get("group", group), parser)
        target.add_argument(f"--{f.name.replace('_', '-')}", dest=f.name, default=None, help=help_text, **keywords)


def field_names(cls) -> set[str]:
    """Every flag-settable field of `cls`, nested ones included."""
    hints = typing.get_type_hints(cls)
    names = set()
    for f in dataclasses.fields(cls):
        if dataclasses.is_dataclass(hints[f.name]):
            names |= field_names(hints[f.name])
        elif f.metadata.get("flag") is not False:
            names.add(f.name)
    return names
