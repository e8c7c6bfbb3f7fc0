"""Typed settings from a config mapping: a task declares its ``task_options`` as a dataclass, and
:func:`parse_options` builds it, refusing unknown keys (with a did-you-mean) and values of the wrong type or
outside a ``Literal`` field's choices. Range checks beyond types live in the dataclass's ``__post_init__``."""

from __future__ import annotations

import dataclasses
import difflib
import types
import typing
from collections.abc import Mapping
from typing import Any, Literal, TypeVar, Union

T = TypeVar("T")


@dataclasses.dataclass(frozen=True)
class NoOptions:
    """A task without settings: any ``task_options`` key is an error."""


def parse_options(cls: type[T], given: Mapping[str, Any] | None, where: str) -> T:
    """``cls`` (a dataclass) from ``given``: each key a field, each value of the field's type (a list is taken
    for a tuple, an int for a float, a mapping for a nested dataclass); errors name ``where`` and the key."""
    given = dict(given or {})
    if not dataclasses.is_dataclass(cls):
        raise TypeError(f"{cls!r} is not a dataclass")
    fields = {f.name: f for f in dataclasses.fields(cls) if f.init}
    for key in given:
        if key not in fields:
            close = difflib.get_close_matches(str(key), list(fields), n=1)
            hint = f"; did you mean {close[0]!r}?" if close else ""
            raise ValueError(f"{where}: unknown key {key!r}{hint} (accepted: {', '.join(fields) or 'none'})")
    hints = typing.get_type_hints(cls)
    values = {key: _convert(value, hints[key], f"{where}.{key}") for key, value in given.items()}
    try:
        return cls(**values)
    except (TypeError, ValueError) as err:
        message = str(err)
        raise ValueError(message if message.startswith(where) else f"{where}: {message}") from err


def _convert(value: Any, hint: Any, where: str) -> Any:
    origin, args = typing.get_origin(hint), typing.get_args(hint)
    if hint is Any:
        return value
    if origin in (Union, types.UnionType):
        if value is None and type(None) in args:
            return None
        problems = []
        for arg in (a for a in args if a is not type(None)):
            try:
                return _convert(value, arg, where)
            except ValueError as err:
                problems.append(str(err))
        raise ValueError(problems[0] if len(problems) == 1 else f"{where}: {value!r} fits none of {hint}")
    if origin is Literal:
        if value not in args:
            raise ValueError(f"{where} must be one of {args}, got {value!r}")
        return value
    if dataclasses.is_dataclass(hint) and isinstance(hint, type):
        if isinstance(value, hint):
            return value
        if not isinstance(value, Mapping):
            raise ValueError(f"{where} must be a mapping of {', '.join(f.name for f in dataclasses.fields(hint))}, "
                             f"got {value!r}")
        return parse_options(hint, value, where)
    if origin is tuple:
        if not isinstance(value, (list, tuple)):
            raise ValueError(f"{where} must be a list, got {value!r}")
        if len(args) == 2 and args[1] is Ellipsis:
            return tuple(_convert(v, args[0], f"{where}[{i}]") for i, v in enumerate(value))
        if len(value) != len(args):
            raise ValueError(f"{where} must have {len(args)} items, got {value!r}")
        return tuple(_convert(v, a, f"{where}[{i}]") for i, (v, a) in enumerate(zip(value, args, strict=True)))
    if origin is dict:
        if not isinstance(value, Mapping):
            raise ValueError(f"{where} must be a mapping, got {value!r}")
        key_type, value_type = args or (Any, Any)
        return {_convert(k, key_type, where): _convert(v, value_type, f"{where}.{k}") for k, v in value.items()}
    if hint is bool:
        if not isinstance(value, bool):
            raise ValueError(f"{where} must be true or false, got {value!r}")
        return value
    if hint is int:
        if isinstance(value, bool) or not isinstance(value, int):
            raise ValueError(f"{where} must be an integer, got {value!r}")
        return value
    if hint is float:
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            raise ValueError(f"{where} must be a number, got {value!r}")
        return float(value)
    if hint is str:
        if not isinstance(value, str):
            raise ValueError(f"{where} must be a string, got {value!r}")
        return value
    raise TypeError(f"{where}: options of type {hint!r} are not supported")


def positive(where: str, **values: int) -> None:
    """Raise naming the key for an integer setting below 1 (for ``__post_init__``)."""
    for key, value in values.items():
        if value < 1:
            raise ValueError(f"{where}.{key} must be a positive integer, got {value!r}")
