"""Where the time goes: per-stage wall time of each job, recorded in the run dir.

A task wraps its stages (``load``, ``resample``, ``encode``, ``decode``, ``metric:<name>``,
``store``, ``train``, ...) in :meth:`StageTimer.stage`; the runner appends one record per job
and run segment to ``timing.jsonl`` beside the job's rows (the run dir, or a shard's folder).
``codecbench profile RUN_DIR`` reads them back: what each job cost, and what a cached re-run saved.
"""

from __future__ import annotations

import json
import os
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

TIMING_FILE = "timing.jsonl"


@dataclass
class Stage:
    """Accumulated wall time of one stage: seconds, calls, items processed, items found in a cache."""

    seconds: float = 0.0
    calls: int = 0
    items: int = 0
    cached: int = 0

    def as_dict(self) -> dict[str, float | int]:
        return {"seconds": round(self.seconds, 6), "calls": self.calls, "items": self.items, "cached": self.cached}


@dataclass
class StageTimer:
    """Per-stage wall time of one job; safe to use from the producer and consumer threads of a pipeline."""

    stages: dict[str, Stage] = field(default_factory=dict)
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False)

    @contextmanager
    def stage(self, name: str, items: int = 0) -> Iterator[Stage]:
        """Time the enclosed block under ``name``; the yielded record may be updated (``cached``)."""
        record = Stage(items=items)
        start = time.perf_counter()
        try:
            yield record
        finally:
            record.seconds = time.perf_counter() - start
            self.add(name, record)

    def add(self, name: str, record: Stage) -> None:
        with self._lock:
            total = self.stages.setdefault(name, Stage())
            total.seconds += record.seconds
            total.calls += 1
            total.items += record.items
            total.cached += record.cached

    def as_dict(self) -> dict[str, dict[str, float | int]]:
        with self._lock:
            return {name: stage.as_dict() for name, stage in self.stages.items()}


def append_record(folder: Path, job: dict[str, str], wall: float, timer: StageTimer) -> None:
    """Append one job's record to ``folder/timing.jsonl`` (one ``write`` of one line: atomic when appended)."""
    record: dict[str, Any] = {**job, "finished": datetime.now(timezone.utc).isoformat(timespec="seconds"),
                              "wall_s": round(wall, 6), "pid": os.getpid(), "stages": timer.as_dict()}
    folder.mkdir(parents=True, exist_ok=True)
    with open(folder / TIMING_FILE, "a", encoding="utf-8") as handle:
        handle.write(json.dumps(record, sort_keys=True) + "\n")


def read_records(run_dir: Path) -> list[dict[str, Any]]:
    """Every timing record of a run: the run dir's and its shards'; unreadable lines are skipped."""
    files = [Path(run_dir) / TIMING_FILE, *sorted(Path(run_dir).glob(f"shards/*/{TIMING_FILE}"))]
    records = []
    for path in files:
        if not path.is_file():
            continue
        for line in path.read_text(encoding="utf-8").splitlines():
            try:
                record = json.loads(line)
            except json.JSONDecodeError:
                continue
            if isinstance(record, dict) and isinstance(record.get("stages"), dict):
                records.append(record)
    return records


def summarize(records: list[dict[str, Any]]) -> tuple[Any, Any, Any]:
    """Three pandas tables: per job of the latest segment (wall and stage seconds), per stage over the
    latest segment (seconds, share, items computed, items found in a cache and the seconds that saved at
    the stage's measured cost per item), and per job over segments (first vs latest wall)."""
    import pandas as pd

    if not records:
        empty = pd.DataFrame()
        return empty, empty, empty
    frame = pd.DataFrame([{"job": " / ".join(str(r.get(k, "")) for k in ("task", "codec", "dataset")),
                           "segment": str(r.get("segment", "")), "wall_s": float(r.get("wall_s", 0.0)),
                           "stages": r["stages"]} for r in records])
    job = ["job"]
    latest_segment = max(frame["segment"])
    latest = frame[frame["segment"] == latest_segment]
    stage_rows = [{**{k: row[k] for k in job}, "stage": name, **stage}
                  for row in latest.to_dict("records") for name, stage in row["stages"].items()]
    stages = pd.DataFrame(stage_rows, columns=[*job, "stage", "seconds", "calls", "items", "cached"])
    per_job = latest.groupby(job, sort=False)["wall_s"].sum().to_frame()
    if not stages.empty:
        wide = stages.pivot_table(index=job, columns="stage", values="seconds", aggfunc="sum", fill_value=0.0)
        per_job = per_job.join(wide)
    per_job.loc["total", :] = per_job.sum(numeric_only=True)
    by_stage = stages.groupby("stage")[["seconds", "items", "cached"]].sum() if not stages.empty else stages
    if not stages.empty:
        by_stage.insert(1, "share_%", 100.0 * by_stage["seconds"] / max(float(latest["wall_s"].sum()), 1e-9))
        cost = _cost_per_item(records)
        by_stage["saved_s"] = [float(by_stage.loc[name, "cached"]) * cost.get(name, 0.0) for name in by_stage.index]
        by_stage = by_stage.sort_values("seconds", ascending=False)
    walls = frame.groupby([*job, "segment"], sort=True)["wall_s"].sum().reset_index()
    history = walls.groupby(job, sort=False)["wall_s"].agg(first_s="first", latest_s="last", segments="count")
    history["saved_s"] = history["first_s"] - history["latest_s"]
    return per_job.round(3), by_stage.round(3), history.round(3)


def _cost_per_item(records: list[dict[str, Any]]) -> dict[str, float]:
    """Seconds per computed item of each stage, over every record that computed some."""
    seconds: dict[str, float] = {}
    items: dict[str, int] = {}
    for record in records:
        for name, stage in record["stages"].items():
            if stage.get("items"):
                seconds[name] = seconds.get(name, 0.0) + float(stage.get("seconds", 0.0))
                items[name] = items.get(name, 0) + int(stage["items"])
    return {name: seconds[name] / items[name] for name in seconds}
