"""One job of a run plan (a task on one codec variant and one dataset), and what identifies it: building the
codec and the metrics, variant and setup ids, the run segment's ``run.json``. Used by the inline runner
(:mod:`bench.runner`) and by the executors' workers (:mod:`bench.executor`) alike."""

from __future__ import annotations

import hashlib
import inspect
import json
import logging
import platform
import random
import subprocess
import time
from datetime import datetime, timezone
from importlib import metadata
from pathlib import Path

import numpy as np
import torch

from . import assets
from .codec import Codec
from .config import SAVED, CodecSpec, RunConfig
from .datasets import Utterance
from .diskcache import DiskCache, make_key
from .identity import code_fingerprint
from .keywords import check_arguments
from .metric import Metric
from .outdir import atomic_write_json, atomic_write_text
from .paths import cache_dir
from .profiles import metric_settings, profiles
from .registry import CODECS, METRICS, TASKS, discover
from .store import ENVIRONMENT, ResultStore
from .task import Task, TaskContext
from .timing import append_record
from .yamlfile import dump_yaml

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


class MetricSet:
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


def job_setups(config: RunConfig, task_name: str, task: Task, profile: str, metrics: list[str],
               data_id: str = "") -> dict[str, str]:
    """``{source: "<task>/<source>/<hash>"}`` for a task's rows of one dataset: ``-`` (the task's own outputs: its
    code, options, seed, length limit, device type and the dataset's content, ``data_id`` =
    :func:`bench.datasets.dataset_fingerprint`) and each metric of the run (the task's setup and the metric's,
    :func:`metric_setup`). Part of every row's identity: change any of them and the rows it made are recomputed."""
    task_setup = make_key("task-setup", task_name, code_fingerprint(task), config.task_options.get(task_name, {}),
                          config.seed, config.max_seconds, torch.device(config.device).type, data_id)[:10]
    setups = {"-": f"{task_name}/-/{task_setup}"}
    for name in metrics:
        setups[name] = f"{task_name}/{name}/{make_key(task_setup, metric_setup(name, profile))[:10]}"
    return setups


def plan_setups(config: RunConfig, tasks: dict[str, Task], profile: str, metrics: list[str],
                data_ids: dict[str, str]) -> dict[str, dict[str, str]]:
    """``{"<task>/<source>": {dataset: hash}}`` of every task and dataset of the plan (written to ``run.json``: the
    current setups; ``data_ids``: each dataset's :func:`bench.datasets.dataset_fingerprint`)."""
    table: dict[str, dict[str, str]] = {}
    for task_name, task in tasks.items():
        for dataset, data_id in data_ids.items():
            for full in job_setups(config, task_name, task, profile, metrics, data_id).values():
                prefix, _, digest = full.rpartition("/")
                table.setdefault(prefix, {})[dataset] = digest
    return {k: dict(sorted(v.items())) for k, v in sorted(table.items())}


def write_run_info(config: RunConfig, profile: str, variants: dict[str, str],
                   setups: dict[str, dict[str, str]] | None = None, data_ids: dict[str, str] | None = None) -> None:
    """``config.yaml`` and ``run.json`` of this segment; the previous segment's move to ``history/``."""
    out = config.output_dir
    out.mkdir(parents=True, exist_ok=True)
    if (out / "run.json").is_file():
        history = out / "history"
        history.mkdir(exist_ok=True)
        segment = history / f"segment-{len(list(history.iterdir())) + 1:03d}"
        segment.mkdir()
        for name in (SAVED, "run.json"):
            if (out / name).is_file():
                (out / name).replace(segment / name)
    atomic_write_text(out / SAVED, dump_yaml(config.raw))
    info = {"name": config.name, "metric_profile": profile, "started": datetime.now(timezone.utc).isoformat(),
            "variants": variants, "setups": setups or {}, "datasets": data_ids or {},
            "environment": _environment()}
    atomic_write_json(out / "run.json", info)


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
    """Params a codec variant's constructor accepts (a did-you-mean for the others), each of its annotated type
    and range."""
    check_arguments(CODECS.get(spec.name).cls.__init__, spec.params, f"codec {spec.label!r} ({spec.name}) params")


def run_job(config: RunConfig, store: ResultStore, task: Task, task_name: str, spec: CodecSpec, dataset: str,
            utterances: list[Utterance], metrics: MetricSet, outputs: dict[str, tuple[str, ...]], progress: bool,
            variant: str, data_id: str) -> None:
    """One task x codec variant x dataset job (the codec built only when work remains); ``utterances`` may be a
    shard's part of the dataset, ``data_id`` is the whole dataset's :func:`bench.datasets.dataset_fingerprint`."""
    codec_holder: dict[str, Codec] = {}

    def get_codec(spec: CodecSpec = spec, holder: dict[str, Codec] = codec_holder) -> Codec:
        if "codec" not in holder:
            seed_everything(config.seed)  # random-weight codecs: same weights every run
            try:
                codec = build_codec(spec, config.device)
            except Exception as err:
                raise CodecBuildError(str(err)) from err
            failures = contract_verdict(codec, variant, config.device)
            if failures:  # a run refuses what `bench check-codec` fails
                raise CodecBuildError(f"{spec.label} breaks the codec contract (bench check-codec {spec.name}): "
                                      + "; ".join(failures))
            holder["codec"] = codec
        return holder["codec"]

    ctx = TaskContext(
        codec_label=spec.label, dataset=dataset, utterances=utterances, store=store,
        get_codec=get_codec, get_metrics=metrics, get_metric=metrics.one, metric_outputs=outputs,
        token_cache=DiskCache(cache_dir(), "tokens"), score_cache=DiskCache(cache_dir(), "scores"),
        device=config.device, batch_size=config.batch_size, max_seconds=config.max_seconds, progress=progress,
        options=task.parse_options(config.task_options.get(task_name)), seed=config.seed, variant=variant,
        save_audio=config.save_audio, prefetch=config.prefetch,
        setups=job_setups(config, task_name, task, metrics.profile, list(metrics.settings), data_id),
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


def contract_verdict(codec: Codec, variant: str, device: str) -> list[str]:
    """:func:`bench.contract.verdict` of a built codec variant, computed once per variant, code and device type
    (cached, as plain strings); the random generators are left as they were, so a run's numbers do not depend on
    whether the verdict came from the cache."""
    from . import contract

    source = Path(contract.__file__).read_bytes()
    key = make_key("contract", variant, code_fingerprint(codec), hashlib.sha256(source).hexdigest(),
                   torch.device(device).type)
    cache = DiskCache(cache_dir(), "contract")
    found = cache.get(key, list)
    if found is not None:
        return [str(f) for f in found]
    state = (random.getstate(), np.random.get_state())
    where = torch.device(device)
    with torch.random.fork_rng(devices=[where.index or 0] if where.type == "cuda" else []):
        failures = contract.verdict(codec)
    random.setstate(state[0])
    np.random.set_state(state[1])
    cache.put(key, failures)
    return failures


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
