"""Run configuration: YAML + ``key=value`` overrides -> one frozen, validated :class:`RunConfig`."""

from __future__ import annotations

import copy
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from . import roots
from .datasets import DatasetSpec

KNOWN_KEYS = {
    "name", "output_dir", "seed", "device", "batch_size", "max_seconds", "metric_profile",
    "metrics", "tasks", "codecs", "datasets", "assets", "description", "task_options", "roots", "paper",
    "task_datasets", "task_codecs", "save_audio", "executor", "metric_options", "prefetch",
}


@dataclass(frozen=True)
class CodecSpec:
    """A codec variant of the plan: ``label`` in tables, registry ``name``, constructor params."""

    label: str
    name: str
    params: dict[str, Any] = field(default_factory=dict)


EXECUTOR_KINDS = ("inline", "local", "slurm")
#: ``executor:`` keys handed to submitit's SLURM executor (as ``slurm_<key>``; ``timeout_min`` for both kinds)
SLURM_KEYS = ("partition", "gpus_per_node", "cpus_per_task", "mem_gb", "timeout_min", "array_parallelism",
              "additional_parameters", "qos", "account")


@dataclass(frozen=True)
class ExecutorConfig:
    """The ``executor:`` section: ``inline`` (this process, the default), ``local`` (``workers`` processes of
    this machine) or ``slurm`` (a job array); the plan is cut into ``buckets`` shards per sharded job."""

    kind: str = "inline"
    workers: int = 2
    buckets: int = 2
    scheduler: dict[str, Any] = field(default_factory=dict)  # the SLURM_KEYS given

    @property
    def inline(self) -> bool:
        return self.kind == "inline"

    @classmethod
    def from_section(cls, section: dict[str, Any] | None) -> ExecutorConfig:
        """Validated: a known kind, ``workers`` >= 1, ``buckets`` defaulting to ``workers``, no unknown key."""
        section = dict(section or {})
        kind = section.pop("kind", "inline")
        if kind not in EXECUTOR_KINDS:
            raise ValueError(f"executor.kind must be one of {EXECUTOR_KINDS}, got {kind!r}")
        workers = int(section.pop("workers", 2))
        if workers < 1:
            raise ValueError(f"executor.workers must be >= 1, got {workers}")
        buckets = int(section.pop("buckets", workers))
        if buckets < 1:
            raise ValueError(f"executor.buckets must be >= 1, got {buckets}")
        unknown = set(section) - set(SLURM_KEYS)
        if unknown:
            raise ValueError(f"executor: unknown keys {sorted(unknown)} (known: kind, workers, buckets, "
                             f"{', '.join(SLURM_KEYS)})")
        return cls(str(kind), workers, buckets, section)


@dataclass(frozen=True)
class RunConfig:
    name: str
    output_dir: Path
    codecs: tuple[CodecSpec, ...]
    datasets: tuple[DatasetSpec, ...]
    tasks: tuple[str, ...] = ()  # empty: the tasks that declare themselves default
    metrics: tuple[str, ...] | None = None  # None: every metric of the profile
    metric_profile: str = "auto"
    seed: int = 0
    device: str = "cpu"
    batch_size: int = 8
    max_seconds: float = 60.0
    assets: dict[str, str] = field(default_factory=dict)
    task_options: dict[str, dict[str, Any]] = field(default_factory=dict)  # task name -> its settings
    task_datasets: dict[str, tuple[str, ...]] = field(default_factory=dict)  # task -> the datasets it runs on
    task_codecs: dict[str, tuple[str, ...]] = field(default_factory=dict)  # task -> the codec labels it runs on
    save_audio: int | None = 0  # decoded outputs saved as FLAC: the first N utterances per dataset; None = all
    executor: ExecutorConfig = field(default_factory=ExecutorConfig)
    metric_options: dict[str, dict[str, Any]] = field(default_factory=dict)  # metric -> settings (batch_size)
    prefetch: int = 1  # batches decoded ahead of the one being scored (0: one after the other)
    raw: dict[str, Any] = field(default_factory=dict, compare=False, repr=False)


def apply_override(data: dict[str, Any], override: str) -> None:
    """Set ``a.b.c=value`` (value parsed as YAML) in a nested dict."""
    if "=" not in override:
        raise ValueError(f"override {override!r} must look like key=value (e.g. batch_size=4)")
    key, _, text = override.partition("=")
    try:
        value = yaml.safe_load(text) if text else None
    except yaml.YAMLError as err:
        raise ValueError(f"override {key.strip()}: its value is not valid YAML ({_yaml_reason(err)})") from err
    set_key(data, key.strip(), value)


def set_key(data: dict[str, Any], key: str, value: Any) -> None:
    """Set the dotted ``key`` to ``value`` (data, never parsed) in a nested dict."""
    override = f"{key}=..."
    parts = key.split(".")
    node = data
    for part in parts[:-1]:
        child = node.get(part)
        if child is None:
            child = node[part] = {}
        if not isinstance(child, dict):
            raise ValueError(f"override {override!r}: {part!r} is not a mapping in the config")
        node = child
    node[parts[-1]] = value


def _yaml_reason(err: yaml.YAMLError) -> str:
    mark = getattr(err, "problem_mark", None)
    problem = getattr(err, "problem", None) or str(err).splitlines()[0]
    return f"{problem} at line {mark.line + 1}, column {mark.column + 1}" if mark is not None else str(problem)


def _as_list(data: dict[str, Any], key: str) -> list | None:
    """A list key given as one string (``tasks=resynthesis``) is a one-element list."""
    value = data.get(key)
    if value is None:
        return None
    if isinstance(value, str):
        return [value]
    if not isinstance(value, list):
        raise ValueError(f"{key!r} must be a list (or one name), got {type(value).__name__}: {value!r}")
    return value


def _number(data: dict[str, Any], key: str, kind: type, default: Any, where: str = "") -> Any:
    value = data.get(key, default)
    if value is None:
        return None
    try:
        return kind(value)
    except (TypeError, ValueError) as err:
        raise ValueError(f"{where}{key} must be {'an integer' if kind is int else 'a number'}, got {value!r}") from err


def _codec_spec(entry: Any) -> CodecSpec:
    if isinstance(entry, str):
        return CodecSpec(entry, entry)
    if isinstance(entry, dict) and ("name" in entry or "codec" in entry):
        name = str(entry.get("codec", entry.get("name")))
        return CodecSpec(str(entry.get("name", name)), name, dict(entry.get("params") or {}))
    raise ValueError(f"codec entry {entry!r} must be a name or {{name, codec, params}}")


def _dataset_spec(name: str, entry: dict[str, Any]) -> DatasetSpec:
    if not isinstance(entry, dict) or "format" not in entry:
        raise ValueError(f"dataset {name!r} needs a mapping with at least 'format'")
    unknown = set(entry) - {"format", "root", "ids", "limit", "options"}
    if unknown:
        raise ValueError(f"dataset {name!r}: unknown keys {sorted(unknown)}")
    ids = _as_list(entry, "ids")
    options = entry.get("options") or {}
    if not isinstance(options, dict):
        raise ValueError(f"datasets.{name}.options must be a mapping, got {options!r}")
    return DatasetSpec(
        name=name, format=str(entry["format"]), root=None if entry.get("root") is None else str(entry["root"]),
        ids=tuple(str(i) for i in ids) if ids is not None else None,
        limit=_number(entry, "limit", int, None, f"datasets.{name}."), options=dict(options),
    )


def from_dict(data: dict[str, Any]) -> RunConfig:
    """Validate a config mapping; unknown keys are errors, not silently ignored."""
    unknown = set(data) - KNOWN_KEYS
    if unknown:
        raise ValueError(f"unknown config keys {sorted(unknown)}; allowed: {sorted(KNOWN_KEYS)}")
    for required in ("name", "codecs", "datasets"):
        if not data.get(required):
            raise ValueError(f"config needs a non-empty {required!r}")
    datasets = data["datasets"]
    if not isinstance(datasets, dict):
        raise ValueError("'datasets' must map dataset names to {format, root, ...}")
    batch_size = _number(data, "batch_size", int, 8)
    if batch_size < 1:
        raise ValueError(f"batch_size must be >= 1, got {batch_size}")
    metrics = _as_list(data, "metrics")
    codecs = tuple(_codec_spec(c) for c in _as_list(data, "codecs") or ())
    labels = [c.label for c in codecs]
    repeated = sorted({label for label in labels if labels.count(label) > 1})
    if repeated:
        raise ValueError(f"codec labels must be unique; repeated: {repeated} (give each variant its own name:)")
    return RunConfig(
        name=str(data["name"]),
        output_dir=Path(data.get("output_dir") or f"runs/{data['name']}"),
        codecs=codecs,
        datasets=tuple(_dataset_spec(str(n), e) for n, e in datasets.items()),
        tasks=tuple(str(t) for t in _as_list(data, "tasks") or ()),
        metrics=None if metrics is None else tuple(str(m) for m in metrics),
        metric_profile=str(data.get("metric_profile", "auto")),
        seed=_number(data, "seed", int, 0),
        device=str(data.get("device", "cpu")),
        batch_size=batch_size,
        max_seconds=_number(data, "max_seconds", float, 60.0),
        assets={str(k): str(v) for k, v in (data.get("assets") or {}).items()},
        task_options={str(k): dict(v or {}) for k, v in (data.get("task_options") or {}).items()},
        task_datasets=_restriction(data, "task_datasets", set(datasets)),
        task_codecs=_restriction(data, "task_codecs", set(labels)),
        save_audio=_save_audio(data.get("save_audio", 0)),
        executor=ExecutorConfig.from_section(data.get("executor")),
        metric_options={str(k): dict(v or {}) for k, v in (data.get("metric_options") or {}).items()},
        prefetch=_number(data, "prefetch", int, 1),
        raw=copy.deepcopy(data),
    )


def _save_audio(value: Any) -> int | None:
    """``save_audio``: 0 (off, the default), N (the first N utterances per dataset) or ``all``."""
    if value == "all":
        return None
    if isinstance(value, bool) or not isinstance(value, int) or value < 0:
        raise ValueError(f"save_audio must be 0 (off), a number of utterances per dataset, or 'all'; got {value!r}")
    return value


def _restriction(data: dict[str, Any], key: str, known: set[str]) -> dict[str, tuple[str, ...]]:
    """``{task: [names]}``: the plan runs the task on these only (others: every one); unknown names are errors."""
    out = {}
    planned = set(map(str, _as_list(data, "tasks") or [])) or None
    for task, names in (data.get(key) or {}).items():
        if planned is not None and str(task) not in planned:
            continue  # a task the plan does not run (e.g. `tasks=[...]` overridden)
        names = [names] if isinstance(names, str) else list(names or [])
        unknown = sorted(set(map(str, names)) - known)
        if unknown:
            raise ValueError(f"{key}.{task}: unknown {unknown}; known: {sorted(known)}")
        out[str(task)] = tuple(str(n) for n in names)
    return out


def load_config(path: str | Path, overrides: list[str] | tuple[str, ...] = (),
                patch: dict[str, Any] | None = None) -> RunConfig:
    """A config file, ``key=value`` overrides (YAML values), then ``patch`` ({dotted key: value}, data
    that is never parsed: paths with any characters); data roots resolved (:mod:`bench.roots`)."""
    data = read_config_data(path, overrides, patch)
    missing = roots.resolve(data)
    if missing:
        raise FileNotFoundError(f"config {path}: data root(s) {missing} not configured; set each with "
                                + "; ".join(roots.how_to_set(n) for n in missing))
    return from_dict(data)


def read_config_data(path: str | Path, overrides: list[str] | tuple[str, ...] = (),
                     patch: dict[str, Any] | None = None) -> dict[str, Any]:
    """The mapping of a config file with overrides and patch applied (not validated, roots not resolved)."""
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"config file {path} not found (see configs/ for examples)")
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
    except yaml.YAMLError as err:
        raise ValueError(f"config {path}: not valid YAML ({_yaml_reason(err)})") from err
    except UnicodeDecodeError as err:
        raise ValueError(f"config {path}: not UTF-8 text ({err})") from err
    if not isinstance(data, dict):
        raise ValueError(f"config {path} must be a YAML mapping")
    for override in overrides:
        apply_override(data, override)
    for key, value in (patch or {}).items():
        set_key(data, key, value)
    return data


SAVED = "config.yaml"  # a run folder's config, as its latest segment ran


def load_saved(run_dir: str | Path) -> RunConfig | None:
    """The config a run folder's latest segment ran with (``RUN_DIR/config.yaml``, written by the runner), its
    ``output_dir`` the folder; None when the folder has none. Every reader of a saved config goes through here."""
    path = Path(run_dir) / SAVED
    if not path.is_file():
        return None
    return from_dict({**read_config_data(path), "output_dir": str(run_dir)})
