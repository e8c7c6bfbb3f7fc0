"""Execute a run plan: tasks x codec variants x datasets, resuming from the result store."""

from __future__ import annotations

import dataclasses
import difflib
import json
import logging
from dataclasses import dataclass

from tqdm import tqdm

from . import assets, plan
from .config import RunConfig
from .datasets import Utterance, dataset_fingerprint, load_dataset
from .jobs import (  # noqa: F401 - build_codec, seed_everything, write_run_info re-exported for their callers
    MetricSet,
    build_codec,
    check_codec_params,
    check_device,
    plan_setups,
    run_job,
    seed_everything,
    task_names,
    variant_id,
    write_run_info,
)
from .outdir import check_disjoint
from .profiles import profiles, resolve_profile, run_metric_outputs, run_metric_settings
from .registry import TASKS, discover
from .store import DATA, ENVIRONMENT, ERROR_METRIC, ResultStore
from .task import Task
from .threads import apply_torch_threads, processing_order

log = logging.getLogger(__name__)


def run(config: RunConfig, progress: bool = True, retry_errors: bool = False, detach: bool = False) -> ResultStore:
    """Run (or resume) a plan; returns the store holding every row.

    Everything that can be checked without heavy work is checked first (names, codec params,
    device, metric profile); then the run directory is locked, environment errors of earlier
    runs are dropped (so they are retried) and the plan runs.
    """
    seed_everything(config.seed)
    apply_torch_threads()
    assets.set_overrides(config.assets)
    check_device(config.device)
    tasks, profile, settings, outputs = validate(config)
    if detach and config.executor.inline:
        raise ValueError("--detach submits shards to workers: set executor.kind (or --executor) to local or slurm")
    check_disjoint(config.output_dir, [d.root for d in config.datasets if d.root], "output_dir")
    data: dict[str, list[Utterance]] = {d.name: processing_order(load_dataset(d)) for d in config.datasets}
    data_ids = {d.name: dataset_fingerprint(d, data[d.name]) for d in config.datasets}
    store = ResultStore(config.output_dir, lock=True)  # nothing is created before every input is checked
    try:
        retried = store.drop_errors((ENVIRONMENT,) if not retry_errors else (ENVIRONMENT, DATA))
        if retried:
            log.info("retrying %d failed rows of earlier runs", retried)
        variants = {spec.label: variant_id(spec) for spec in config.codecs}
        write_run_info(config, profile, variants, plan_setups(config, tasks, profile, list(settings), data_ids),
                       data_ids)
        if not config.executor.inline:
            from . import executor

            outcome = executor.submit(config, store, tasks, config.executor, detach, data_ids)
            log.warning("executor %s: %d shards, %d submitted in jobs %s; %d rows merged%s",
                        config.executor.kind, outcome["shards"], outcome["submitted"], outcome["jobs"],
                        outcome["merged"], " (detached: `bench status` watches, `bench run` merges)" if detach else "")
            for shard, reason, log_path in outcome["failed"]:
                log.error("shard %s: %s (log: %s)", shard, reason, log_path)
        else:
            _run_plan(config, store, tasks, data, settings, outputs, progress, variants, profile, data_ids)
    finally:
        store.unlock()
    return store


def validate(config: RunConfig) -> tuple[dict[str, Task], str, dict[str, dict], dict[str, tuple[str, ...]]]:
    """Everything of a config that names plugins, checked against the registry before any work: tasks, every task
    named under ``task_options`` (a did-you-mean for a misspelled one) and its options, the metric profile, metrics
    and ``metric_options``, each codec's params (types and ranges). Returns the tasks, the profile, the metrics'
    settings and outputs."""
    discover()
    tasks = {name: TASKS.get(name)() for name in task_names(config)}
    named = {f"task_options.{t}": t for t in config.task_options}
    named.update(plan.restricted_tasks(config))
    for where, name in named.items():
        if name not in TASKS:
            close = difflib.get_close_matches(name, TASKS.names(), n=1)
            hint = f"; did you mean {close[0]!r}?" if close else ""
            raise ValueError(f"{where}: no such task{hint} (tasks: {', '.join(TASKS.names())})")
    for name, given in config.task_options.items():
        TASKS.get(name).parse_options(given)  # unknown keys, wrong types, out of range
    profile = resolve_profile(config.metric_profile)
    for name, task in tasks.items():
        task.check_options(task.parse_options(config.task_options.get(name)), set(profiles()[profile]))
    settings = run_metric_settings(config, profile)
    outputs = run_metric_outputs(config, profile)
    for spec in config.codecs:
        check_codec_params(spec)  # unknown names and params fail before any work
    return tasks, profile, settings, outputs


def _run_plan(config: RunConfig, store: ResultStore, tasks: dict[str, Task], data: dict[str, list[Utterance]],
              settings: dict[str, dict], outputs: dict[str, tuple[str, ...]], progress: bool,
              variants: dict[str, str], profile: str, data_ids: dict[str, str]) -> None:
    metrics = MetricSet(settings, config.device, profile)
    for job in tqdm(plan.jobs(config, tasks), desc=config.name, unit="job", disable=not progress):
        run_job(config, store, tasks[job.task], job.task, job.codec, job.dataset, data[job.dataset], metrics,
                outputs, progress, variants[job.codec.label], data_ids[job.dataset])


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


def summarize_run(config: RunConfig, store: ResultStore) -> RunSummary:
    """The :class:`RunSummary` of this config's jobs in ``store``."""
    planned = [job.key for job in plan.jobs(config, task_names(config))]
    errors: dict[str, int] = {}
    unbuildable: set[str] = set()
    jobs: dict[tuple[str, str, str], list[bool]] = {}  # per job: whether it has a row, and whether all failed
    if store.path.is_file():
        import pandas as pd

        from .rowframe import current_frame

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
    if not config.executor.inline:
        from .executor import unfinished_shards

        unfinished = unfinished_shards(config, store.run_dir)
    return RunSummary(errors, sorted(unbuildable), only, unfinished)
