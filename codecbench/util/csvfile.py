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
    from codecbench.util.outdir import atomic_write

    neutral_df = _map_text(df, neutral)
    atomic_write(path, lambda tmp: neutral_df.to_csv(tmp, **kwargs))


def read_csv(path: str | Path, **kwargs: Any) -> pd.DataFrame:
    """``pd.read_csv`` of a file written by :func:`write_csv`, text restored."""
    return _map_text(pd.read_csv(path, **kwargs), restored)


def read_table(path: str | Path, what: str, required: tuple[str, ...] | list[str] = (), **kwargs: Any) -> pd.DataFrame:
    """:func:`read_csv` of a file from outside (a baseline, the paper's numbers): a missing, empty, binary or
    malformed file, or one without the ``required`` columns, is a ``ValueError`` that names ``what`` (the flag
    or role, e.g. ``--published``) and the path."""
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"{what} {path}: no such file")
    try:
        df = read_csv(path, **kwargs)
    except pd.errors.EmptyDataError:
        raise ValueError(f"{what} {path}: the file is empty (a CSV with a header row is expected)") from None
    except (pd.errors.ParserError, UnicodeDecodeError, ValueError) as err:
        first = str(err).strip().splitlines()[0] if str(err).strip() else type(err).__name__
        raise ValueError(f"{what} {path}: not a CSV file this can read ({first})") from None
    missing = [c for c in required if c not in df.columns]
    if missing:
        raise ValueError(f"{what} {path}: lacks the columns {missing} (it has {[str(c) for c in df.columns]})")
    return df


def numeric_column(df: pd.DataFrame, column: str, what: str, path: str | Path, empty: bool = True) -> pd.Series:
    """``df[column]`` as finite floats (NaN for empty cells where ``empty``); any other cell is a ``ValueError``
    naming its line."""
    values = pd.to_numeric(df[column], errors="coerce").astype(float)
    blank = df[column].isna() | (df[column].astype(str).str.strip().isin(["", "nan", "NaN"]))
    bad = (values.isna() & ~blank) | np.isinf(values) | (blank & (not empty))
    if bad.any():
        line = int(np.flatnonzero(bad.to_numpy())[0])
        allowed = "a finite number or empty" if empty else "a finite number"
        raise ValueError(f"{what} {path}, line {line + 2}: {column} must be {allowed}, got {df[column].iloc[line]!r}")
    return values
