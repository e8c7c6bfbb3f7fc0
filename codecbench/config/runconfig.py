"""Run configuration: YAML + ``key=value`` overrides -> one frozen, validated :class:`RunConfig`."""

from __future__ import annotations

import copy
import difflib
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Annotated, Any, Literal

from codecbench.api.datasets import DatasetSpec
from codecbench.config import roots
from codecbench.util.names import file_name
from codecbench.util.options import BatchSize, Count, PositiveFloat, PositiveInt, Range, Seed, check_value
from codecbench.util.yamlfile import YAMLError, load_yaml


@dataclass(frozen=True)
class CodecSpec:
    """A codec variant of the plan: ``label`` in tables, registry ``name``, constructor params; or an in-memory
    codec (``instance``, given to :func:`codecbench.evaluate`: ``name`` then says its class, never looked up)."""

    label: str
    name: str
    params: dict[str, Any] = field(default_factory=dict)
    instance: Any = field(default=None, compare=False, repr=False)


EXECUTOR_KINDS = ("inline", "local", "slurm")
MAX_WORKERS, MAX_BUCKETS = 1024, 65536
#: ``executor:`` keys handed to submitit's SLURM executor (as ``slurm_<key>``; ``timeout_min`` for both kinds),
#: with the values each accepts
SLURM_KEYS: dict[str, Any] = {
    "partition": str, "gpus_per_node": Count, "cpus_per_task": PositiveInt, "mem_gb": PositiveInt,
    "timeout_min": PositiveInt, "array_parallelism": PositiveInt, "additional_parameters": dict[str, Any],
    "qos": str, "account": str,
}


@dataclass(frozen=True)
class ExecutorConfig:
    """The ``executor:`` section: ``inline`` (this process, the default), ``local`` (``workers`` processes of
    this machine) or ``slurm`` (a job array); the plan is cut into ``buckets`` shards per sharded job."""

    kind: Literal["inline", "local", "slurm"] = "inline"
    workers: Annotated[int, Range(1, MAX_WORKERS)] = 2
    buckets: Annotated[int, Range(1, MAX_BUCKETS)] = 2
    scheduler: dict[str, Any] = field(default_factory=dict)  # the SLURM_KEYS given

    @property
    def inline(self) -> bool:
        return self.kind == "inline"

    @classmethod
    def from_section(cls, section: Any) -> ExecutorConfig:
        """Validated: a known kind, ``workers`` and ``buckets`` >= 1 (``buckets`` defaulting to ``workers``), each
        scheduler key of its type, no unknown key."""
        if section is None:
            section = {}
        if not isinstance(section, dict):
            raise ValueError(f"executor must be a mapping of kind, workers, buckets, ...; got {section!r}")
        known = ["kind", "workers", "buckets", *SLURM_KEYS]
        unknown_keys(section, known, "executor")
        kind = check_value(section.get("kind", "inline"), Literal["inline", "local", "slurm"], "executor.kind")
        workers = check_value(section.get("workers", 2), Annotated[int, Range(1, MAX_WORKERS)], "executor.workers")
        buckets = check_value(section.get("buckets", workers), Annotated[int, Range(1, MAX_BUCKETS)],
                              "executor.buckets")
        cores = os.cpu_count() or 1
        if kind == "local" and workers > 4 * cores:
            raise ValueError(f"executor.workers must be at most {4 * cores} for kind local (4 per core of this "
                             f"machine), got {workers}")
        scheduler = {key: check_value(section[key], hint, f"executor.{key}")
                     for key, hint in SLURM_KEYS.items() if key in section}
        misplaced = sorted(set(scheduler) - {"timeout_min"}) if kind != "slurm" else []
        if misplaced:
            raise ValueError(f"executor.{misplaced[0]} applies to kind slurm, not {kind} (SLURM settings: "
                             f"{', '.join(SLURM_KEYS)})")
        return cls(kind, workers, buckets, scheduler)


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
    #: rate families: codec labels whose variants differ only in rate (BD deltas compare the curves they form)
    families: dict[str, tuple[str, ...]] = field(default_factory=dict)
    raw: dict[str, Any] = field(default_factory=dict, compare=False, repr=False)


def unknown_keys(given: dict[str, Any], known: list[str] | tuple[str, ...], where: str) -> None:
    """Raise naming the first key of ``given`` that is not ``known``, with a did-you-mean."""
    for key in given:
        if key not in known:
            close = difflib.get_close_matches(str(key), [str(k) for k in known], n=1)
            hint = f"; did you mean {close[0]!r}?" if close else ""
            raise ValueError(f"{where}: unknown key {key!r}{hint} (accepted: {', '.join(map(str, known))})")


def apply_override(data: dict[str, Any], override: str) -> None:
    """Set ``a.b.c=value`` (value parsed as YAML) in a nested dict."""
    if "=" not in override:
        raise ValueError(f"override {override!r} must look like key=value (e.g. batch_size=4)")
    key, _, text = override.partition("=")
    value = load_yaml(text, f"override {key.strip()}") if text else None
    set_key(data, key.strip(), value)


def set_key(data: dict[str, Any], key: str, value: Any) -> None:
    """Set the dotted ``key`` to ``value`` (data, never parsed) in a nested dict."""
    override = f"{key}=..."
    parts = key.split(".")
    if not all(parts):
        raise ValueError(f"override {override!r}: empty part in the dotted key")
    node = data
    for part in parts[:-1]:
        child = node.get(part)
        if child is None:
            child = node[part] = {}
        if not isinstance(child, dict):
            raise ValueError(f"override {override!r}: {part!r} is not a mapping in the config")
        node = child
    node[parts[-1]] = value


def _as_list(data: dict[str, Any], key: str) -> list | None:
    """A list key given as one string (``tasks=resynthesis``) is a one-element list."""
    value = data.get(key)
    if value is None:
        return None
    if isinstance(value, str):
        return [value]
    if not isinstance(value, list):
        raise ValueError(f"{key} must be a list (or one name), got {type(value).__name__}: {value!r}")
    return value


def _names(data: dict[str, Any], key: str) -> list[str] | None:
    """A list of non-empty names (or one name)."""
    values = _as_list(data, key)
    if values is None:
        return None
    for i, value in enumerate(values):
        if not isinstance(value, str) or not value:
            raise ValueError(f"{key}[{i}] must be a non-empty name, got {value!r}")
    return values


def _unique(names: list[str], key: str) -> None:
    repeated = sorted({n for n in names if names.count(n) > 1})
    if repeated:
        raise ValueError(f"{key} lists {repeated} more than once")


def _codec_spec(entry: Any, where: str) -> CodecSpec:
    if isinstance(entry, str) and entry:
        return CodecSpec(entry, entry)
    if isinstance(entry, dict) and ("name" in entry or "codec" in entry):
        unknown_keys(entry, ("name", "codec", "params"), where)
        name = entry.get("codec", entry.get("name"))
        label = entry.get("name", name)
        for key, value in (("codec", name), ("name", label)):
            if not isinstance(value, str) or not value:
                raise ValueError(f"{where}.{key} must be a non-empty name, got {value!r}")
        params = entry.get("params") or {}
        if not isinstance(params, dict) or not all(isinstance(k, str) for k in params):
            raise ValueError(f"{where}.params must be a mapping of parameter names, got {params!r}")
        return CodecSpec(str(label), str(name), dict(params))
    raise ValueError(f"{where}: {entry!r} must be a name or {{name, codec, params}}")


DATASET_KEYS = ("format", "root", "ids", "limit", "options")


def _dataset_spec(name: str, entry: Any) -> DatasetSpec:
    where = f"datasets.{name}"
    if not isinstance(entry, dict) or "format" not in entry:
        raise ValueError(f"{where} needs a mapping with at least 'format' (and root, ids, limit, options)")
    unknown_keys(entry, DATASET_KEYS, where)
    fmt = check_value(entry["format"], str, f"{where}.format")
    root = check_value(entry.get("root"), str | None, f"{where}.root")
    ids = _names(entry, "ids") if entry.get("ids") is not None else None
    limit = check_value(entry.get("limit"), PositiveInt | None, f"{where}.limit")
    options = entry.get("options") or {}
    if not isinstance(options, dict) or not all(isinstance(k, str) for k in options):
        raise ValueError(f"{where}.options must be a mapping, got {options!r}")
    return DatasetSpec(name=name, format=fmt, root=root, ids=tuple(ids) if ids is not None else None,
                       limit=limit, options=dict(options))


#: every top-level key of a run config and the values it accepts (those checked in place are ``Any`` here)
FIELDS: dict[str, Any] = {
    "name": str, "output_dir": str, "description": str, "seed": Seed, "device": str, "batch_size": BatchSize,
    "max_seconds": PositiveFloat, "metric_profile": str, "metrics": Any, "tasks": Any, "codecs": Any,
    "datasets": Any, "assets": dict[str, str], "roots": dict[str, str], "task_options": dict[str, Any],
    "metric_options": dict[str, Any], "task_datasets": Any, "task_codecs": Any, "save_audio": Any,
    "executor": Any, "prefetch": Annotated[int, Range(0, 64)], "paper": Any, "families": dict[str, list[str]],
}
#: the ``paper:`` section of a paper table's config (codecbench.results.paper reads it) and what each key holds
PAPER_KEYS: dict[str, Any] = {
    "published": str, "join": dict[str, list[str]], "show": list[str],
    "tolerance": dict[str, Annotated[float, Range(0)]],
    "expected_utterances": dict[str, Count], "expected_samples": dict[str, dict[str, Count]],
    "bd_family": str, "bd_baselines": list[str],  # paper --bd: the family whose saving is claimed, against what
}
KNOWN_KEYS = set(FIELDS)


def from_dict(data: dict[str, Any]) -> RunConfig:
    """Validate a config mapping: every key known (did-you-mean otherwise), every value of its type and range, no
    silent coercion; names of tasks and metrics under ``task_options`` / ``metric_options`` are checked against
    the registry by the runner (:func:`codecbench.engine.plan.build_plan`), before any work."""
    if not isinstance(data, dict):
        raise ValueError(f"a run config is a mapping, got {type(data).__name__}")
    unknown_keys(data, list(FIELDS), "config")
    for key, hint in FIELDS.items():
        if key in data and hint is not Any:
            check_value(data[key], hint, key)
    for required in ("name", "codecs", "datasets"):
        if not data.get(required):
            raise ValueError(f"config needs a non-empty {required!r}")
    name = data["name"]
    datasets = data["datasets"]
    if not isinstance(datasets, dict):
        raise ValueError("datasets must map dataset names to {format, root, ...}")
    metrics = _names(data, "metrics")
    codecs = tuple(_codec_spec(c, f"codecs[{i}]") for i, c in enumerate(_as_list(data, "codecs") or ()))
    labels = [c.label for c in codecs]
    repeated = sorted({label for label in labels if labels.count(label) > 1})
    if repeated:
        raise ValueError(f"codec labels must be unique; repeated: {repeated} (give each variant its own name:)")
    for section in ("task_options", "metric_options"):
        for key, value in (data.get(section) or {}).items():
            if value is not None and not isinstance(value, dict):
                raise ValueError(f"{section}.{key} must be a mapping of settings, got {value!r}")
    paper = data.get("paper")
    if paper is not None:
        if not isinstance(paper, dict):
            raise ValueError(f"paper must be a mapping of {', '.join(PAPER_KEYS)}, got {paper!r}")
        unknown_keys(paper, list(PAPER_KEYS), "paper")
        for key, hint in PAPER_KEYS.items():
            if key in paper:
                check_value(paper[key], hint, f"paper.{key}")
    for key in ("tasks", "metrics"):
        _unique(_names(data, key) or [], key)
    return RunConfig(
        name=name,
        output_dir=Path(data.get("output_dir") or f"runs/{file_name(name)}"),
        codecs=codecs,
        datasets=tuple(_dataset_spec(str(n), e) for n, e in datasets.items()),
        tasks=tuple(_names(data, "tasks") or ()),
        metrics=None if metrics is None else tuple(metrics),
        metric_profile=data.get("metric_profile", "auto"),
        seed=data.get("seed", 0),
        device=data.get("device", "cpu"),
        batch_size=data.get("batch_size", 8),
        max_seconds=float(data.get("max_seconds", 60.0)),
        assets=dict(data.get("assets") or {}),
        task_options={str(k): dict(v or {}) for k, v in (data.get("task_options") or {}).items()},
        task_datasets=_restriction(data, "task_datasets", set(datasets)),
        task_codecs=_restriction(data, "task_codecs", set(labels)),
        save_audio=_save_audio(data.get("save_audio", 0)),
        executor=ExecutorConfig.from_section(data.get("executor")),
        metric_options={str(k): dict(v or {}) for k, v in (data.get("metric_options") or {}).items()},
        prefetch=data.get("prefetch", 1),
        families=_families(data.get("families") or {}, labels),
        raw=copy.deepcopy(data),
    )


def _families(section: dict[str, list[str]], labels: list[str]) -> dict[str, tuple[str, ...]]:
    """``families: {name: [label, ...]}``: every label a codec of the config, in one family at most."""
    seen: dict[str, str] = {}
    for family, members in section.items():
        for label in members:
            if label not in labels:
                raise ValueError(f"families.{family}: {label!r} is not a codec label of this config; labels: {labels}")
            if label in seen:
                raise ValueError(f"families: {label!r} is in both {seen[label]!r} and {family!r}; a codec is in one "
                                 "family at most")
            seen[label] = str(family)
    return {str(k): tuple(v) for k, v in section.items()}


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
    section = data.get(key) or {}
    if not isinstance(section, dict):
        raise ValueError(f"{key} must map task names to lists of names, got {section!r}")
    planned = set(_names(data, "tasks") or []) or None
    for task, names in section.items():
        if planned is not None and str(task) not in planned:
            continue  # a task the plan does not run (e.g. `tasks=[...]` overridden)
        names = _names({key: names}, key) or []
        if not names:
            raise ValueError(f"{key}.{task} names nothing: the task would run on no {key.split('_')[1][:-1]} "
                             f"(name at least one of {sorted(known)}, or remove the entry)")
        unknown = sorted(set(names) - known)
        if unknown:
            raise ValueError(f"{key}.{task}: unknown {unknown}; known: {sorted(known)}")
        out[str(task)] = tuple(names)
    return out


def load_config(path: str | Path, overrides: list[str] | tuple[str, ...] = (),
                patch: dict[str, Any] | None = None) -> RunConfig:
    """A config file, ``key=value`` overrides (YAML values), then ``patch`` ({dotted key: value}, data
    that is never parsed: paths with any characters); data roots resolved (:mod:`codecbench.config.roots`)."""
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
        data = load_yaml(path.read_text(encoding="utf-8"), f"config {path}") or {}
    except UnicodeDecodeError as err:
        raise ValueError(f"config {path}: not UTF-8 text ({err})") from err
    except YAMLError as err:
        raise ValueError(str(err)) from err
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
