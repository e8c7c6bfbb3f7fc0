"""The ids that make a row's identity (DESIGN: the identity rule): a codec variant's id and each task / metric
setup, short hashes of everything that determines the numbers. A change to any part is a new id, so rows made
under the old one are recomputed, never shown stale."""

from __future__ import annotations

import hashlib
from typing import Any

import torch

from codecbench import assets
from codecbench.api.diskcache import make_key
from codecbench.api.task import Task
from codecbench.config.profiles import profiles
from codecbench.config.runconfig import CodecSpec, RunConfig
from codecbench.plugins.registry import CODECS, METRICS
from codecbench.util.identity import code_fingerprint


def asset_locations(names: list[str], explicit: str | None = None) -> dict[str, str | None]:
    """Where each asset resolves (a changed checkpoint changes every identity built on this)."""
    found: dict[str, str | None] = {}
    for name in names:
        try:
            found[name] = assets.locate(name, explicit).location
        except assets.AssetNotFound as err:
            found[name] = f"misconfigured: {err}"
    return found


def state_digest(module: torch.nn.Module) -> str:
    """A digest of a module's state dict (names, dtypes, shapes and values of every parameter and buffer)."""
    digest = hashlib.sha256()
    for name, tensor in sorted(module.state_dict().items()):
        value = tensor.detach().to("cpu").contiguous()
        digest.update(f"{name}:{value.dtype}:{tuple(value.shape)}".encode())
        digest.update(value.reshape(-1).view(torch.uint8).numpy().tobytes() if value.numel() else b"")
    return digest.hexdigest()


def declared_settings(codec: Any) -> dict[str, Any]:
    """What an in-memory codec declares about itself (rates, codebooks, capabilities): part of its identity."""
    import dataclasses

    return {"sample_rate": codec.sample_rate, "output_sample_rate": codec.output_sample_rate,
            "nominal_frame_rate": codec.nominal_frame_rate, "nominal_bitrate": codec.nominal_bitrate,
            "codebook_sizes": list(codec.codebook_sizes), "capabilities": dataclasses.asdict(codec.capabilities),
            "cache_id": codec.cache_id(), "version": getattr(codec, "version", None)}


def variant_id(spec: CodecSpec) -> str:
    """Short hash of what determines a codec variant's results. A registered codec: registry name, resolved
    params, where each of its declared assets resolves (a changed checkpoint is a new variant) and the fingerprint
    of its code (:func:`codecbench.util.identity.code_fingerprint`: an edited plugin is a new variant). An
    in-memory codec (:attr:`CodecSpec.instance`): its class's code, its state dict's digest and its declared
    settings. A codec's :meth:`~codecbench.api.codec.Codec.variant_digest` (the content of recorded outputs) is
    part of it."""
    if spec.instance is not None:
        codec = spec.instance
        return make_key("codec-instance", code_fingerprint(type(codec)), state_digest(codec),
                        declared_settings(codec))[:10]
    factory = CODECS.get(spec.name)
    params = {**factory.params, **spec.params}
    weights = asset_locations([a.name for a in getattr(factory.cls, "assets", ())], params.get("checkpoint"))
    content = factory.cls.variant_digest(params)  # e.g. recorded outputs: their files' digest
    return make_key("codec-variant", spec.name, params, weights, code_fingerprint(factory.cls),
                    *([content] if content else []))[:10]


def metric_setup(name: str, profile: str) -> str:
    """Short hash of what determines a metric's numbers under a profile: its name, the profile's backend
    params, where its assets resolve and the fingerprint of its code (not batch sizes: they leave the
    numbers alone)."""
    cls = METRICS.get(name)
    backend = profiles()[profile].get(name)
    params = backend.params if backend else {}
    weights = asset_locations(list(backend.assets) if backend else [])
    return make_key("metric-setup", name, profile, params, weights, code_fingerprint(cls))[:10]


def job_setups(config: RunConfig, task_name: str, task: Task, profile: str, metrics: list[str],
               data_id: str = "") -> dict[str, str]:
    """``{source: "<task>/<source>/<hash>"}`` for a task's rows of one dataset: ``-`` (the task's own outputs: its
    code, options, seed, length limit, device type and the dataset's content, ``data_id`` =
    :func:`codecbench.api.datasets.dataset_fingerprint`) and each metric of the run (the task's setup and the
    metric's, :func:`metric_setup`). Part of every row's identity: change any of them and the rows it made are
    recomputed."""
    task_setup = make_key("task-setup", task_name, code_fingerprint(task), config.task_options.get(task_name, {}),
                          config.seed, config.max_seconds, torch.device(config.device).type, data_id)[:10]
    setups = {"-": f"{task_name}/-/{task_setup}"}
    for name in metrics:
        setups[name] = f"{task_name}/{name}/{make_key(task_setup, metric_setup(name, profile))[:10]}"
    return setups
