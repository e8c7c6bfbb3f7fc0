"""Column-wise reading of a run's rows: the snapshot beside rows.jsonl is used only while it describes the file,
appended rows are read on top, rewrites and tampering are caught, keys are found without per-row objects."""

from __future__ import annotations

import json
import random
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from codecbench.api.rows import Row
from codecbench.engine import rowframe
from codecbench.engine.rowframe import SNAPSHOT, KeyIndex, read_columns
from codecbench.engine.store import ResultStore
from codecbench.results.tables import load_rows, summarize


def _rows(n: int, seed: int = 0, start: int = 0) -> list[Row]:
    rng = random.Random(seed)
    rows = []
    for i in range(start, start + n):
        codec = f"c{i % 3}"
        metric = ("dwer", "sim", "frame_rate")[i % 3]
        extra: dict = {"hyp": f"words {i}"} if metric == "dwer" else {}
        if i % 7 == 0:
            extra["seed"] = i % 2
        if i % 11 == 0:
            extra["random_weights"] = True
        rows.append(Row(codec, "resynthesis", "d", f"u{i:05d}", metric, value=rng.random(), num=float(i % 5),
                        den=float(1 + i % 4), backend=f"b-{metric}", extra=extra,
                        error="boom" if i % 13 == 0 else None))
    return rows


@pytest.fixture
def small_snapshots(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(rowframe, "SNAPSHOT_ROWS", 50)


def _plain(run_dir: Path) -> pd.DataFrame:
    """The rows as Row objects would give them (the reference)."""
    return pd.DataFrame([r.__dict__ for r in ResultStore(run_dir).rows()])


def test_columns_match_the_rows_and_derive_extra_fields(tmp_path: Path) -> None:
    ResultStore(tmp_path).add(_rows(40))
    columns = read_columns(tmp_path)
    plain = _plain(tmp_path)
    assert len(columns) == len(plain) == 40 and not (tmp_path / SNAPSHOT).exists()  # small: no snapshot
    codec = np.asarray(columns.categories["codec"], dtype=object)[columns.codes["codec"]]
    assert list(codec) == list(plain["codec"])
    assert np.allclose(columns.floats["value"], plain["value"].astype(float))
    seeds = [e.get("seed", np.nan) for e in plain["extra"]]
    assert np.allclose(columns.floats["seed"], seeds, equal_nan=True)
    assert list(columns.flags["random_weights"]) == [bool(e.get("random_weights")) for e in plain["extra"]]
    assert [json.loads(t) for t in columns.extra or []] == list(plain["extra"])


def test_snapshot_is_reused_extended_and_refused_when_stale(tmp_path: Path, small_snapshots: None) -> None:
    store = ResultStore(tmp_path)
    store.add(_rows(200))
    first = load_rows([tmp_path])
    assert (tmp_path / SNAPSHOT).is_file()
    pd.testing.assert_frame_equal(load_rows([tmp_path]), first)  # from the snapshot
    store.add(_rows(30, start=200))  # appended after the snapshot: parsed on top of it
    grown = load_rows([tmp_path])
    assert len(grown) == len(first) + 30
    fresh = tmp_path / "fresh"
    fresh.mkdir()
    (fresh / "rows.jsonl").write_bytes((tmp_path / "rows.jsonl").read_bytes())
    (fresh / "run.json").write_text("{}")
    pd.testing.assert_frame_equal(load_rows([fresh]), grown)  # the same as reading the file from scratch
    # the same length, other content (an edit in place): the digest refuses the snapshot
    data = (tmp_path / "rows.jsonl").read_bytes()
    (tmp_path / "rows.jsonl").write_bytes(data.replace(b'"u00001"', b'"u99991"', 1))
    edited = load_rows([tmp_path])
    assert "u99991" in set(edited["utt_id"]) and "u00001" not in set(edited["utt_id"])


def test_a_rewrite_deletes_the_snapshot_and_bad_lines_are_quarantined(tmp_path: Path, small_snapshots: None) -> None:
    store = ResultStore(tmp_path)
    store.add(_rows(100))
    load_rows([tmp_path])
    assert (tmp_path / SNAPSHOT).is_file()
    with open(tmp_path / "rows.jsonl", "a", encoding="utf-8") as handle:
        handle.write("{not json\n")
    df = load_rows([tmp_path])  # a reader skips the bad line and never rewrites the file
    assert len(df) == 100 and "not json" in (tmp_path / "rows.jsonl").read_text()
    ResultStore(tmp_path)  # the store (the writer) moves it to quarantine (a rewrite), the rows stay
    assert len(load_rows([tmp_path])) == 100
    assert "not json" in (tmp_path / "rows.quarantine.jsonl").read_text()
    assert not (tmp_path / SNAPSHOT).exists() or json.loads(
        bytes(np.load(tmp_path / SNAPSHOT)["meta"]).decode())["inode"] == (tmp_path / "rows.jsonl").stat().st_ino


def test_key_index_finds_exactly_the_stored_keys(tmp_path: Path, small_snapshots: None) -> None:
    rows = _rows(120)
    ResultStore(tmp_path).add(rows)
    index = KeyIndex(read_columns(tmp_path, keep_extra=False))
    assert len(index) == 120 and all(r.key in index for r in rows)
    for other in _rows(40, start=500):
        assert other.key not in index
    key = rows[0].key
    assert (key[0], key[1], key[2], key[3], key[4], key[5], "other-setup") not in index
    reopened = ResultStore(tmp_path)
    assert len(reopened) == 120 and reopened.has(rows[5].key)
    reopened.add(rows[:3] + _rows(2, start=900))  # known keys are not written again
    assert len(reopened) == 122 and len(list(ResultStore(tmp_path).rows())) == 122


def test_summaries_are_the_same_from_columns_as_from_rows(tmp_path: Path, small_snapshots: None) -> None:
    ResultStore(tmp_path).add(_rows(300))
    by_rows = summarize(_plain(tmp_path))
    by_columns = summarize(load_rows([tmp_path], extra="none"))
    pd.testing.assert_frame_equal(by_rows, by_columns)


def test_chunked_parsing_gives_the_same_columns(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    ResultStore(tmp_path).add(_rows(60))
    whole = load_rows([tmp_path])
    monkeypatch.setattr(rowframe, "_CHUNK", 97)  # chunks end mid-line: lines are carried over whole
    pd.testing.assert_frame_equal(load_rows([tmp_path]), whole)
