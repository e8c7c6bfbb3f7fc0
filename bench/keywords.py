"""Keyword arguments checked against a callable's signature before any heavy work."""

from __future__ import annotations

import difflib
import inspect
from collections.abc import Callable, Iterable
from typing import Any


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
            close = difflib.get_close_matches(key, accepted, n=1)
            hint = f"; did you mean {close[0]!r}?" if close else ""
            raise ValueError(f"{what}: unknown {key!r}{hint} (accepted: {', '.join(accepted) or 'none'})")
