"""What a run folder's files say about its rows: ``rows.jsonl`` parsed, rewritten whole and its bad lines
quarantined; which variant and setup ids the latest run segment made current (``run.json``)."""

from __future__ import annotations

import json
import logging
import os
from dataclasses import asdict
from pathlib import Path

from codecbench.api.rows import QUARANTINE, Row, checked_row, load_line

log = logging.getLogger(__name__)


def parse_lines(path: Path) -> tuple[list[Row], list[tuple[int, str, str]]]:
    """The rows of a ``rows.jsonl``, and its bad lines as (line number, text, reason); blank lines are neither."""
    rows: list[Row] = []
    bad: list[tuple[int, str, str]] = []
    if not path.is_file():
        return rows, bad
    data = path.read_bytes()
    lines = data.split(b"\n")
    for number, raw in enumerate(lines, start=1):
        if not raw.strip():
            continue
        try:
            if number == len(lines):  # text after the last newline: an interrupted write
                raise ValueError("no newline at the end (torn write)")
            rows.append(Row(**checked_row(load_line(raw))))
        except (ValueError, TypeError, UnicodeDecodeError) as err:
            bad.append((number, raw.decode("utf-8", errors="replace"), f"{type(err).__name__}: {err}"))
    return rows, bad


def rewrite_rows(path: Path, rows: list[Row]) -> None:
    """Replace ``path`` with ``rows``, whole (a temporary file, fsynced, renamed over it). A columnar snapshot
    of the old file is refused from then on: it names the old file's inode and bytes."""
    tmp = path.with_suffix(".tmp")
    with open(tmp, "w", encoding="utf-8") as handle:
        handle.write("".join(json.dumps(asdict(r), sort_keys=True) + "\n" for r in rows))
        handle.flush()
        os.fsync(handle.fileno())
    tmp.replace(path)


def quarantine_bad_lines(path: Path) -> list[Row]:
    """The file's rows; its bad lines moved to ``rows.quarantine.jsonl`` beside it (one parse of the file)."""
    rows, bad = parse_lines(path)
    if not bad:
        return rows
    quarantine = path.parent / QUARANTINE
    for number, _, reason in bad:
        log.warning("%s:%d is not a result row (%s): moved to %s", path, number, reason, quarantine.name)
    try:
        with open(quarantine, "a", encoding="utf-8") as handle:
            for number, text, reason in bad:
                handle.write(json.dumps({"file": path.name, "line": number, "reason": reason,
                                         "text": text}) + "\n")
        rewrite_rows(path, rows)
    except OSError as err:  # a read-only run dir: readers skip the bad lines anyway
        log.warning("could not quarantine bad lines of %s: %s", path, err)
    return rows


def current_variants(run_dir: Path) -> dict[str, str]:
    """``{codec label: variant id}`` of the latest run segment, from ``run.json`` (empty if none)."""
    path = Path(run_dir) / "run.json"
    try:
        info = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}
    variants = info.get("variants") if isinstance(info, dict) else None
    return {str(k): str(v) for k, v in variants.items()} if isinstance(variants, dict) else {}


Setups = dict[str, "str | dict[str, str]"]  # "<task>/<source>" -> hash, or {dataset: hash}


def current_setups(run_dir: Path) -> tuple[Setups, tuple[str, ...]]:
    """``({"<task>/<source>": {dataset: hash}}, tasks)`` of the latest run segment, from ``run.json`` (empty if
    none; a run.json written before setups were per dataset has one hash per task and source)."""
    try:
        info = json.loads((Path(run_dir) / "run.json").read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}, ()
    setups = info.get("setups") if isinstance(info, dict) else None
    if not isinstance(setups, dict):
        return {}, ()
    table: Setups = {}
    for key, value in setups.items():
        if isinstance(value, dict):
            table[str(key)] = {str(d): str(h) for d, h in value.items()}
        elif isinstance(value, str):
            table[str(key)] = value
    return table, tuple(sorted({k.split("/", 1)[0] for k in table}))


def setup_is_current(row: Row, setups: Setups, tasks: tuple[str, ...]) -> bool:
    """Whether a row was made by the latest segment's setup of its task, source and dataset, or by a task (or
    source, or dataset) that segment did not run. Rows from before setups existed (``setup == ""``) are current
    only where the segment ran none of the tasks they may come from."""
    if not row.setup:
        return not any(row.task == t or row.task.startswith(t + ".") for t in tasks)
    prefix, _, digest = row.setup.rpartition("/")
    wanted = setups.get(prefix, digest)
    if isinstance(wanted, dict):
        wanted = wanted.get(row.dataset, digest)
    return wanted == digest
