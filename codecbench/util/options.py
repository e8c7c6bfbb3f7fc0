"""Typed settings from a config mapping: a task declares its ``task_options`` as a dataclass, and
:func:`parse_options` builds it, refusing unknown keys (with a did-you-mean) and values of the wrong type, outside
a ``Literal`` field's choices or outside a field's :class:`Range`. Nothing is coerced: ``true`` is not an integer,
``2.9`` is not an integer, a float is finite. A numeric field says its range with ``Annotated[int, Range(...)]``
(the aliases below); checks that relate several fields live in the dataclass's ``__post_init__``.

:func:`check_value` is the same check for one value against a type hint: constructor arguments of codecs, metrics
and dataset adapters go through it (:mod:`codecbench.util.keywords`)."""

from __future__ import annotations

import dataclasses
import difflib
import math
import types
import typing
from collections.abc import Mapping, Sequence
from typing import Annotated, Any, Literal, TypeVar, Union

T = TypeVar("T")


@dataclasses.dataclass(frozen=True)
class Range:
    """The values a numeric setting accepts: ``low <= x <= high`` (``open_low``: ``low < x``; ``open_high``:
    ``x < high``); None: unbounded."""

    low: float | None = None
    high: float | None = None
    open_low: bool = False
    open_high: bool = False

    def check(self, value: float, where: str) -> None:
        below = self.low is not None and (value <= self.low if self.open_low else value < self.low)
        above = self.high is not None and (value >= self.high if self.open_high else value > self.high)
        if below or above:
            raise ValueError(f"{where} must be {self.text()}, got {value!r}")

    def text(self) -> str:
        """The range in words: ``>= 1``, ``> 0``, ``in [0, 1]``."""
        if self.low is not None and self.high is not None:
            return (f"in {'(' if self.open_low else '['}{_num(self.low)}, {_num(self.high)}"
                    f"{')' if self.open_high else ']'}")
        if self.low is not None:
            return f"{'>' if self.open_low else '>='} {_num(self.low)}"
        if self.high is not None:
            return f"{'<' if self.open_high else '<='} {_num(self.high)}"
        return "any finite number"


def _num(x: float | None) -> str:
    return str(int(x)) if x is not None and float(x).is_integer() else str(x)


#: the numeric types settings use (each an ``Annotated`` type with its :class:`Range`)
PositiveInt = Annotated[int, Range(1)]
Count = Annotated[int, Range(0)]  # 0 allowed
Seed = Annotated[int, Range(0, 2**32 - 1)]
PositiveFloat = Annotated[float, Range(0, open_low=True)]
NonNegativeFloat = Annotated[float, Range(0)]
Fraction = Annotated[float, Range(0, 1)]  # a probability, a share
OpenFraction = Annotated[float, Range(0, 1, open_low=True)]  # (0, 1]: a rate factor, top-p
Dropout = Annotated[float, Range(0, 1, open_high=True)]  # [0, 1)
SampleRate = Annotated[int, Range(1000, 384000)]
BatchSize = Annotated[int, Range(1, 4096)]  # items per batch


def ranged(hint: Any) -> bool:
    """Whether a type hint that holds a number carries a :class:`Range` (every numeric setting must)."""
    origin, args = typing.get_origin(hint), typing.get_args(hint)
    if origin is Annotated:
        return any(isinstance(a, Range) for a in args[1:]) or not _numeric(args[0])
    if origin in (Union, types.UnionType, tuple, list, Sequence, dict):
        return all(ranged(a) for a in args if a is not Ellipsis and a is not type(None))
    return not _numeric(hint)


def _numeric(hint: Any) -> bool:
    return hint in (int, float)


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
    hints = typing.get_type_hints(cls, include_extras=True)
    values = {key: _convert(value, hints[key], f"{where}.{key}") for key, value in given.items()}
    try:
        return cls(**values)
    except (TypeError, ValueError) as err:
        message = str(err)
        raise ValueError(message if message.startswith(where) else f"{where}: {message}") from err


def check_value(value: Any, hint: Any, where: str) -> Any:
    """``value`` checked against a type hint (``Annotated`` ranges, ``Literal`` choices, unions, tuples, nested
    dataclasses); returns it converted where the hint asks (a list for a tuple, an int for a float)."""
    return _convert(value, hint, where)


def _convert(value: Any, hint: Any, where: str) -> Any:
    origin, args = typing.get_origin(hint), typing.get_args(hint)
    if hint is Any:
        return value
    if origin is Annotated:
        converted = _convert(value, args[0], where)
        for meta in args[1:]:
            if isinstance(meta, Range) and converted is not None:
                meta.check(converted, where)
        return converted
    if origin in (Union, types.UnionType):
        if value is None and type(None) in args:
            return None
        problems = []
        for arg in (a for a in args if a is not type(None)):
            try:
                return _convert(value, arg, where)
            except ValueError as err:
                problems.append(str(err))
        raise ValueError(problems[0] if len(problems) == 1 else f"{where} must be {describe(hint)}, got {value!r}")
    if origin is Literal:
        if not any(value == a and type(value) is type(a) for a in args):
            raise ValueError(f"{where} must be one of {args}, got {value!r}")
        return value
    if dataclasses.is_dataclass(hint) and isinstance(hint, type):
        if isinstance(value, hint):
            return value
        if not isinstance(value, Mapping):
            raise ValueError(f"{where} must be a mapping of {', '.join(f.name for f in dataclasses.fields(hint))}, "
                             f"got {value!r}")
        return parse_options(hint, value, where)
    if origin in (list, Sequence) or hint in (list, Sequence):
        if not isinstance(value, (list, tuple)):
            raise ValueError(f"{where} must be a list, got {value!r}")
        item = args[0] if args else Any
        return [_convert(v, item, f"{where}[{i}]") for i, v in enumerate(value)]
    if origin is tuple:
        if not isinstance(value, (list, tuple)):
            raise ValueError(f"{where} must be a list, got {value!r}")
        if len(args) == 2 and args[1] is Ellipsis:
            return tuple(_convert(v, args[0], f"{where}[{i}]") for i, v in enumerate(value))
        if len(value) != len(args):
            raise ValueError(f"{where} must have {len(args)} items, got {value!r}")
        return tuple(_convert(v, a, f"{where}[{i}]") for i, (v, a) in enumerate(zip(value, args, strict=True)))
    if origin is dict or hint is dict:
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
        if not math.isfinite(value):
            raise ValueError(f"{where} must be a finite number, got {value!r}")
        return float(value)
    if hint is str:
        if not isinstance(value, str):
            raise ValueError(f"{where} must be a string, got {value!r}")
        return value
    raise ValueError(f"{where} cannot be set from a config (it takes {describe(hint)})")


def describe(hint: Any) -> str:
    """What a type hint accepts, in words (for error messages)."""
    origin, args = typing.get_origin(hint), typing.get_args(hint)
    if origin is Annotated:
        ranges = [a.text() for a in args[1:] if isinstance(a, Range)]
        return " ".join([describe(args[0]), *ranges])
    if origin in (Union, types.UnionType):
        return " or ".join(describe(a) for a in args)
    if origin is Literal:
        return f"one of {args}"
    if origin in (list, tuple, Sequence) or hint in (list, tuple):
        return "a list"
    if origin is dict or hint is dict:
        return "a mapping"
    return {type(None): "null", bool: "true or false", int: "an integer", float: "a number", str: "a string",
            Any: "anything"}.get(hint, getattr(hint, "__name__", str(hint)))


def validate_options(instance: Any, where: str) -> None:
    """Check every field of a dataclass instance against its type hint and :class:`Range` (for ``__post_init__``:
    an instance built in code, not through :func:`parse_options`, is checked the same way)."""
    hints = typing.get_type_hints(type(instance), include_extras=True)
    for f in dataclasses.fields(instance):
        if f.init:
            _convert(getattr(instance, f.name), hints[f.name], f"{where}.{f.name}")


def arg_type(hint: Any) -> Any:
    """An argparse ``type=`` for a numeric hint with its range (``arg_type(PositiveInt)``): a value of another type
    or outside the range is an argparse error naming the flag and what it accepts (exit 2)."""
    import argparse

    base = typing.get_args(hint)[0] if typing.get_origin(hint) is Annotated else hint

    def parse(text: str) -> Any:
        try:
            value = base(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"{text!r} is not {describe(base)}") from None
        try:
            return _convert(value, hint, "value")
        except ValueError:
            raise argparse.ArgumentTypeError(f"must be {describe(hint)}, got {text!r}") from None

    parse.__name__ = describe(hint)
    return parse
