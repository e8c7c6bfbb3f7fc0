"""Execute a run plan: tasks x codec variants x datasets, resuming from the result store."""

from __future__ import annotations

import inspect
import json
import logging
import platform
import random
import subprocess
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
from .diskcache import DiskCache
from .metric import Metric
from .paths import cache_dir
from .profiles import metric_settings, resolve_profile
from .registry import CODECS, METRICS, TASKS, discover
from .store import ERROR_METRIC, ResultStore
from .task import TaskContext

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
    """Build metric objects on first use and share them across codecs and datasets."""

    def __init__(self, settings: dict[str, dict], device: str) -> None:
        self.settings = settings
        self.device = device
        self._built: dict[str, Metric] | None = None

    def __call__(self) -> dict[str, Metric]:
        if self._built is None:
            self._built = {}
            for name, kwargs in self.settings.items():
                cls = METRICS.get(name)
                if "device" in inspect.signature(cls.__init__).parameters:
                    kwargs = {"device": self.device, **kwargs}
                self._built[name] = cls(**kwargs)
        return self._built


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


def write_run_info(config: RunConfig, profile: str) -> None:
    out = config.output_dir
    out.mkdir(parents=True, exist_ok=True)
    (out / "config.yaml").write_text(yaml.safe_dump(config.raw, sort_keys=False))
    info = {"name": config.name, "metric_profile": profile, "started": datetime.now(timezone.utc).isoformat(),
            "environment": _environment()}
    (out / "run.json").write_text(json.dumps(info, indent=2))


def run(config: RunConfig, progress: bool = True, retry_errors: bool = False) -> ResultStore:
    """Run (or resume) a plan; returns the store holding every row."""
    discover()
    seed_everything(config.seed)
    assets.set_overrides(config.assets)
    profile = resolve_profile(config.metric_profile)
    settings = metric_settings(profile, list(config.metrics) if config.metrics is not None else None)
    outputs = {name: tuple(o.name for o in METRICS.get(name).outputs) for name in settings}
    task_names = config.tasks or tuple(name for name, cls in TASKS.items() if cls.default)
    tasks = {name: TASKS.get(name)() for name in task_names}
    for spec in config.codecs:
        CODECS.get(spec.name)  # unknown names fail before any work
    data: dict[str, list[Utterance]] = {d.name: load_dataset(d) for d in config.datasets}
    store = ResultStore(config.output_dir)
    if retry_errors:
        log.info("dropped %d error rows for retry", store.drop_errors())
    write_run_info(config, profile)
    metrics = _Lazy(settings, config.device)
    token_cache = DiskCache(cache_dir(), "tokens")
    score_cache = DiskCache(cache_dir(), "scores")
    plan = [(t, c, d) for t in tasks for c in config.codecs for d in data]
    for task_name, spec, dataset in tqdm(plan, desc=config.name, unit="job", disable=not progress):
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
            codec_label=spec.label, dataset=dataset, utterances=data[dataset], store=store,
            get_codec=get_codec, get_metrics=metrics, metric_outputs=outputs,
            token_cache=token_cache, score_cache=score_cache, device=config.device, batch_size=config.batch_size,
            max_seconds=config.max_seconds, progress=progress,
            options=config.task_options.get(task_name, {}), seed=config.seed,
        )
        try:
            tasks[task_name].run(ctx)
        except CodecBuildError as err:
            _codec_failed(ctx, task_name, err.__cause__ or err)
    return store


def _codec_failed(ctx: TaskContext, task: str, err: BaseException) -> None:
    """A codec that cannot be built: one error row per utterance, the run goes on."""
    log.error("codec %s could not be built: %s", ctx.codec_label, err)
    ctx.store.add([
        ctx.row(task, u.utt_id, ERROR_METRIC, error=f"codec-load: {type(err).__name__}: {err}",
                extra={"stage": "codec-load"})
        for u in ctx.utterances
    ])

