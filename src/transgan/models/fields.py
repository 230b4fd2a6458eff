"""Type and range checks for config dataclasses, wherever their values come from.

Presets, ``--set KEY=VALUE`` and a snapshot's embedded JSON all end in the same dataclass;
``check_fields`` in its ``__post_init__`` refuses a value of the wrong type or out of range
with a message that names the field, before any tensor is allocated.
"""

from __future__ import annotations

import dataclasses
import math
import types
import typing
from typing import Any


def describe(kind: Any) -> str:
    """A type annotation in words: 'an integer', 'a tuple of integers', …"""
    origin = typing.get_origin(kind)
    if origin in (typing.Union, types.UnionType):
        return " or ".join(describe(k) for k in typing.get_args(kind))
    if origin is tuple:
        return f"a tuple of {describe(typing.get_args(kind)[0]).split(' ', 1)[1]}s"
    names = {int: "an integer", float: "a number", bool: "true or false", str: "a string"}
    return names.get(kind, "None" if kind is type(None) else str(kind))


def matches(value: Any, kind: Any) -> bool:
    """Whether ``value`` has the annotated type (an int is a float; a bool is not an int)."""
    origin = typing.get_origin(kind)
    if origin in (typing.Union, types.UnionType):
        return any(matches(value, k) for k in typing.get_args(kind))
    if origin is tuple:
        item = typing.get_args(kind)[0]
        return isinstance(value, tuple) and all(matches(v, item) for v in value)
    if kind is type(None):
        return value is None
    if kind is bool:
        return isinstance(value, bool)
    if kind is int:
        return isinstance(value, int) and not isinstance(value, bool)
    if kind is float:
        return isinstance(value, int | float) and not isinstance(value, bool)
    if kind is str:
        return isinstance(value, str)
    return True  # nested configs and other types check themselves


def _numbers(value: Any) -> list[float]:
    if isinstance(value, tuple):
        return [v for v in value if isinstance(v, int | float) and not isinstance(v, bool)]
    if isinstance(value, int | float) and not isinstance(value, bool):
        return [value]
    return []


def check_fields(config: Any, what: str, positive: tuple[str, ...] = ()) -> None:
    """Refuse fields of ``config`` whose type differs from the annotation, negative or
    non-finite numbers (no size, count or ratio here may be negative), and fields named in
    ``positive`` that are not >= 1 (> 0 for floats). ``what`` names the config in messages."""
    hints = typing.get_type_hints(type(config))
    for field in dataclasses.fields(config):
        value, kind = getattr(config, field.name), hints[field.name]
        if not matches(value, kind):
            raise ValueError(f"{what}.{field.name} must be {describe(kind)}, got {value!r}")
        for number in _numbers(value):
            if not math.isfinite(number) or number < 0:
                raise ValueError(f"{what}.{field.name} must be >= 0 and finite, got {value!r}")
            if field.name in positive and (number < 1 if isinstance(number, int) else number <= 0):
                raise ValueError(f"{what}.{field.name} must be positive, got {value!r}")
