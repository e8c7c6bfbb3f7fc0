"""The row schema: :class:`Row`, its key, item ids, error kinds, a row read from outside checked
(:func:`checked_row`), and :class:`RowSink`, where a task's rows go (the engine's store is one)."""

from __future__ import annotations

import json
import logging
import math
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol

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
    """``{utt_id: source utterance}`` of a frame of rows (:func:`codecbench.results.tables.load_rows`): the typed
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


class RowSink(Protocol):
    """Where a task's rows go: the engine hands a task one (its result store); a task only adds rows, asks
    whether a key is done and writes its files (checkpoints, saved audio) under ``run_dir``."""

    run_dir: Path

    def add(self, rows: Iterable[Row]) -> None:
        """Add rows (each whole, durable before this returns)."""

    def has(self, key: RowKey) -> bool:
        """Whether a row of ``key`` is stored."""


def error_kind(row: Row) -> str:
    """``environment`` or ``data`` (the default: rows written before kinds existed)."""
    return str((row.extra or {}).get("kind", DATA))
