"""Execute a run plan: tasks x codec variants x datasets, resuming from the result store."""

from __future__ import annotations

import dataclasses
import inspect
import json
import logging
import platform
import random
import subprocess
import time
from dataclasses import dataclass
from datetime import datetime, timezone
from importlib import metadata
from pathlib import Path

import numpy as np
import torch
import yaml
from tqdm import tqdm

from . import assets
from .codec import Codec
from .config import CodecSpec, RunConfig
from .datasets import Utterance, load_dataset
from .diskcache import DiskCache, make_key
from .identity import code_fingerprint
from .keywords import check_keywords
from .metric import Metric
from .paths import cache_dir
from .profiles import metric_settings, profiles, resolve_profile, run_metric_outputs, run_metric_settings
from .registry import CODECS, METRICS, TASKS, discover
from .store import DATA, ENVIRONMENT, ERROR_METRIC, ResultStore
from .task import Task, TaskContext
from .threads import apply_torch_threads, processing_order
from .timing import append_record

log = logging.getLogger(__name__)


class CodecBuildError(RuntimeError):
    """A codec variant that could not be constructed (missing extra, weights, bad params)."""


def seed_everything(seed: int) -> None:
    random.seed(seed)
    np.random.seed(seed)
    torch.manual_seed(seed)


def build_codec(spec: CodecSpec, device: str = "cpu") -> Codec:
    """Instantiate a registered codec variant on ``device`` in eval mode."""
    discover()
    factory = CODECS.get(spec.name)
    codec = factory(**spec.params)
    if not isinstance(codec, Codec):
        raise TypeError(f"codec {spec.name!r} built {type(codec).__name__}, not a bench Codec")
    return codec.to(device).eval()


class _Lazy:
    """Build metric objects on first use and share them across codecs and datasets; a metric whose
    backend assets hold random weights is flagged (its rows carry ``random_weights``)."""

    def __init__(self, settings: dict[str, dict], device: str, profile: str) -> None:
        self.settings = settings
        self.device = device
        self.profile = profile
        self._built: dict[str, Metric] | None = None

        self._extra: dict[str, Metric] = {}

    def _build(self, name: str, kwargs: dict) -> Metric:
        cls = METRICS.get(name)
        if "device" in inspect.signature(cls.__init__).parameters:
            kwargs = {"device": self.device, **kwargs}
        metric = cls(**kwargs)
        backend = profiles()[self.profile].get(name)
        metric.random_weights = any(assets.locate(a).random for a in (backend.assets if backend else ()))
        return metric

    def __call__(self) -> dict[str, Metric]:
        if self._built is None:
            self._built = {name: self._build(name, kwargs) for name, kwargs in self.settings.items()}
        return self._built

    def one(self, name: str) -> Metric:
        """A metric by name under the run's profile, whether or not the run scores with it (e.g. the speaker
        model TTS conditions on); the run's own instance when it has one."""
        if name in self.settings:
            return self()[name]
        if name not in self._extra:
            self._extra[name] = self._build(name, metric_settings(self.profile, [name])[name])
        return self._extra[name]


def _environment() -> dict[str, str]:
    versions = {}
    for pkg in ("speech-tokenizer-bench", "torch", "numpy", "soundfile", "faster-whisper",
                "ctranslate2", "speechmos", "onnxruntime", "resemblyzer", "pycodec2", "transformers"):
        try:
            versions[pkg] = metadata.version(pkg)
        except metadata.PackageNotFoundError:
            continue
    try:
        git = subprocess.run(["git", "rev-parse", "HEAD"], capture_output=True, text=True,
                             cwd=Path(__file__).parent, timeout=5).stdout.strip()
    except (OSError, subprocess.SubprocessError):
        git = ""
    return {"python": platform.python_version(), "git": git, **versions}


def _asset_locations(names: list[str], explicit: str | None = None) -> dict[str, str | None]:
    """Where each asset resolves (a changed checkpoint changes every identity built on this)."""
    found: dict[str, str | None] = {}
    for name in names:
        try:
            found[name] = assets.locate(name, explicit).location
        except assets.AssetNotFound as err:
            found[name] = f"misconfigured: {err}"
    return found


def variant_id(spec: CodecSpec) -> str:
    """Short hash of what determines a codec variant's results: registry name, resolved params, where
    each of its declared assets resolves (a changed checkpoint is a new variant) and the fingerprint of
    its code (:func:`bench.identity.code_fingerprint`: an edited plugin is a new variant)."""
    factory = CODECS.get(spec.name)
    params = {**factory.params, **spec.params}
    weights = _asset_locations([a.name for a in getattr(factory.cls, "assets", ())], params.get("checkpoint"))
    return make_key("codec-variant", spec.name, params, weights, code_fingerprint(factory.cls))[:10]


def metric_setup(name: str, profile: str) -> str:
    """Short hash of what determines a metric's numbers under a profile: its name, the profile's backend
    params, where its assets resolve and the fingerprint of its code (not batch sizes: they leave the
    numbers alone)."""
    cls = METRICS.get(name)
    backend = profiles()[profile].get(name)
    params = backend.params if backend else {}
    weights = _asset_locations(list(backend.assets) if backend else [])
    return make_key("metric-setup", name, profile, params, weights, code_fingerprint(cls))[:10]


def job_setups(config: RunConfig, task_name: str, task: Task, profile: str, metrics: list[str]) -> dict[str, str]:
    """``{source: "<task>/<source>/<hash>"}`` for a task's rows: ``-`` (the task's own outputs: its code,
    options, seed, length limit and device type) and each metric of the run (the task's setup and the
    metric's, :func:`metric_setup`). Part of every row's identity: change any of them and the rows it
    made are recomputed."""
    task_setup = make_key("task-setup", task_name, code_fingerprint(task), config.task_options.get(task_name, {}),
                          config.seed, config.max_seconds, torch.device(config.device).type)[:10]
    setups = {"-": f"{task_name}/-/{task_setup}"}
    for name in metrics:
        setups[name] = f"{task_name}/{name}/{make_key(task_setup, metric_setup(name, profile))[:10]}"
    return setups


def plan_setups(config: RunConfig, tasks: dict[str, Task], profile: str, metrics: list[str]) -> dict[str, str]:
    """``{"<task>/<source>": hash}`` of every task of the plan (written to ``run.json``: the current setups)."""
    table = {}
    for task_name, task in tasks.items():
        for full in job_setups(config, task_name, task, profile, metrics).values():
            prefix, _, digest = full.rpartition("/")
            table[prefix] = digest
    return dict(sorted(table.items()))


def write_run_info(config: RunConfig, profile: str, variants: dict[str, str],
                   setups: dict[str, str] | None = None) -> None:
    """``config.yaml`` and ``run.json`` of this segment; the previous segment's move to ``history/``."""
    out = config.output_dir
    out.mkdir(parents=True, exist_ok=True)
    if (out / "run.json").is_file():
        history = out / "history"
        history.mkdir(exist_ok=True)
        segment = history / f"segment-{len(list(history.iterdir())) + 1:03d}"
        segment.mkdir()
        for name in ("config.yaml", "run.json"):
            if (out / name).is_file():
                (out / name).replace(segment / name)
    (out / "config.yaml").write_text(yaml.safe_dump(config.raw, sort_keys=False))
    info = {"name": config.name, "metric_profile": profile, "started": datetime.now(timezone.utc).isoformat(),
            "variants": variants, "setups": setups or {}, "environment": _environment()}
    (out / "run.json").write_text(json.dumps(info, indent=2))


def task_names(config: RunConfig) -> tuple[str, ...]:
    """The config's tasks, or those that declare themselves default."""
    discover()
    return config.tasks or tuple(name for name, cls in TASKS.items() if cls.default)


def check_device(device: str) -> None:
    """A device torch knows and this machine has (before any data is loaded)."""
    try:
        parsed = torch.device(device)
    except (RuntimeError, ValueError) as err:
        raise ValueError(f"device {device!r} is not a torch device ({err}); use cpu, cuda or cuda:N") from err
    if parsed.type == "cuda" and not torch.cuda.is_available():
        raise ValueError(f"device {device!r}: this machine has no CUDA GPU (torch.cuda.is_available() is False); "
                         "use device: cpu")
    if parsed.type == "cuda" and parsed.index is not None and parsed.index >= torch.cuda.device_count():
        raise ValueError(f"device {device!r}: only {torch.cuda.device_count()} CUDA device(s) here")


def check_codec_params(spec: CodecSpec) -> None:
    """Params a codec variant's constructor accepts, with a did-you-mean for the others."""
    check_keywords(CODECS.get(spec.name).cls.__init__, spec.params, f"codec {spec.label!r} ({spec.name}) params")


def run(config: RunConfig, progress: bool = True, retry_errors: bool = False, detach: bool = False) -> ResultStore:
    """Run (or resume) a plan; returns the store holding every row.

    Everything that can be checked without heavy work is checked first (names, codec params,
    device, metric profile); then the run directory is locked, environment errors of earlier
    runs are dropped (so they are retried) and the plan runs.
    """
    discover()
    seed_everything(config.seed)
    apply_torch_threads()
    assets.set_overrides(config.assets)
    check_device(config.device)
    profile = resolve_profile(config.metric_profile)
    settings = run_metric_settings(config, profile)
    outputs = run_metric_outputs(config, profile)
    tasks = {name: TASKS.get(name)() for name in task_names(config)}
    for spec in config.codecs:
        check_codec_params(spec)  # unknown names and params fail before any work
    store = ResultStore(config.output_dir, lock=True)
    try:
        data: dict[str, list[Utterance]] = {d.name: processing_order(load_dataset(d)) for d in config.datasets}
        retried = store.drop_errors((ENVIRONMENT,) if not retry_errors else (ENVIRONMENT, DATA))
        if retried:
            log.info("retrying %d failed rows of earlier runs", retried)
        variants = {spec.label: variant_id(spec) for spec in config.codecs}
        write_run_info(config, profile, variants, plan_setups(config, tasks, profile, list(settings)))
        if config.executor.get("kind", "inline") != "inline":
            from . import executor

            outcome = executor.submit(config, store, tasks, config.executor, detach)
            log.warning("executor %s: %d shards, %d submitted in jobs %s; %d rows merged%s",
                        config.executor["kind"], outcome["shards"], outcome["submitted"], outcome["jobs"],
                        outcome["merged"], " (detached: `bench status` watches, `bench run` merges)" if detach else "")
            for shard, reason, log_path in outcome["failed"]:
                log.error("shard %s: %s (log: %s)", shard, reason, log_path)
        else:
            _run_plan(config, store, tasks, data, settings, outputs, progress, variants, profile)
    finally:
        store.unlock()
    return store


def _run_plan(config: RunConfig, store: ResultStore, tasks: dict[str, Task], data: dict[str, list[Utterance]],
              settings: dict[str, dict], outputs: dict[str, tuple[str, ...]], progress: bool,
              variants: dict[str, str], profile: str) -> None:
    metrics = _Lazy(settings, config.device, profile)
    plan = [(t, c, d) for t in tasks for c in config.codecs for d in data
            if d in config.task_datasets.get(t, (d,)) and c.label in config.task_codecs.get(t, (c.label,))]
    for task_name, spec, dataset in tqdm(plan, desc=config.name, unit="job", disable=not progress):
        run_job(config, store, tasks[task_name], task_name, spec, dataset, data[dataset], metrics, outputs, progress,
                variants[spec.label])


def run_job(config: RunConfig, store: ResultStore, task: Task, task_name: str, spec: CodecSpec, dataset: str,
            utterances: list[Utterance], metrics: _Lazy, outputs: dict[str, tuple[str, ...]], progress: bool,
            variant: str) -> None:
    """One task x codec variant x dataset job (the codec built only when work remains)."""
    codec_holder: dict[str, Codec] = {}

    def get_codec(spec: CodecSpec = spec, holder: dict[str, Codec] = codec_holder) -> Codec:
        if "codec" not in holder:
            seed_everything(config.seed)  # random-weight codecs: same weights every run
            try:
                holder["codec"] = build_codec(spec, config.device)
            except Exception as err:
                raise CodecBuildError(str(err)) from err
        return holder["codec"]

    ctx = TaskContext(
        codec_label=spec.label, dataset=dataset, utterances=utterances, store=store,
        get_codec=get_codec, get_metrics=metrics, get_metric=metrics.one, metric_outputs=outputs,
        token_cache=DiskCache(cache_dir(), "tokens"), score_cache=DiskCache(cache_dir(), "scores"),
        device=config.device, batch_size=config.batch_size, max_seconds=config.max_seconds, progress=progress,
        options=config.task_options.get(task_name, {}), seed=config.seed, variant=variant,
        save_audio=config.save_audio, prefetch=config.prefetch,
        setups=job_setups(config, task_name, task, metrics.profile, list(metrics.settings)),
    )
    start = time.perf_counter()
    try:
        task.run(ctx)
    except CodecBuildError as err:
        _codec_failed(ctx, task_name, err.__cause__ or err)
    finally:
        if ctx.timer.stages or time.perf_counter() - start > 0.5:  # jobs with nothing left to do leave no record
            job = {"task": task_name, "codec": spec.label, "dataset": dataset, "segment": _segment(store.run_dir)}
            append_record(store.path.parent, job, time.perf_counter() - start, ctx.timer)


def _segment(run_dir: Path) -> str:
    """The current run segment (``run.json``'s start time): timing records of one ``bench run`` share it."""
    try:
        return str(json.loads((run_dir / "run.json").read_text()).get("started", ""))
    except (OSError, ValueError):
        return ""


def _codec_failed(ctx: TaskContext, task: str, err: BaseException) -> None:
    """A codec that cannot be built: one error row per utterance, the run goes on."""
    log.error("codec %s could not be built: %s", ctx.codec_label, err)
    ctx.store.add([ctx.error_row(task, u.utt_id, "codec-load", err, ENVIRONMENT) for u in ctx.utterances])


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
    labels, datasets, tasks = {c.label for c in config.codecs}, {d.name for d in config.datasets}, task_names(config)
    errors: dict[str, int] = {}
    unbuildable: set[str] = set()
    jobs: dict[tuple[str, str, str], list[bool]] = {}  # per job: whether it has a row, and whether all failed
    if store.path.is_file():
        from .rowframe import current_frame

        df = current_frame(store.path.parent, store.run_dir, extra="raw")
        df = df[df["codec"].isin(labels) & df["dataset"].isin(datasets) & df["task"].isin(tasks)]
        allowed = [config.task_datasets.get(t) for t in df["task"]]
        df = df[[a is None or d in a for a, d in zip(allowed, df["dataset"], strict=True)]]
        failed = df["error"].notna()
        per_job = failed.groupby([df["task"], df["codec"], df["dataset"]]).all()
        jobs = {key: [bool(all_failed)] for key, all_failed in per_job.items()}
        for _, row in df[failed & (df["metric"] == ERROR_METRIC)].iterrows():  # the utterance errors: few
            kind = row["kind"] if isinstance(row["kind"], str) else DATA
            errors[kind] = errors.get(kind, 0) + 1
            if json.loads(row["extra"]).get("stage") == "codec-load":
                unbuildable.add(row["codec"])
    only = [f"{t} / {c} / {d}" for (t, c, d), flags in sorted(jobs.items()) if flags and all(flags)
            and c not in unbuildable]
    unfinished: list[str] = []
    if config.executor.get("kind", "inline") != "inline":
        from .executor import unfinished_shards

        unfinished = unfinished_shards(config, store.run_dir)
    return RunSummary(errors, sorted(unbuildable), only, unfinished)

