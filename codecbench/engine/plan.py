"""The plan of a run, built once from its config: the tasks, the metric profile and each metric's settings and
outputs, every job (task x codec variant x dataset), the codec variants' ids, each job's setups and the shards an
executor cuts the jobs into. The inline runner, the executors' workers, the run summary, ``codecbench status``
and the Python API all read this one object (:func:`build_plan`); none recomputes a part of it.

``task_codecs`` / ``task_datasets`` restrict a task to some codec labels / datasets; everything else runs every
codec on every dataset."""

from __future__ import annotations

import dataclasses
import difflib
import hashlib
import json
from collections.abc import Iterable
from dataclasses import dataclass, field
from functools import cached_property
from typing import Any

from codecbench.api.task import Task
from codecbench.config.profiles import profiles, resolve_profile, run_metric_outputs, run_metric_settings
from codecbench.config.runconfig import CodecSpec, RunConfig
from codecbench.engine.ids import job_setups, variant_id
from codecbench.plugins.registry import CODECS, TASKS, discover
from codecbench.util.keywords import check_arguments
from codecbench.util.names import file_name, name_hash


@dataclass(frozen=True)
class Job:
    """One task on one codec variant over one dataset."""

    task: str
    codec: CodecSpec
    dataset: str

    @property
    def key(self) -> tuple[str, str, str]:
        """``(task, codec label, dataset)``: how rows name their job."""
        return self.task, self.codec.label, self.dataset


@dataclass(frozen=True)
class Shard:
    """One unit of resumable work an executor runs: a job, or for tasks that declare ``shard_by_utterance`` one
    stable hash bucket of its utterance ids. ``setup`` is a hash of everything its rows depend on (the codec
    variant id and the task / metric setups): a changed plugin, option or metric is a new shard folder, never
    the old one's ``done`` marker."""

    task: str
    codec: str
    dataset: str
    bucket: int = 0
    buckets: int = 1
    setup: str = ""

    @property
    def id(self) -> str:
        """The shard's folder name: readable parts, and a hash of the exact names and setup (injective)."""
        exact = json.dumps([self.task, self.codec, self.dataset, self.bucket, self.buckets, self.setup])
        readable = "--".join(file_name(p) for p in (self.task, self.codec, self.dataset))
        return f"{readable}--{self.bucket}of{self.buckets}--{name_hash(exact, 10)}"

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)


def bucket_of(utt_id: str, buckets: int) -> int:
    """A stable hash bucket of an utterance id (the same on every machine and run)."""
    return int(hashlib.sha256(utt_id.encode()).hexdigest()[:12], 16) % buckets


def jobs(config: RunConfig, tasks: Iterable[str]) -> list[Job]:
    """The jobs of ``tasks`` under ``config``, in plan order: by task, then codec, then dataset."""
    out = []
    for task in tasks:
        codecs, datasets = config.task_codecs.get(task), config.task_datasets.get(task)
        for spec in config.codecs:
            if codecs is not None and spec.label not in codecs:
                continue
            out += [Job(task, spec, d.name) for d in config.datasets if datasets is None or d.name in datasets]
    return out


def restricted_tasks(config: RunConfig) -> dict[str, str]:
    """Each task a ``task_datasets`` / ``task_codecs`` section names, by where it is named
    (``task_codecs.tts_ar``): the sections that restrict a task's jobs."""
    return {f"{section}.{task}": str(task) for section in ("task_datasets", "task_codecs")
            for task in (config.raw.get(section) or {})}


def task_names(config: RunConfig) -> tuple[str, ...]:
    """The config's tasks, or those that declare themselves default."""
    discover()
    return config.tasks or tuple(name for name, cls in TASKS.items() if cls.default)


def check_codec_params(spec: CodecSpec) -> None:
    """Params a codec variant's constructor accepts (a did-you-mean for the others), each of its annotated type
    and range (an in-memory codec has none to check)."""
    if spec.instance is None:
        check_arguments(CODECS.get(spec.name).cls.__init__, spec.params, f"codec {spec.label!r} ({spec.name}) params")


def recorded(spec: CodecSpec) -> bool:
    """Whether a codec variant holds recorded outputs (no tokens: scored as they are)."""
    declared = spec.instance.capabilities if spec.instance is not None else CODECS.get(spec.name).cls.capabilities
    return bool(declared.recorded)


@dataclass(frozen=True)
class Plan:
    """What a run config asks for, checked against the registry and resolved (:func:`build_plan`).

    ``data_ids`` are the datasets' content fingerprints (:func:`codecbench.api.datasets.dataset_fingerprint`),
    part of every task setup: empty until the data is read (:meth:`with_data`)."""

    config: RunConfig
    tasks: dict[str, Task]
    profile: str
    metric_settings: dict[str, dict[str, Any]]
    metric_outputs: dict[str, tuple[str, ...]]
    variants: dict[str, str]  # codec label -> variant id
    data_ids: dict[str, str] = field(default_factory=dict)

    @cached_property
    def jobs(self) -> list[Job]:
        """Every job, in plan order (by task, then codec, then dataset)."""
        return jobs(self.config, self.tasks)

    @property
    def metrics(self) -> list[str]:
        """The metrics the run scores with."""
        return list(self.metric_settings)

    def with_data(self, data_ids: dict[str, str]) -> Plan:
        """This plan once its datasets are read (their fingerprints known)."""
        return dataclasses.replace(self, data_ids=dict(data_ids))

    def setups(self, job: Job) -> dict[str, str]:
        """``{source: "<task>/<source>/<hash>"}`` of a job's rows (:func:`codecbench.engine.ids.job_setups`)."""
        return job_setups(self.config, job.task, self.tasks[job.task], self.profile, self.metrics,
                          self.data_ids.get(job.dataset, ""))

    def run_setups(self) -> dict[str, dict[str, str]]:
        """``{"<task>/<source>": {dataset: hash}}`` of every task and dataset (``run.json``'s current setups)."""
        table: dict[str, dict[str, str]] = {}
        for task_name, task in self.tasks.items():
            for dataset, data_id in self.data_ids.items():
                for full in job_setups(self.config, task_name, task, self.profile, self.metrics, data_id).values():
                    prefix, _, digest = full.rpartition("/")
                    table.setdefault(prefix, {})[dataset] = digest
        return {k: dict(sorted(v.items())) for k, v in sorted(table.items())}

    def shards(self) -> list[Shard]:
        """Every shard: ``executor.buckets`` hash buckets for tasks that shard by utterance, one per job
        otherwise; each carries the setup of its rows."""
        out = []
        for job in self.jobs:
            setup = name_hash(self.variants[job.codec.label] + json.dumps(self.setups(job), sort_keys=True), 16)
            n = self.config.executor.buckets if self.tasks[job.task].shard_by_utterance else 1
            out += [Shard(job.task, job.codec.label, job.dataset, b, n, setup) for b in range(n)]
        return out

    def job_of(self, shard: Shard) -> Job:
        """The job a shard is a part of."""
        return next(j for j in self.jobs if (j.task, j.codec.label, j.dataset) == (shard.task, shard.codec,
                                                                                   shard.dataset))


def build_plan(config: RunConfig, data_ids: dict[str, str] | None = None,
               variants: dict[str, str] | None = None) -> Plan:
    """The plan of ``config``, everything that names a plugin checked against the registry before any work: tasks,
    every task named under ``task_options``, ``task_datasets`` or ``task_codecs`` (a did-you-mean for a misspelled
    one) and its options, the metric profile, metrics and ``metric_options``, each codec's params (types and
    ranges). ``variants`` (a worker's: the ids its parent recorded) are computed when not given."""
    discover()
    tasks = {name: TASKS.get(name)() for name in task_names(config)}
    named = {f"task_options.{t}": t for t in config.task_options} | restricted_tasks(config)
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
    for job in jobs(config, tasks):
        if recorded(job.codec) and not tasks[job.task].accepts_recorded:
            takers = sorted(n for n, t in TASKS.items() if t.accepts_recorded)
            raise ValueError(f"task {job.task!r} needs a codec's tokens; {job.codec.label!r} holds recorded outputs, "
                             f"which only {', '.join(takers)} score (restrict it with task_codecs)")
    if variants is None:
        variants = {spec.label: variant_id(spec) for spec in config.codecs}
    return Plan(config, tasks, profile, settings, outputs, dict(variants), dict(data_ids or {}))
