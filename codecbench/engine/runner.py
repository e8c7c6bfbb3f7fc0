"""Execute a run plan: tasks x codec variants x datasets, resuming from the result store."""

from __future__ import annotations

import dataclasses
import json
import logging
from dataclasses import dataclass

from tqdm import tqdm

from codecbench import assets
from codecbench.api.datasets import Utterance, dataset_fingerprint, load_dataset
from codecbench.api.rows import DATA, ENVIRONMENT, ERROR_METRIC
from codecbench.config.runconfig import RunConfig
from codecbench.engine.jobs import MetricSet, Runtime, check_device, run_job, seed_everything, write_run_info
from codecbench.engine.plan import Plan, build_plan
from codecbench.engine.store import ResultStore
from codecbench.util.outdir import check_disjoint
from codecbench.util.threads import apply_torch_threads, processing_order

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Outcome:
    """A run's store and the plan it ran (its datasets' fingerprints filled in)."""

    store: ResultStore
    plan: Plan


def run(config: RunConfig, progress: bool = True, retry_errors: bool = False, detach: bool = False) -> ResultStore:
    """Run (or resume) a config's plan; returns the store holding every row (:func:`run_plan`)."""
    return run_plan(config, progress, retry_errors, detach).store


def run_plan(given: RunConfig | Plan, progress: bool = True, retry_errors: bool = False,
             detach: bool = False) -> Outcome:
    """Run (or resume) a plan (built here from a config); returns the store and the plan.

    Everything that can be checked without heavy work is checked first (names, codec params, device, metric
    profile, datasets, an output folder apart from the data); then the run directory is locked, environment
    errors of earlier runs are dropped (so they are retried) and the plan runs, inline or on an executor.
    Sets the process's seeds, torch threads and asset overrides (the Python API restores them after)."""
    plan = given if isinstance(given, Plan) else None
    config = given.config if isinstance(given, Plan) else given
    seed_everything(config.seed)
    apply_torch_threads()
    assets.set_overrides(config.assets)
    check_device(config.device)
    plan = plan or build_plan(config)
    if detach and config.executor.inline:
        raise ValueError("--detach submits shards to workers: set executor.kind (or --executor) to local or slurm")
    check_disjoint(config.output_dir, [d.root for d in config.datasets if d.root], "output_dir")
    data: dict[str, list[Utterance]] = {d.name: processing_order(load_dataset(d)) for d in config.datasets}
    plan = plan.with_data({d.name: dataset_fingerprint(d, data[d.name]) for d in config.datasets})
    store = ResultStore(config.output_dir, lock=True)  # nothing is created before every input is checked
    try:
        retried = store.drop_errors((ENVIRONMENT,) if not retry_errors else (ENVIRONMENT, DATA))
        if retried:
            log.info("retrying %d failed rows of earlier runs", retried)
        write_run_info(plan)
        if not config.executor.inline:
            from codecbench.engine import executor

            outcome = executor.submit(plan, store, detach)
            log.warning("executor %s: %d shards, %d submitted in jobs %s; %d rows merged%s",
                        config.executor.kind, outcome["shards"], outcome["submitted"], outcome["jobs"],
                        outcome["merged"], " (detached: `codecbench status` watches, `codecbench run` merges)"
                        if detach else "")
            for shard, reason, log_path in outcome["failed"]:
                log.error("shard %s: %s (log: %s)", shard, reason, log_path)
        else:
            runtime = Runtime(plan, store, MetricSet(plan.metric_settings, config.device, plan.profile), progress)
            for job in tqdm(plan.jobs, desc=config.name, unit="job", disable=not progress):
                run_job(job, data[job.dataset], runtime)
    finally:
        store.unlock()
    return Outcome(store, plan)


@dataclass(frozen=True)
class RunSummary:
    """What went wrong in a run's jobs: error rows by kind, codecs that could not be built, jobs
    (task x codec x dataset) that produced only errors."""

    errors: dict[str, int]
    unbuildable: list[str]
    error_only_jobs: list[str]
    unfinished_shards: list[str] = dataclasses.field(default_factory=list)  # "shard: state (reason)"

    @property
    def failed(self) -> bool:
        return bool(self.unbuildable or self.error_only_jobs or self.unfinished_shards)

    def lines(self) -> list[str]:
        total = sum(self.errors.values())
        out = [f"errors: {total}" + (f" ({', '.join(f'{n} {k}' for k, n in sorted(self.errors.items()))})"
                                     if total else "")]
        if self.unbuildable:
            out.append(f"FAILED: codec variants that could not be built: {', '.join(self.unbuildable)}")
        if self.error_only_jobs:
            out.append(f"FAILED: jobs with only errors: {'; '.join(self.error_only_jobs)}")
        if self.unfinished_shards:
            out.append(f"FAILED: {len(self.unfinished_shards)} shards did not finish: "
                       f"{'; '.join(self.unfinished_shards)}")
        return out


def summarize_run(plan: Plan, store: ResultStore) -> RunSummary:
    """The :class:`RunSummary` of the plan's jobs in ``store``."""
    planned = [job.key for job in plan.jobs]
    errors: dict[str, int] = {}
    unbuildable: set[str] = set()
    jobs: dict[tuple[str, str, str], list[bool]] = {}  # per job: whether it has a row, and whether all failed
    if store.path.is_file():
        import pandas as pd

        from codecbench.engine.rowframe import current_frame

        df = current_frame(store.path.parent, store.run_dir, extra="raw")
        df = df[pd.MultiIndex.from_arrays([df["task"], df["codec"], df["dataset"]]).isin(planned)]
        failed = df["error"].notna()
        per_job = failed.groupby([df["task"], df["codec"], df["dataset"]]).all()
        jobs = {key: [bool(all_failed)] for key, all_failed in per_job.items()}
        for _, row in df[failed].iterrows():  # every error row: an utterance's or one metric's (few)
            kind = row["kind"] if isinstance(row["kind"], str) else DATA
            errors[kind] = errors.get(kind, 0) + 1
            if row["metric"] == ERROR_METRIC and json.loads(row["extra"]).get("stage") == "codec-load":
                unbuildable.add(row["codec"])
    only = [f"{t} / {c} / {d}" for (t, c, d), flags in sorted(jobs.items()) if flags and all(flags)
            and c not in unbuildable]
    unfinished: list[str] = []
    if not plan.config.executor.inline:
        from codecbench.engine.executor import unfinished_shards

        unfinished = unfinished_shards(plan, store.run_dir)
    return RunSummary(errors, sorted(unbuildable), only, unfinished)
