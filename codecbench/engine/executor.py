"""Run a plan in shards on worker processes or a SLURM cluster, through submitit.

A shard is a unit of resumable work: one (task, codec variant, dataset) job, and for tasks that declare
``shard_by_utterance`` one stable hash bucket of its utterance ids. Shards are grouped into worker jobs
(``workers``; each loads the metric models once for all its shards); a worker writes each shard's rows
into ``RUN_DIR/shards/<shard>/rows.jsonl`` (seeing the run's rows, so nothing done is recomputed) and a
``done`` marker at its end. The parent merges shard rows into the run's store (idempotent: rows are
keyed), resubmits only unfinished shards, and lists failed ones with their logs. Executors: ``local``
(``submitit.LocalExecutor``: processes on this machine, one GPU each when GPUs exist) and ``slurm``
(``submitit.AutoExecutor``: a job array, requeued on preemption, resuming from the shard rows).
"""

from __future__ import annotations

import json
import logging
import os
import socket
import time
from pathlib import Path
from typing import Any

from codecbench.api.rows import ENVIRONMENT
from codecbench.config.runconfig import ExecutorConfig, RunConfig, load_saved
from codecbench.engine.plan import Plan, Shard, bucket_of, build_plan
from codecbench.engine.runfiles import parse_lines
from codecbench.engine.store import ResultStore
from codecbench.util.outdir import atomic_write_json

log = logging.getLogger(__name__)


class ShardStore(ResultStore):
    """A shard's rows file; it also knows the run's rows (done work is skipped) and keeps the run dir as
    ``run_dir`` (checkpoints and caches stay shared)."""

    def __init__(self, run_dir: Path, shard: Shard) -> None:
        folder = Path(run_dir) / "shards" / shard.id
        super().__init__(folder)
        self._keys |= {row.key for row in parse_lines(Path(run_dir) / "rows.jsonl")[0]}
        self.run_dir = Path(run_dir)


def _folder(run_dir: Path, shard: Shard) -> Path:
    return run_dir / "shards" / shard.id


def state_of(run_dir: Path, shard: Shard) -> str:
    """``done``, ``failed``, ``running`` (started, not finished) or ``pending``."""
    folder = _folder(run_dir, shard)
    for state in ("done", "failed", "running"):
        if (folder / state).is_file():
            return state
    return "pending"


def work(raw_config: dict[str, Any], run_dir: str, shards: list[dict[str, Any]], threads: int | None = None
         ) -> list[str]:
    """A worker job: run each shard (metric models built once for all of them); returns their states. The plan is
    the parent's: its config, and the variant ids and dataset fingerprints the parent recorded in ``run.json``.
    ``threads``: torch threads of this worker (local executor: the machine's cores shared among workers)."""
    if threads:
        import torch

        torch.set_num_threads(threads)
    from codecbench import assets
    from codecbench.api.datasets import load_dataset
    from codecbench.config.runconfig import from_dict
    from codecbench.engine import jobs

    config = from_dict(raw_config)
    assets.set_overrides(config.assets)
    plan = recorded_plan(config, Path(run_dir))
    metrics = jobs.MetricSet(plan.metric_settings, config.device, plan.profile)
    data: dict[str, list] = {}
    states = []
    for item in shards:
        shard = Shard(**item)
        folder = _folder(Path(run_dir), shard)
        folder.mkdir(parents=True, exist_ok=True)
        if (folder / "done").is_file():
            states.append("done")
            continue
        (folder / "failed").unlink(missing_ok=True)
        (folder / "running").write_text(_running_marker())
        try:
            if shard.dataset not in data:
                data[shard.dataset] = load_dataset(next(d for d in config.datasets if d.name == shard.dataset))
            utts = [u for u in data[shard.dataset] if shard.buckets == 1 or bucket_of(u.utt_id, shard.buckets)
                    == shard.bucket]
            store = ShardStore(Path(run_dir), shard)
            store.drop_errors((ENVIRONMENT,))  # e.g. left by a cancelled job's last seconds: retried
            jobs.run_job(plan.job_of(shard), utts, jobs.Runtime(plan, store, metrics, progress=False))
            (folder / "done").write_text(str(time.time()))
            states.append("done")
        except Exception as err:  # noqa: BLE001 - one shard fails alone, listed by the parent
            (folder / "failed").write_text(f"{type(err).__name__}: {err}")
            log.exception("shard %s failed", shard.id)
            states.append("failed")
        finally:
            (folder / "running").unlink(missing_ok=True)
    return states


def merge(store: ResultStore, shards: list[Shard]) -> int:
    """Add every shard's rows to the run's store (rows already there are skipped); returns rows added."""
    before = len(store)
    for shard in shards:
        shard_rows = _folder(store.run_dir, shard) / "rows.jsonl"
        if shard_rows.is_file():
            store.add(parse_lines(shard_rows)[0])
    return len(store) - before


def _executor(settings: ExecutorConfig, folder: Path) -> Any:
    try:
        import submitit
    except ModuleNotFoundError as err:
        raise ModuleNotFoundError("executor local / slurm needs submitit: pip install "
                                  "'codecbench[cluster]'") from err
    if settings.kind == "local":
        local = submitit.LocalExecutor(folder=str(folder))
        local.update_parameters(timeout_min=int(settings.scheduler.get("timeout_min", 24 * 60)))
        return local
    executor = submitit.AutoExecutor(folder=str(folder), cluster="slurm")
    params = {f"slurm_{k}": v for k, v in settings.scheduler.items() if k != "timeout_min"}
    executor.update_parameters(timeout_min=int(settings.scheduler.get("timeout_min", 60)), **params)
    return executor


def submit(plan: Plan, store: ResultStore, detach: bool = False) -> dict[str, Any]:
    """Submit the plan's unfinished shards in ``executor.workers`` jobs; unless ``detach``, wait and merge.
    Returns ``{"shards": n, "submitted": n, "failed": [(shard, error, log)], "merged": rows}``."""
    config, settings = plan.config, plan.config.executor
    run_dir = store.run_dir
    shards = plan.shards()
    pending = [s for s in shards if state_of(run_dir, s) != "done"]
    groups = [pending[i::settings.workers] for i in range(settings.workers)]
    groups = [g for g in groups if g]
    logs = run_dir / "shards" / "logs"
    logs.mkdir(parents=True, exist_ok=True)
    jobs = []
    if groups:
        executor = _executor(settings, logs)
        raw = dict(config.raw)
        if settings.kind == "slurm":
            with executor.batch():  # one job array
                futures = [executor.submit(work, raw, str(run_dir), [s.to_dict() for s in g]) for g in groups]
            jobs = futures
        else:
            import os

            threads = max(1, (os.cpu_count() or 1) // len(groups))
            jobs = [executor.submit(work, raw, str(run_dir), [s.to_dict() for s in g], threads) for g in groups]
    atomic_write_json(run_dir / "shards" / "jobs.json",
                      [{"job": str(j.job_id), "shards": [s.id for s in g], "stdout": str(j.paths.stdout),
                        "stderr": str(j.paths.stderr)} for j, g in zip(jobs, groups, strict=True)])
    result: dict[str, Any] = {"shards": len(shards), "submitted": len(pending), "jobs": [str(j.job_id) for j in jobs],
                              "failed": [], "merged": 0}
    if detach:
        return result
    for job in jobs:
        try:
            job.result()
        except Exception as err:  # noqa: BLE001 - a job that died (killed, cancelled, out of time)
            log.warning("job %s ended without a result: %s", job.job_id, (str(err).splitlines() or [''])[0][:200])
    result["merged"] = merge(store, shards)
    log_of = {s: str(j.paths.stderr) for j, g in zip(jobs, groups, strict=True) for s in (x.id for x in g)}
    for shard in shards:
        state = state_of(run_dir, shard)
        if state != "done":
            failed = _folder(run_dir, shard) / "failed"
            reason = failed.read_text() if state == "failed" else f"not finished ({state})"
            result["failed"].append((shard.id, reason, log_of.get(shard.id, str(logs))))
    return result


def recorded_plan(config: RunConfig, run_dir: Path) -> Plan:
    """The plan of a run config as its run recorded it (``run.json``: the variant ids and the datasets'
    fingerprints the parent computed): what a worker runs and ``codecbench status`` lists."""
    try:
        info = json.loads((run_dir / "run.json").read_text(encoding="utf-8"))
    except (OSError, ValueError):
        info = {}
    info = info if isinstance(info, dict) else {}
    as_text: dict[str, dict[str, str]] = {}
    for key in ("datasets", "variants"):
        value = info.get(key)
        as_text[key] = {str(a): str(b) for a, b in value.items()} if isinstance(value, dict) else {}
    return build_plan(config, as_text["datasets"], as_text["variants"] or None)


def unfinished_shards(plan: Plan, run_dir: Path) -> list[str]:
    """``"<shard>: <state> (<reason>)"`` of every planned shard that is not done."""
    out = []
    for shard in plan.shards():
        state = state_of(Path(run_dir), shard)
        if state != "done":
            failed = _folder(Path(run_dir), shard) / "failed"
            reason = failed.read_text(errors="replace")[:200] if state == "failed" else ""
            out.append(f"{shard.id}: {state}" + (f" ({reason})" if reason else ""))
    return out


def _running_marker() -> str:
    return json.dumps({"host": socket.gethostname(), "pid": os.getpid(), "started": time.time()})


def _killed(folder: Path) -> bool:
    """A ``running`` marker left by a process of this host that no longer exists (killed)."""
    try:
        marker = json.loads((folder / "running").read_text())
        host, pid = marker["host"], int(marker["pid"])
    except (OSError, ValueError, KeyError, TypeError):
        return False
    if host != socket.gethostname():
        return False  # another node's process: only its scheduler knows
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return True
    except PermissionError:
        return False
    return False


def _state_of_folder(folder: Path) -> tuple[str, str]:
    state = next((s for s in ("done", "failed", "running") if (folder / s).is_file()), "pending")
    if state == "running" and _killed(folder):
        return "killed", "its process is gone (killed?): `codecbench run` with the same config resubmits it"
    return state, (folder / "failed").read_text(errors="replace")[:200] if state == "failed" else ""


def status(run_dir: Path) -> list[tuple[str, str, str]]:
    """``(shard, state, detail)`` of every shard the run's config plans (``pending`` where it has no folder
    yet; ``killed`` where a process of this host that ran it is gone) and of any other shard folder
    (``not planned``). FileNotFoundError when ``run_dir`` is not a folder."""
    run_dir = Path(run_dir)
    if not run_dir.is_dir():
        raise FileNotFoundError(f"{run_dir} is not a run folder")
    out, planned = [], set()
    config = load_saved(run_dir)
    if config is not None:
        if not config.executor.inline:
            for shard in recorded_plan(config, run_dir).shards():
                planned.add(shard.id)
                out.append((shard.id, *_state_of_folder(_folder(run_dir, shard))))
    for folder in sorted((run_dir / "shards").glob("*--*")):
        if folder.is_dir() and folder.name not in planned:
            state, detail = _state_of_folder(folder)
            out.append((folder.name, f"{state}, not planned", detail or "from an earlier setup of the run"))
    return out
