"""Keyword arguments checked against a callable's signature before any heavy work: each key a parameter (with a
did-you-mean), each value of the parameter's annotated type and :class:`codecbench.util.options.Range`."""

from __future__ import annotations

import difflib
import inspect
import typing
from collections.abc import Callable, Iterable, Mapping
from typing import Any

from codecbench.util.options import check_value


def check_keywords(func: Callable[..., Any], keys: Iterable[str], what: str, skip: tuple[str, ...] = ("self",)
                   ) -> None:
    """Raise ``ValueError`` naming ``what`` for a key ``func`` does not take, with a did-you-mean
    (a callable that takes ``**kwargs`` accepts every key)."""
    parameters = inspect.signature(func).parameters
    if any(p.kind is inspect.Parameter.VAR_KEYWORD for p in parameters.values()):
        return
    accepted = [name for name in parameters if name not in skip]
    for key in keys:
        if key not in accepted:
            close = difflib.get_close_matches(str(key), accepted, n=1)
            hint = f"; did you mean {close[0]!r}?" if close else ""
            raise ValueError(f"{what}: unknown {key!r}{hint} (accepted: {', '.join(accepted) or 'none'})")


def parameter_hints(func: Callable[..., Any]) -> dict[str, Any]:
    """The annotated types of ``func``'s parameters (``Annotated`` ranges kept); {} when they cannot be resolved
    (a third-party plugin annotating with names it imports only for type checkers)."""
    try:
        hints = typing.get_type_hints(func, include_extras=True)
    except (NameError, TypeError, AttributeError):
        return {}
    hints.pop("return", None)
    return hints


def check_arguments(func: Callable[..., Any], given: Mapping[str, Any], what: str,
                    skip: tuple[str, ...] = ("self",)) -> None:
    """:func:`check_keywords`, then each value against its parameter's annotation (types and ranges: no silent
    coercion, finite numbers); an unannotated parameter takes anything."""
    check_keywords(func, given, what, skip)
    hints = parameter_hints(func)
    for key, value in given.items():
        if key in hints:
            check_value(value, hints[key], f"{what}.{key}")
