"""CSV files that are safe to open in a spreadsheet: a text cell starting with ``=``, ``+``, ``-``, ``@``, a tab
or a carriage return (a formula to Excel / LibreOffice) is written with a leading ``'``; so is one that
already starts with ``'``, which makes the change reversible (:func:`read_csv` takes it off again, so a
codec named ``=x`` round-trips through a baseline file). Numbers are never touched."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

_FORMULA_START = ("=", "+", "-", "@", "\t", "\r", "'")


def neutral(text: Any) -> Any:
    """``text`` with a leading ``'`` where a spreadsheet would read it as a formula (other values as they are)."""
    return "'" + text if isinstance(text, str) and text.startswith(_FORMULA_START) else text


def restored(text: Any) -> Any:
    """The inverse of :func:`neutral`."""
    return text[1:] if isinstance(text, str) and text.startswith("'") else text


def _texty(dtype: Any) -> bool:
    return pd.api.types.is_object_dtype(dtype) or pd.api.types.is_string_dtype(dtype)


def _map_column(column: pd.Series, fn: Any) -> pd.Series:
    """``fn`` applied to the column's text cells, once per distinct value (a column repeats few values)."""
    codes, uniques = pd.factorize(column, use_na_sentinel=True)
    mapped = [fn(v) for v in uniques]
    if all(m is v for m, v in zip(mapped, uniques, strict=True)):
        return column  # nothing starts with a marked character
    values = np.asarray(mapped + [column[codes < 0].iloc[0] if (codes < 0).any() else None], dtype=object)
    return pd.Series(values[codes], index=column.index, name=column.name)


def _map_text(df: pd.DataFrame, fn: Any) -> pd.DataFrame:
    out = df.copy()
    for column in out.columns:
        if _texty(out[column].dtype):
            out[column] = _map_column(out[column], fn)
    out.columns = [fn(c) for c in out.columns]
    if _texty(out.index.dtype):
        out.index = out.index.map(fn).rename(out.index.name)
    return out


def write_csv(df: pd.DataFrame, path: str | Path, **kwargs: Any) -> None:
    """``df.to_csv(path, **kwargs)`` with every text cell, column name and index label :func:`neutral`; written
    whole or not at all (a temporary file renamed over ``path``)."""
    from .outdir import atomic_write

    neutral_df = _map_text(df, neutral)
    atomic_write(path, lambda tmp: neutral_df.to_csv(tmp, **kwargs))


def read_csv(path: str | Path, **kwargs: Any) -> pd.DataFrame:
    """``pd.read_csv`` of a file written by :func:`write_csv`, text restored."""
    return _map_text(pd.read_csv(path, **kwargs), restored)
