"""Result store: append-only JSON lines, one row per key (codec, task, dataset, utterance, metric, variant, setup).

Rows are appended with checked writes on an ``O_APPEND`` descriptor and made durable with
``fsync``; a write that fails or comes up short (disk full) is rolled back to the last whole line
and raised as :class:`StoreWriteError`, so the store never claims a row it did not write. On open,
a line that is not a row (torn by a kill, garbled, blank) is moved to ``rows.quarantine.jsonl``
with its line number, and a warning names the file and line; the run goes on. A re-run reads the
keys already present and computes only what is missing. :meth:`ResultStore.lock` makes a run the
only writer of its run directory.
"""

from __future__ import annotations

import errno
import fcntl
import json
import logging
import math
import os
from collections.abc import Iterable, Iterator
from dataclasses import asdict
from pathlib import Path
from typing import IO

from codecbench.api.rows import DATA, ENVIRONMENT, QUARANTINE, Row, RowKey, error_kind
from codecbench.engine.rowframe import KeyIndex, drop_snapshot, read_columns
from codecbench.engine.runfiles import parse_lines, rewrite_rows

log = logging.getLogger(__name__)


class StoreWriteError(OSError):
    """Rows that could not be written (disk full, I/O error); nothing partial is left behind."""


class RunDirLocked(OSError):
    """Another run holds the run directory."""


class ResultStore:
    """Rows of one run directory (``rows.jsonl``)."""

    def __init__(self, run_dir: str | Path, lock: bool = False, read_keys: bool = True) -> None:
        """Open (and with ``lock``, first become the only writer of) a run directory. The keys already stored are
        read column-wise (:class:`codecbench.engine.rowframe.KeyIndex`: no object per row); bad lines are quarantined
        first."""
        self.run_dir = Path(run_dir)
        self.run_dir.mkdir(parents=True, exist_ok=True)
        self.path = self.run_dir / "rows.jsonl"
        self.quarantine = self.run_dir / QUARANTINE
        self._lock: IO[str] | None = None
        if lock:
            self.lock()
        self._keys: set[RowKey] = set()  # keys added through this store (or known from elsewhere: shards)
        self._index = KeyIndex(read_columns(self.run_dir, keep_extra=False)
                               if read_keys and self.path.is_file() else None)

    # ---- reading -------------------------------------------------------------------------------


    def rows(self) -> Iterator[Row]:
        """Every row; blank and bad lines are skipped."""
        yield from parse_lines(self.path)[0]

    def has(self, key: RowKey) -> bool:
        return key in self._keys or key in self._index

    def __len__(self) -> int:
        """Rows stored (without reading the file again)."""
        return len(self._index) + len(self._keys)

    # ---- writing -------------------------------------------------------------------------------
    def add(self, rows: Iterable[Row]) -> None:
        """Append rows (one checked write per batch) and make them durable; all or nothing."""
        fresh = [r for r in rows if not self.has(r.key)]
        if not fresh:
            return
        for row in fresh:  # TaskContext.row turns these into error rows; a row made another way is refused here
            if any(v is not None and not math.isfinite(v) for v in (row.value, row.num, row.den)):
                raise ValueError(f"refusing a non-finite result ({row.codec} / {row.task} / {row.utt_id} / "
                                 f"{row.metric}: value={row.value}, num={row.num}, den={row.den})")
        payload = "".join(json.dumps(asdict(r), sort_keys=True) + "\n" for r in fresh).encode("utf-8")
        fd = os.open(self.path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
        try:
            start = os.fstat(fd).st_size
            try:
                view, written = memoryview(payload), 0
                while written < len(payload):
                    count = os.write(fd, view[written:])
                    if count <= 0:
                        raise OSError(errno.ENOSPC, "short write: no space left")
                    written += count
                os.fsync(fd)
            except OSError as err:
                try:
                    os.ftruncate(fd, start)  # roll back to the last whole line
                except OSError:
                    pass  # the next open quarantines the torn line
                raise StoreWriteError(
                    err.errno, f"could not write {len(fresh)} rows to {self.path} ({err.strerror or err}); the rows "
                    "already stored are safe: free space and run the same command again") from err
        finally:
            os.close(fd)
        self._keys.update(r.key for r in fresh)

    def _rewrite(self, rows: list[Row]) -> None:
        drop_snapshot(self.path.parent)  # its columns describe the old file (the new inode would refuse it too)
        rewrite_rows(self.path, rows)

    def drop_errors(self, kinds: tuple[str, ...] = (DATA, ENVIRONMENT)) -> int:
        """Remove failed rows (utterance errors and failed metric values) of these kinds, so they are
        recomputed; returns how many."""
        rows = list(self.rows())
        keep = [r for r in rows if not (r.error is not None and error_kind(r) in kinds)]
        if len(keep) != len(rows):
            self._rewrite(keep)
        self._keys -= {r.key for r in rows} - {r.key for r in keep}  # keys known from elsewhere (a shard's run) stay
        self._index = KeyIndex(read_columns(self.path.parent, keep_extra=False) if self.path.is_file() else None)
        self._keys -= {key for key in self._keys if key in self._index}
        return len(rows) - len(keep)

    # ---- one writer per run dir ----------------------------------------------------------------
    def lock(self) -> None:
        """Become the only run writing this directory, or raise :class:`RunDirLocked` at once."""
        handle = open(self.run_dir / ".lock", "a+", encoding="utf-8")
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError as err:
            handle.seek(0)
            owner = handle.read().strip() or "another process"
            handle.close()
            raise RunDirLocked(errno.EBUSY, f"{self.run_dir} is being written by another codecbench run ({owner}); "
                                            "wait for it to finish or choose another output_dir") from err
        handle.seek(0)
        handle.truncate()
        handle.write(f"pid {os.getpid()}\n")
        handle.flush()
        self._lock = handle

    def unlock(self) -> None:
        if self._lock is not None:
            fcntl.flock(self._lock, fcntl.LOCK_UN)
            self._lock.close()
            self._lock = None
