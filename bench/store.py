"""Result store: append-only JSON lines, one row per (codec, task, dataset, utterance, metric).

Each row is written with a single ``write`` on an ``O_APPEND`` descriptor and flushed to
disk, so an interrupted run leaves at most one torn last line, which :meth:`ResultStore.rows`
skips. A re-run reads the keys already present and computes only what is missing.
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterable, Iterator
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

ERROR_METRIC = "error"


@dataclass(frozen=True)
class Row:
    """One result.

    ``value`` is the per-utterance number; ``num``/``den`` let ratio metrics (corpus dWER,
    measured frame rate and bitrate) aggregate as sum(num)/sum(den). An error row has
    ``metric == "error"`` and the reason in ``error``.
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

    @property
    def key(self) -> tuple[str, str, str, str, str]:
        return (self.codec, self.task, self.dataset, self.utt_id, self.metric)


class ResultStore:
    """Rows of one run directory (``rows.jsonl``)."""

    def __init__(self, run_dir: str | Path) -> None:
        self.run_dir = Path(run_dir)
        self.run_dir.mkdir(parents=True, exist_ok=True)
        self.path = self.run_dir / "rows.jsonl"
        self._keys = {row.key for row in self.rows()}
        self._repair_tail()

    def _repair_tail(self) -> None:
        """Drop a torn last line left by a killed writer, so appends start on a new line."""
        if not self.path.is_file() or self.path.stat().st_size == 0:
            return
        with open(self.path, "rb+") as handle:
            handle.seek(-1, os.SEEK_END)
            if handle.read(1) == b"\n":
                return
            data = self.path.read_bytes()
            cut = data.rfind(b"\n") + 1
            handle.truncate(cut)

    def rows(self) -> Iterator[Row]:
        if not self.path.is_file():
            return
        with open(self.path, encoding="utf-8") as handle:
            for line in handle:
                if not line.endswith("\n"):
                    break  # torn tail of an interrupted write
                yield Row(**json.loads(line))

    def has(self, key: tuple[str, str, str, str, str]) -> bool:
        return key in self._keys

    def add(self, rows: Iterable[Row]) -> None:
        """Append rows atomically (one write per batch) and make them durable."""
        fresh = [r for r in rows if r.key not in self._keys]
        if not fresh:
            return
        payload = "".join(json.dumps(asdict(r), sort_keys=True) + "\n" for r in fresh)
        fd = os.open(self.path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
        try:
            os.write(fd, payload.encode("utf-8"))
            os.fsync(fd)
        finally:
            os.close(fd)
        self._keys.update(r.key for r in fresh)

    def drop_errors(self) -> int:
        """Remove error rows (so ``--retry-errors`` recomputes them); returns how many."""
        rows = list(self.rows())
        keep = [r for r in rows if r.metric != ERROR_METRIC]
        tmp = self.path.with_suffix(".tmp")
        tmp.write_text("".join(json.dumps(asdict(r), sort_keys=True) + "\n" for r in keep))
        tmp.replace(self.path)
        self._keys = {r.key for r in keep}
        return len(rows) - len(keep)
