"""Running one job of a plan (a task on one codec variant and one dataset): building the codec (refused when it
breaks the contract) and the metrics, the task's context, the run segment's ``run.json``. Used by the inline
runner (:mod:`codecbench.engine.runner`) and by the executors' workers (:mod:`codecbench.engine.executor`)."""

from __future__ import annotations

import hashlib
import inspect
import json
import logging
import platform
import random
import subprocess
import time
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timezone
from importlib import metadata
from pathlib import Path

import numpy as np
import torch

from codecbench import assets
from codecbench.api.codec import Codec
from codecbench.api.datasets import Utterance
from codecbench.api.diskcache import DiskCache, make_key
from codecbench.api.metric import Metric
from codecbench.api.rows import ENVIRONMENT
from codecbench.api.task import TaskContext
from codecbench.config.profiles import metric_settings, profiles
from codecbench.config.runconfig import SAVED, CodecSpec
from codecbench.engine.plan import Job, Plan, recorded
from codecbench.engine.store import ResultStore
from codecbench.plugins.registry import CODECS, METRICS, discover
from codecbench.util.identity import code_fingerprint
from codecbench.util.outdir import atomic_write_json, atomic_write_text
from codecbench.util.paths import cache_dir
from codecbench.util.timing import append_record
from codecbench.util.yamlfile import dump_yaml

log = logging.getLogger(__name__)


class CodecBuildError(RuntimeError):
    """A codec variant that could not be constructed (missing extra, weights, bad params)."""


def seed_everything(seed: int) -> None:
    random.seed(seed)
    np.random.seed(seed)
    torch.manual_seed(seed)


def build_codec(spec: CodecSpec, device: str = "cpu") -> Codec:
    """Instantiate a registered codec variant on ``device`` in eval mode (an in-memory codec: itself, moved)."""
    if spec.instance is not None:
        return spec.instance.to(device).eval()
    discover()
    factory = CODECS.get(spec.name)
    codec = factory(**spec.params)
    if not isinstance(codec, Codec):
        raise TypeError(f"codec {spec.name!r} built {type(codec).__name__}, not a codecbench Codec")
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
    for pkg in ("codecbench", "torch", "numpy", "soundfile", "faster-whisper",
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


def write_run_info(plan: Plan) -> None:
    """``config.yaml`` and ``run.json`` of this segment (the plan's variants, setups and dataset fingerprints);
    the previous segment's move to ``history/``."""
    config = plan.config
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
    info = {"name": config.name, "metric_profile": plan.profile, "started": datetime.now(timezone.utc).isoformat(),
            "variants": plan.variants, "setups": plan.run_setups(), "datasets": plan.data_ids,
            "environment": _environment()}
    atomic_write_json(out / "run.json", info)


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


@dataclass
class Runtime:
    """What the jobs of one process share: the plan, where rows go, the metric models (built once) and whether
    progress bars show."""

    plan: Plan
    store: ResultStore
    metrics: MetricSet
    progress: bool = True


def run_job(job: Job, utterances: Sequence[Utterance], runtime: Runtime) -> None:
    """One task x codec variant x dataset job (the codec built only when work remains); ``utterances`` may be a
    shard's part of the dataset (the setups stay the whole dataset's)."""
    plan, store, spec = runtime.plan, runtime.store, job.codec
    config, task, variant = plan.config, plan.tasks[job.task], plan.variants[spec.label]
    codec_holder: dict[str, Codec] = {}

    def get_codec(spec: CodecSpec = spec, holder: dict[str, Codec] = codec_holder) -> Codec:
        if "codec" not in holder:
            seed_everything(config.seed)  # random-weight codecs: same weights every run
            try:
                codec = build_codec(spec, config.device)
            except Exception as err:
                raise CodecBuildError(str(err)) from err
            failures = contract_verdict(codec, variant, config.device)
            if failures:  # a run refuses what `codecbench check-codec` fails
                raise CodecBuildError(f"{spec.label} breaks the codec contract (codecbench check-codec {spec.name}): "
                                      + "; ".join(failures))
            holder["codec"] = codec
        return holder["codec"]

    ctx = TaskContext(
        codec_label=spec.label, dataset=job.dataset, utterances=utterances, sink=store,
        get_codec=get_codec, get_metrics=runtime.metrics, get_metric=runtime.metrics.one,
        metric_outputs=plan.metric_outputs, token_cache=DiskCache(cache_dir(), "tokens"),
        score_cache=DiskCache(cache_dir(), "scores"), device=config.device, batch_size=config.batch_size,
        max_seconds=config.max_seconds, progress=runtime.progress,
        options=task.parse_options(config.task_options.get(job.task)), seed=config.seed, variant=variant,
        save_audio=config.save_audio, prefetch=config.prefetch, setups=plan.setups(job),
        tokens_follow_variant=spec.instance is not None, rates=not recorded(spec),
    )
    start = time.perf_counter()
    try:
        task.run(ctx)
    except CodecBuildError as err:
        _codec_failed(ctx, job.task, err.__cause__ or err)
    finally:
        if ctx.timer.stages or time.perf_counter() - start > 0.5:  # jobs with nothing left to do leave no record
            record = {"task": job.task, "codec": spec.label, "dataset": job.dataset,
                      "segment": _segment(store.run_dir)}
            append_record(store.path.parent, record, time.perf_counter() - start, ctx.timer)


def contract_verdict(codec: Codec, variant: str, device: str) -> list[str]:
    """:func:`codecbench.api.contract.contract_failures` of a built codec variant, computed once per variant, code
    and device type (cached, as plain strings); the random generators are left as they were, so a run's numbers do
    not depend on whether the verdict came from the cache."""
    from codecbench.api import contract

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
        failures = contract.contract_failures(codec)
    random.setstate(state[0])
    np.random.set_state(state[1])
    cache.put(key, failures)
    return failures


def _segment(run_dir: Path) -> str:
    """The current run segment (``run.json``'s start time): timing records of one ``codecbench run`` share it."""
    try:
        return str(json.loads((run_dir / "run.json").read_text()).get("started", ""))
    except (OSError, ValueError):
        return ""


def _codec_failed(ctx: TaskContext, task: str, err: BaseException) -> None:
    """A codec that cannot be built: one error row per utterance, the run goes on."""
    log.error("codec %s could not be built: %s", ctx.codec_label, err)
    ctx.add_rows([ctx.error_row(task, u.utt_id, "codec-load", err, ENVIRONMENT) for u in ctx.utterances])
