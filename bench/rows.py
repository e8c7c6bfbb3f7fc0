"""The row schema of a run's ``rows.jsonl``: :class:`Row`, its key, error kinds, which rows the latest run
segment makes current, and reading, rewriting and quarantining the file's lines.

The lowest layer of the results: :mod:`bench.rowframe` (columns) and :mod:`bench.store` (the writer) build on it.
"""

from __future__ import annotations

import json
import logging
import math
import os
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

log = logging.getLogger(__name__)
ERROR_METRIC = "error"
#: error kinds: ``data`` (this utterance cannot be used: stays done) and ``environment`` (codec build,
#: weights, memory, disk: not done, retried by the next run)
DATA, ENVIRONMENT = "data", "environment"
#: (codec, task, dataset, utterance, metric, variant, setup)
RowKey = tuple[str, str, str, str, str, str, str]
QUARANTINE = "rows.quarantine.jsonl"  # beside rows.jsonl: the lines that were not rows, with where and why
KEY_FIELDS = ("codec", "task", "dataset", "utt_id", "metric", "variant", "setup")  # the fields of Row.key, in order
#: the item of rows about a whole dataset or codec variant (a codec's card, a dataset-level error)
WHOLE = "*"
_TO, _SEED, _RATER = "->", "@seed", "~"
#: characters escaped in each part of a serialised item id, so the separators above never occur inside a part
_ESCAPES = {"%": "%25", "~": "%7E", "@": "%40", ">": "%3E"}
#: the typed fields of an item, stored in a row's ``extra`` beside its serialised ``utt_id`` (readers use these,
#: never the string)
ITEM_FIELDS = ("item_source", "item_target", "item_seed", "item_rater")


def _escape(text: str) -> str:
    return "".join(_ESCAPES.get(c, c) for c in text)


@dataclass(frozen=True)
class ItemId:
    """What a row is about: an utterance (``source``), its conversion to a ``target`` speaker (voice conversion),
    one training ``seed`` of a generation (TTS with several seeds) or one listener's rating (``rater``, a
    listening test). ``str()`` is the row's ``utt_id`` (part of its key): injective, because each part is escaped
    (``%``, ``~``, ``@``, ``>``) before the separators (``->``, ``@seed``, ``~``) join them; a plain utterance id is
    its own string. The string is never parsed back: rows carry the parts as typed fields (:meth:`fields`)."""

    source: str
    target: str | None = None
    seed: int | None = None
    rater: str | None = None

    def __str__(self) -> str:
        text = _escape(self.source)
        if self.target is not None:
            text += _TO + _escape(self.target)
        if self.seed is not None:
            text += f"{_SEED}{int(self.seed)}"
        return text if self.rater is None else text + _RATER + _escape(self.rater)

    @classmethod
    def of(cls, item: ItemId | str) -> ItemId:
        """An item, or a plain utterance id as its item."""
        return item if isinstance(item, ItemId) else cls(item)

    def fields(self) -> dict[str, Any]:
        """The parts a row stores beside its ``utt_id`` (``item_source``, ...); none for a plain utterance id that
        is its own string."""
        if str(self) == self.source:
            return {}
        parts = {"item_source": self.source, "item_target": self.target, "item_seed": self.seed,
                 "item_rater": self.rater}
        return {k: v for k, v in parts.items() if v is not None}


def item_sources(frame: Any) -> dict[str, str]:
    """``{utt_id: source utterance}`` of a frame of rows (:func:`bench.tables.load_rows`): the typed
    ``item_source`` where the row has one, else the ``utt_id`` itself (a plain utterance id)."""
    sources = frame["item_source"] if "item_source" in frame else [None] * len(frame)
    return {str(u): str(s) if isinstance(s, str) else str(u) for u, s in zip(frame["utt_id"], sources, strict=True)}


@dataclass(frozen=True)
class Row:
    """One result.

    ``value`` is the per-utterance number; ``num``/``den`` let ratio metrics (corpus dWER,
    measured frame rate and bitrate) aggregate as sum(num)/sum(den). An error row has
    ``metric == "error"`` and the reason in ``error``. ``variant`` is a short hash of what
    determines the codec's results (registry name, resolved params, weights, code); ``setup``
    (``<task>/<source>/<hash>``, source a metric name or ``-`` for the task's own outputs) a hash of
    what determines the rest (task code and options, seed, the metric's code, backend and weights).
    Both are part of the row's identity, so a change to any of them is recomputed, never shown stale.
    """

    codec: str
    task: str
    dataset: str
    utt_id: str
    metric: str
    value: float | None = None
    num: float | None = None
    den: float | None = None
    backend: str = ""
    error: str | None = None
    extra: dict[str, Any] = field(default_factory=dict)
    variant: str = ""
    setup: str = ""

    @property
    def key(self) -> RowKey:
        return (self.codec, self.task, self.dataset, self.utt_id, self.metric, self.variant, self.setup)


ROW_FIELDS = ("codec", "task", "dataset", "utt_id", "metric", "value", "num", "den", "backend", "error", "extra",
              "variant", "setup")
_TEXT_FIELDS = ("codec", "task", "dataset", "utt_id", "metric", "backend", "variant", "setup")
_NUMBER_FIELDS = ("value", "num", "den")
#: the largest magnitude a row's number may have (far beyond any metric's; sums of a million rows stay finite)
MAX_MAGNITUDE = 1e15


def load_line(raw: bytes) -> Any:
    """The JSON of one line; :class:`ValueError` for anything ``json`` cannot read (nesting too deep, an integer
    too large for a float included)."""
    try:
        return json.loads(raw)
    except (RecursionError, OverflowError) as err:
        raise ValueError(f"not readable as JSON ({type(err).__name__})") from None


def checked_row(obj: Any) -> dict[str, Any]:
    """The fields of a row read from a file, checked: an object with the key fields as strings, ``value`` / ``num`` /
    ``den`` finite numbers or null (never a string or a bool; ``den`` >= 0), ``error`` a string or null, ``extra``
    an object. Fields this version does not know are dropped (a newer harness's rows stay readable).
    :class:`ValueError` names what is wrong."""
    if not isinstance(obj, dict):
        raise ValueError(f"a row is a JSON object, got {type(obj).__name__}")
    missing = [k for k in KEY_FIELDS[:5] if k not in obj]
    if missing:
        raise ValueError(f"not a result row: no {missing}")
    row = {k: v for k, v in obj.items() if k in ROW_FIELDS}
    for key in _TEXT_FIELDS:
        if key in row and not isinstance(row[key], str):
            raise ValueError(f"{key} must be a string, got {row[key]!r}"[:200])
    for key in _NUMBER_FIELDS:
        value = row.get(key)
        if value is None:
            continue
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            raise ValueError(f"{key} must be a number, got {value!r}"[:200])
        if not math.isfinite(float(value)) or abs(float(value)) > MAX_MAGNITUDE:
            raise ValueError(f"{key} is not a finite number within +-{MAX_MAGNITUDE:g} ({value})")
        row[key] = float(value)
    if row.get("den") is not None and row["den"] < 0:
        raise ValueError(f"den must be >= 0, got {row['den']}")
    if row.get("error") is not None and not isinstance(row["error"], str):
        raise ValueError(f"error must be a string, got {row['error']!r}"[:200])
    if not isinstance(row.get("extra") or {}, dict):
        raise ValueError("extra must be an object")
    return row


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


def error_kind(row: Row) -> str:
    """``environment`` or ``data`` (the default: rows written before kinds existed)."""
    return str((row.extra or {}).get("kind", DATA))
