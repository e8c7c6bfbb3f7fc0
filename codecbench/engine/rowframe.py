"""A run's rows as columns: one pass over ``rows.jsonl``, kept as a snapshot beside it.

``rows.jsonl`` stays the durable, append-only log (:mod:`codecbench.engine.store`). Reading it for tables, gates and
reports goes through :func:`read_columns`: the string fields become categorical codes (categories sorted, so
code order is string order), ``value`` / ``num`` / ``den`` float arrays, and the few ``extra`` fields that
readers use become columns of their own (:data:`DERIVED`); the rest of ``extra`` is kept as its JSON text.

Stores of :data:`SNAPSHOT_ROWS` rows or more keep these columns in ``rows.columns.npz`` (numpy arrays,
loaded with ``allow_pickle=False``: nothing in it is executed). The snapshot records the inode of
``rows.jsonl``, how many of its bytes it covers and their BLAKE2b digest; it is used only while all three
still match (a rewrite by quarantine or ``--retry-errors`` gives a new inode, and the reader or the store
deletes it), and only the bytes appended after it are parsed. A line that is not a row sends the read through
the quarantine (:func:`codecbench.api.rows.quarantine_bad_lines`).
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
from array import array
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from codecbench.api.rows import KEY_FIELDS, Row, checked_row
from codecbench.engine.runfiles import current_setups, current_variants, quarantine_bad_lines, setup_is_current

log = logging.getLogger(__name__)

#: the string fields of a row (categorical codes); the key fields first
STRINGS = ("codec", "task", "dataset", "utt_id", "metric", "variant", "setup", "backend", "error")
FLOATS = ("value", "num", "den")
#: ``extra`` fields readers use, as columns: name -> kind (how :func:`_derived` reads it from ``extra``)
DERIVED: dict[str, str] = {"seed": "float", "random_weights": "bool", "identity": "bool", "kind": "str",
                           "item_source": "str", "item_target": "str", "item_rater": "str",
                           "hyp": "str", "audio": "str", "model": "str", "weights_id": "str",
                           "speaker": "str", "streams": "float"}
#: the columns of :class:`ColumnarRows` by storage: coded strings, float arrays, flags
TEXT_COLUMNS = (*STRINGS, *(n for n, k in DERIVED.items() if k == "str"))
NUMBER_COLUMNS = (*FLOATS, *(n for n, k in DERIVED.items() if k == "float"))
FLAG_COLUMNS = tuple(n for n, k in DERIVED.items() if k == "bool")
SNAPSHOT = "rows.columns.npz"
SNAPSHOT_ROWS = 20_000  # smaller stores are parsed each time (a fraction of a second)
VERSION = 3  # 2: the item fields (item_source, item_target, item_rater) are columns; 3: speaker, streams
_CHUNK = 1 << 24


def _loads() -> Callable[[bytes], Any]:
    try:
        import orjson  # optional: about 3x faster than json for the first read of a large store

        return orjson.loads
    except ModuleNotFoundError:
        return json.loads


class BadLines(ValueError):
    """The range holds a line that is not a row (the store's quarantine handles it)."""


@dataclass
class ColumnarRows:
    """Rows as arrays: ``codes[field]`` int32 into ``categories[field]`` (-1: missing), floats, derived fields
    (str fields as codes too) and ``extra`` JSON texts (``None`` when not kept)."""

    categories: dict[str, list[str]]
    codes: dict[str, np.ndarray]
    floats: dict[str, np.ndarray]
    flags: dict[str, np.ndarray]
    extra: list[str] | None
    skipped: tuple[str, ...] = ()  # why each line that was not a row was skipped (a reader's parse)

    def __len__(self) -> int:
        return len(self.floats["value"])


def _derived(extra: dict, name: str) -> Any:
    """An ``extra`` field as its column holds it: a number (else None), a flag, or a non-empty string."""
    value = extra.get(name)
    kind = DERIVED[name]
    if kind == "float":
        return value if isinstance(value, (int, float)) and not isinstance(value, bool) else None
    if kind == "bool":
        return bool(value)
    return None if value is None or value == "" else str(value)


def parse(data: bytes, keep_extra: bool = True, skip_bad: bool = False, origin: int = 0) -> ColumnarRows:
    """ColumnarRows of the whole lines in ``data`` (which must end at a line end); :class:`BadLines` on a line that
    is not a row, or with ``skip_bad`` its reason in ``skipped`` (by byte offset, ``data`` starting at ``origin``
    of its file). Blank lines are skipped. Strings are coded as they are read (no string per row is kept)."""
    loads = _loads()
    text_fields, number_fields, flag_fields = TEXT_COLUMNS, NUMBER_COLUMNS, FLAG_COLUMNS
    index: dict[str, dict[str, int]] = {name: {} for name in text_fields}
    codes = {name: array("i") for name in text_fields}
    numbers = {name: array("d") for name in number_fields}
    flags = {name: array("b") for name in flag_fields}
    extras: list[str] | None = [] if keep_extra else None
    nan = float("nan")
    skipped: list[str] = []
    offset = origin
    for number, line in enumerate(data.split(b"\n"), start=1):
        at, offset = offset, offset + len(line) + 1
        if not line.strip():
            continue
        try:
            try:
                row = checked_row(loads(line))
            except (RecursionError, OverflowError) as err:
                raise ValueError(f"not readable as JSON ({type(err).__name__})") from None
            extra = row.get("extra") or {}
            values = {name: row.get(name) if name in STRINGS else _derived(extra, name) for name in text_fields}
            got = {name: row.get(name) if name in FLOATS else _derived(extra, name) for name in number_fields}
            floats: dict[str, float] = {name: nan if v is None else float(v) for name, v in got.items()}
        except (ValueError, TypeError) as err:
            if skip_bad:
                skipped.append(f"the line at byte {at}: {err}")
                continue
            raise BadLines(f"line {number}: {err}") from err
        for name, value in values.items():
            if value is None:
                codes[name].append(-1)
            else:
                table = index[name]
                code = table.get(value)
                if code is None:
                    code = table[str(value)] = len(table)
                codes[name].append(code)
        for name, value in floats.items():
            numbers[name].append(value)
        for name in flag_fields:
            flags[name].append(bool(extra.get(name)))
        if extras is not None:
            extras.append(json.dumps(extra, sort_keys=True) if extra else "{}")
    categories, sorted_codes = {}, {}
    for name in text_fields:
        found = list(index[name])
        order = sorted(range(len(found)), key=found.__getitem__)
        rank = np.empty(len(found) + 1, dtype=np.int32)
        rank[np.asarray(order, dtype=np.int64)] = np.arange(len(found), dtype=np.int32)
        rank[-1] = -1  # code -1 (missing) stays -1
        categories[name] = [found[i] for i in order]
        raw = np.frombuffer(codes[name], dtype=np.int32) if len(codes[name]) else np.zeros(0, dtype=np.int32)
        sorted_codes[name] = rank[raw]
    return ColumnarRows(categories, sorted_codes,
                   {name: np.frombuffer(numbers[name], dtype=np.float64).copy() if len(numbers[name])
                    else np.zeros(0) for name in number_fields},
                   {name: np.frombuffer(flags[name], dtype=np.int8).astype(bool) if len(flags[name])
                    else np.zeros(0, dtype=bool) for name in flag_fields},
                   extras, tuple(skipped))


def concat(parts: list[ColumnarRows]) -> ColumnarRows:
    """One :class:`ColumnarRows` of several (categories merged and re-sorted)."""
    parts = [p for p in parts if len(p)] or parts[:1]
    if len(parts) == 1:
        return parts[0]
    categories, codes = {}, {}
    for name in parts[0].codes:
        cats = sorted(set().union(*(p.categories[name] for p in parts)))
        index = {c: i for i, c in enumerate(cats)}
        mapped = []
        for part in parts:
            lookup = np.array([index[c] for c in part.categories[name]] + [-1], dtype=np.int32)
            mapped.append(lookup[part.codes[name]])  # code -1 picks the trailing -1
        categories[name], codes[name] = cats, np.concatenate(mapped)
    floats = {n: np.concatenate([p.floats[n] for p in parts]) for n in parts[0].floats}
    flags = {n: np.concatenate([p.flags[n] for p in parts]) for n in parts[0].flags}
    extra = None if any(p.extra is None for p in parts) else [e for p in parts for e in p.extra or []]
    return ColumnarRows(categories, codes, floats, flags, extra)


def _digest(path: Path, length: int) -> str:
    digest = hashlib.blake2b(digest_size=16)
    with open(path, "rb") as handle:
        left = length
        while left > 0:
            chunk = handle.read(min(_CHUNK, left))
            if not chunk:
                break
            digest.update(chunk)
            left -= len(chunk)
    return digest.hexdigest()


def _load_snapshot(run_dir: Path, stat: os.stat_result, keep_extra: bool) -> tuple[ColumnarRows, int] | None:
    """The snapshot's columns and the byte count it covers, when it still describes ``rows.jsonl``."""
    path = run_dir / SNAPSHOT
    if not path.is_file():
        return None
    try:
        with np.load(path, allow_pickle=False) as saved:
            meta = json.loads(bytes(saved["meta"]).decode("utf-8"))
            covered = int(meta["bytes"])
            if (meta.get("version") != VERSION or int(meta["inode"]) != stat.st_ino or covered > stat.st_size
                    or meta["digest"] != _digest(run_dir / "rows.jsonl", covered)):
                return None
            categories = {name: list(meta["categories"][name]) for name in meta["categories"]}
            codes = {name: saved[f"codes.{name}"] for name in categories}
            floats = {name: saved[f"float.{name}"] for name in meta["floats"]}
            flags = {name: saved[f"flag.{name}"] for name in meta["flags"]}
            extra = bytes(saved["extra"]).decode("utf-8").split("\n") if keep_extra else None
    except (OSError, ValueError, KeyError, TypeError) as err:
        log.warning("%s is unusable (%s): rows are read from rows.jsonl", path, err)
        return None
    if extra is not None and extra == [""]:
        extra = []
    return ColumnarRows(categories, codes, floats, flags, extra), covered


def _snapshot_extra(run_dir: Path) -> list[str]:
    with np.load(run_dir / SNAPSHOT, allow_pickle=False) as saved:
        text = bytes(saved["extra"]).decode("utf-8")
    return text.split("\n") if text else []


def _save_snapshot(run_dir: Path, columns: ColumnarRows, covered: int, inode: int) -> None:
    """Write the snapshot atomically (a failure only costs the next read a full parse)."""
    meta = {"version": VERSION, "inode": inode, "bytes": covered, "rows": len(columns),
            "digest": _digest(run_dir / "rows.jsonl", covered), "categories": columns.categories,
            "floats": sorted(columns.floats), "flags": sorted(columns.flags)}
    arrays = {"meta": np.frombuffer(json.dumps(meta).encode("utf-8"), dtype=np.uint8),
              "extra": np.frombuffer("\n".join(columns.extra or []).encode("utf-8"), dtype=np.uint8)}
    arrays |= {f"codes.{n}": a for n, a in columns.codes.items()}
    arrays |= {f"float.{n}": a for n, a in columns.floats.items()}
    arrays |= {f"flag.{n}": a for n, a in columns.flags.items()}
    tmp = run_dir / f".{SNAPSHOT}.{os.getpid()}.tmp.npz"
    try:
        np.savez(tmp, **arrays)  # type: ignore[arg-type]
        tmp.replace(run_dir / SNAPSHOT)
    except OSError as err:
        log.warning("could not write %s: %s", run_dir / SNAPSHOT, err)
        tmp.unlink(missing_ok=True)


def drop_snapshot(run_dir: Path) -> None:
    """Forget the snapshot (``rows.jsonl`` was rewritten)."""
    (Path(run_dir) / SNAPSHOT).unlink(missing_ok=True)


def _parse_from(path: Path, start: int, skip_bad: bool = False) -> tuple[ColumnarRows, int, bool]:
    """The rows after byte ``start``, parsed a chunk of whole lines at a time (memory stays a chunk's), how many
    bytes they span and whether a line was skipped (``skip_bad``); :class:`BadLines` otherwise, also for text
    after the last newline (a torn or unfinished write)."""
    parts, spanned, carry = [], 0, b""
    skipped: list[str] = []
    with open(path, "rb") as handle:
        handle.seek(start)
        while True:
            chunk = handle.read(_CHUNK)
            if not chunk:
                break
            data = carry + chunk
            cut = data.rfind(b"\n") + 1
            carry = data[cut:]
            if cut:
                part = parse(data[:cut], keep_extra=True, skip_bad=skip_bad, origin=start + spanned)
                skipped += part.skipped
                parts.append(part)
                spanned += cut
    if carry.strip():
        if not skip_bad:
            raise BadLines("text after the last newline (torn write)")
        skipped.append(f"the text after the last newline (byte {start + spanned}: a torn or unfinished write)")
    if skipped:
        shown = "; ".join(skipped[:3]) + (f"; and {len(skipped) - 3} more" if len(skipped) > 3 else "")
        log.warning("%s: %d lines are not result rows and are skipped (the file is left as it is): %s", path,
                    len(skipped), shown)
    return (concat(parts) if parts else parse(b"", keep_extra=True)), spanned, bool(skipped)


def read_columns(run_dir: str | Path, keep_extra: bool = True, quarantine: bool = True) -> ColumnarRows:
    """Every row of ``run_dir/rows.jsonl`` as :class:`ColumnarRows`: the snapshot plus the bytes appended since
    (the snapshot is refreshed when it is missing or behind by many rows and the store is large). With
    ``quarantine`` (the store's writer), bad lines go through the store's quarantine first, text after the last
    newline too; without (every reader: tables, reports, gates), they are skipped with a warning and the file is
    never rewritten."""
    run_dir = Path(run_dir)
    path = run_dir / "rows.jsonl"
    for attempt in range(2):
        stat = path.stat()
        loaded = _load_snapshot(run_dir, stat, keep_extra)
        base, covered = loaded if loaded is not None else (None, 0)
        try:
            fresh, whole, skipped = _parse_from(path, covered, skip_bad=not quarantine)
        except BadLines:
            if attempt:
                raise
            quarantine_bad_lines(path)  # rewrites rows.jsonl; read it again
            drop_snapshot(run_dir)
            continue
        columns = concat([base, fresh]) if base is not None else fresh
        if not skipped and len(columns) >= SNAPSHOT_ROWS and (base is None or len(fresh) >= max(1000, len(base) // 20)):
            if base is not None and base.extra is None:  # the saved texts are needed to write it again
                base.extra = _snapshot_extra(run_dir)
                columns = concat([base, fresh])
            _save_snapshot(run_dir, columns, covered + whole, stat.st_ino)
        if not keep_extra:
            columns.extra = None
        return columns
    raise AssertionError("unreachable")


def current_mask(run_dir: Path, columns: ColumnarRows) -> np.ndarray:
    """Which rows are current (the one place that decides it): their codec's variant and their task / source's
    setup are the latest run segment's, or that segment did not run them."""
    n = len(columns)
    codec_cats, variant_cats = columns.categories["codec"], columns.categories["variant"]
    variants = current_variants(run_dir)
    variant_index = {v: i for i, v in enumerate(variant_cats)}
    # per codec: -3 = no variant recorded (all current), else the code its rows must carry (-2: none can)
    wanted = np.array([-3 if c not in variants else variant_index.get(variants[c], -2) for c in codec_cats] + [-3],
                      dtype=np.int64)
    need = wanted[columns.codes["codec"]]
    mask = (need == -3) | (columns.codes["variant"] == need)
    setups, tasks = current_setups(run_dir)
    cats = {f: ["", *columns.categories[f]] for f in ("task", "setup", "dataset")}  # code -1: none
    sizes = {f: len(c) for f, c in cats.items()}
    triple = ((columns.codes["setup"].astype(np.int64) + 1) * sizes["task"] + columns.codes["task"].astype(np.int64)
              + 1) * sizes["dataset"] + columns.codes["dataset"].astype(np.int64) + 1
    unique, inverse = np.unique(triple, return_inverse=True)
    current = np.array([
        setup_is_current(Row("", cats["task"][int(t // sizes["dataset"] % sizes["task"])],
                             cats["dataset"][int(t % sizes["dataset"])], "", "",
                             setup=cats["setup"][int(t // sizes["dataset"] // sizes["task"])]), setups, tasks)
        for t in unique], dtype=bool)
    return mask & current[inverse.reshape(n)] if n else mask


def to_frame(columns: ColumnarRows, mask: np.ndarray | None = None, extra: str = "dict") -> Any:
    """A pandas frame of the rows (``mask``: which): string fields categorical (sorted categories), floats,
    derived ``extra`` fields, and ``extra`` itself as dicts (``"dict"``), JSON texts (``"raw"``) or left out
    (``"none"``)."""
    import pandas as pd

    keep = np.arange(len(columns)) if mask is None else np.flatnonzero(mask)
    data: dict[str, Any] = {}
    for name in TEXT_COLUMNS:
        data[name] = pd.Categorical.from_codes(columns.codes[name][keep],
                                               categories=pd.Index(columns.categories[name], dtype=object))
    for name in NUMBER_COLUMNS:
        data[name] = columns.floats[name][keep]
    for name in FLAG_COLUMNS:
        data[name] = columns.flags[name][keep]
    if extra != "none" and columns.extra is not None:
        kept = [columns.extra[i] for i in keep.tolist()]
        data["extra"] = [json.loads(t) for t in kept] if extra == "dict" else kept
    return pd.DataFrame(data)


def with_derived(df: Any) -> Any:
    """``df`` with the :data:`DERIVED` columns, read from its ``extra`` dicts where a frame built by hand (from
    :class:`~codecbench.engine.store.Row` objects) lacks them."""
    missing = [name for name in DERIVED if name not in df.columns]
    if not missing:
        return df
    extras = [e if isinstance(e, dict) else {} for e in (df["extra"] if "extra" in df.columns else [{}] * len(df))]
    values = {}
    for name in missing:
        column = [_derived(e, name) for e in extras]
        kind = DERIVED[name]
        values[name] = (np.array([np.nan if v is None else v for v in column], dtype=float) if kind == "float"
                        else np.array(column, dtype=bool) if kind == "bool" else column)
    return df.assign(**values)


class KeyIndex:
    """Which row keys a store holds, read column-wise: each key field coded by its categories, the codes of a
    row combined into one integer, the integers sorted (no Python object per row). ``key in index`` codes the
    key's fields through one dict each and binary-searches."""

    def __init__(self, columns: ColumnarRows | None) -> None:
        self._lookup: list[dict[str, int]] = []
        self._radix: list[int] = []
        self._sorted = np.zeros(0, dtype=np.int64)
        self._fallback: set[tuple] | None = None
        if columns is None or not len(columns):
            return
        self._lookup = [{c: i for i, c in enumerate(columns.categories[f])} for f in KEY_FIELDS]
        sizes = [len(columns.categories[f]) + 1 for f in KEY_FIELDS]  # +1: code -1 (missing) shifted to 0
        if int(np.prod([float(s) for s in sizes])) >= 2**62:  # too many distinct values for one int64
            self._fallback = set(zip(*(np.asarray(columns.categories[f] + [None], dtype=object)[columns.codes[f]]
                                       for f in KEY_FIELDS), strict=True))
            return
        combined = np.zeros(len(columns), dtype=np.int64)
        for field, size in zip(KEY_FIELDS, sizes, strict=True):
            combined = combined * size + (columns.codes[field].astype(np.int64) + 1)
        self._radix = sizes
        self._sorted = np.unique(combined)

    def __len__(self) -> int:
        return len(self._fallback) if self._fallback is not None else len(self._sorted)

    def __contains__(self, key: tuple) -> bool:
        if self._fallback is not None:
            return key in self._fallback
        if not len(self._sorted):
            return False
        combined = 0
        for value, lookup, size in zip(key, self._lookup, self._radix, strict=True):
            code = lookup.get(value)
            if code is None:
                return False
            combined = combined * size + code + 1
        at = int(np.searchsorted(self._sorted, combined))
        return at < len(self._sorted) and int(self._sorted[at]) == combined


def current_frame(rows_dir: str | Path, run_dir: str | Path | None = None, extra: str = "dict") -> Any:
    """The current rows of ``rows_dir/rows.jsonl`` as a frame (:func:`to_frame`); which rows are current comes
    from ``run_dir``'s ``run.json`` (``rows_dir`` itself by default; a shard's rows answer to the run's). A reader:
    lines that are not rows are skipped, the file is never rewritten."""
    columns = read_columns(rows_dir, keep_extra=extra != "none", quarantine=False)
    return to_frame(columns, current_mask(Path(run_dir or rows_dir), columns), extra)
