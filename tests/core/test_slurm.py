"""A real SLURM cluster (scripts/slurm_up.sh brings up one node): a job array through submitit, one array
task cancelled mid-run with scancel, a re-run that computes only the missing rows, tables equal to inline."""

from __future__ import annotations

import json
import shutil
import subprocess
import time
from pathlib import Path

import pytest

pytest.importorskip("submitit", reason="executors need submitit: pip install 'codecbench[cluster]'")

from codecbench.config.runconfig import from_dict  # noqa: E402
from codecbench.engine import (
    executor,  # noqa: E402
    runner,
)
from codecbench.results.tables import render  # noqa: E402


def _slurm_up() -> bool:
    if shutil.which("sinfo") is None:
        return False
    proc = subprocess.run(["sinfo", "-h", "-o", "%T"], capture_output=True, text=True, timeout=20)
    return proc.returncode == 0 and any(s in proc.stdout for s in ("idle", "mix", "alloc"))


def _kill_wait() -> int:
    """Seconds SLURM waits between a cancelled job's SIGTERM and its SIGKILL (submitit bypasses SIGTERM)."""
    proc = subprocess.run(["scontrol", "show", "config"], capture_output=True, text=True, timeout=20)
    for line in proc.stdout.splitlines():
        if line.split("=")[0].strip() == "KillWait":
            return int(line.split("=")[1].split()[0])
    return 30


pytestmark = [pytest.mark.system("slurm"),
              pytest.mark.skipif(not _slurm_up(), reason="no SLURM cluster here (bash scripts/slurm_up.sh starts one)")]


def _config(root: Path, out: Path, **extra) -> object:
    return from_dict({"name": "s", "output_dir": str(out), "metric_profile": "offline", "metrics": ["dnsmos"],
                      "tasks": ["resynthesis"], "codecs": ["codec2-700c"], "batch_size": 2,
                      "datasets": {"d": {"format": "manifest", "root": str(root), "limit": 36}}, **extra})


def test_slurm_array_cancel_one_shard_and_resume(shared_data: Path, tmp_path: Path, monkeypatch) -> None:
    if _kill_wait() > 5:  # the cancelled shard (~25 s) would finish in the grace time and leave nothing to resume
        pytest.skip(f"this cluster's KillWait is {_kill_wait()} s; scripts/slurm_up.sh sets 1 s")
    monkeypatch.setenv("CODECBENCH_CACHE", str(tmp_path / "cache"))  # nothing cached: the jobs take a while
    out = tmp_path / "slurm"
    settings = {"kind": "slurm", "workers": 3, "buckets": 3, "cpus_per_task": 1, "mem_gb": 3, "timeout_min": 20}
    config = _config(shared_data, out, executor=settings)
    runner.run(config, progress=False, detach=True)
    jobs = json.loads((out / "shards" / "jobs.json").read_text())
    assert len(jobs) == 3 and all("_" in j["job"] for j in jobs)  # one array, three tasks
    victim = jobs[1]
    first = out / "shards" / victim["shards"][0]  # 12 utterances in batches of 2: cancelled part-way through
    deadline = time.time() + 300
    while time.time() < deadline and not ((first / "rows.jsonl").is_file() and (first / "rows.jsonl").read_text()):
        time.sleep(0.05)
    assert not (first / "done").is_file()
    subprocess.run(["scancel", victim["job"]], check=True)
    array = victim["job"].split("_")[0]
    while time.time() < deadline and any(j.startswith(array + "_") for j in subprocess.run(
            ["squeue", "-h", "-r", "-o", "%i"], capture_output=True, text=True).stdout.split()):
        time.sleep(0.2)  # the other tasks finish their shards
    states = {s: state for s, state, _ in executor.status(out)}
    unfinished = {s for s, state in states.items() if state != "done"}
    assert unfinished and unfinished <= set(victim["shards"])  # only the cancelled task's shards
    kept = {s: (out / "shards" / s / "rows.jsonl").read_text() for s in states if s not in unfinished}
    partial = (first / "rows.jsonl").read_text()
    runner.run(config, progress=False)  # resubmits only what is missing, waits, merges
    monkeypatch.setenv("CODECBENCH_CACHE", str(tmp_path / "cache-inline"))  # the inline run computes everything itself
    inline = tmp_path / "inline"
    runner.run(_config(shared_data, inline), progress=False)
    rerun = json.loads((out / "shards" / "jobs.json").read_text())
    assert {s for j in rerun for s in j["shards"]} == unfinished
    assert all((out / "shards" / s / "rows.jsonl").read_text() == text for s, text in kept.items())
    # complete rows only (the kill may cut the last line; the store repairs it) and no environment errors
    # (a dying job's last seconds can leave some: they are retried)
    finished = [line for line in partial.splitlines(keepends=True)
                if line.endswith("\n") and '"environment"' not in line]
    assert (first / "rows.jsonl").read_text().splitlines(keepends=True)[:len(finished)] == finished  # not recomputed
    merged, expected = ((d / "rows.jsonl").read_text().splitlines() for d in (out, inline))
    assert sorted(merged) == sorted(expected)  # byte for byte after sorting
    assert render([out])["resynthesis"].split("\n- ")[0] == render([inline])["resynthesis"].split("\n- ")[0]
    # rows merged from the array's shards, in their own order: the inline run's summary, byte for byte
    assert (out / "tables" / "summary.csv").read_bytes() == (inline / "tables" / "summary.csv").read_bytes()
