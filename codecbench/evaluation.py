"""The Python front door: :func:`evaluate` codecs on data, :func:`run` a config, :func:`load_results` of run folders.

Each goes through the same validation, caches, store and rows as the command line (the CLI calls these
functions), and leaves the process as it found it: the random generators, torch's threads and the asset overrides
a run sets are restored when it returns."""

from __future__ import annotations

import contextlib
import dataclasses
import random
import tempfile
from collections.abc import Iterator, Mapping, Sequence
from pathlib import Path
from typing import Any

from codecbench import assets
from codecbench.config import roots
from codecbench.config.runconfig import RunConfig, apply_override, from_dict, load_config
from codecbench.engine.runner import run_plan, summarize_run
from codecbench.results.handle import Results

__all__ = ["evaluate", "load_results", "run", "score"]


@contextlib.contextmanager
def restored_globals() -> Iterator[None]:
    """Python's, NumPy's and torch's random states, torch's thread count and the asset overrides, as they were
    before the block (a run seeds and sets them for itself)."""
    import numpy as np
    import torch

    states = (random.getstate(), np.random.get_state(), torch.random.get_rng_state())
    cuda = torch.cuda.get_rng_state_all() if torch.cuda.is_available() else None
    threads = torch.get_num_threads()
    try:
        with assets.overridden({}):
            yield
    finally:
        random.setstate(states[0])
        np.random.set_state(states[1])
        torch.random.set_rng_state(states[2])
        if cuda is not None:
            torch.cuda.set_rng_state_all(cuda)
        if torch.get_num_threads() != threads:
            torch.set_num_threads(threads)


def _codec_entries(codecs: Sequence[Any]) -> tuple[list[Any], dict[str, Any]]:
    """Config entries of ``codecs`` (names and mappings as they are; an in-memory Codec as ``{name: its label,
    codec: its class}``) and the in-memory codecs by label."""
    from codecbench.api.codec import Codec

    if isinstance(codecs, (str, Mapping)) or not isinstance(codecs, Sequence) or not codecs:
        raise ValueError(f"codecs must be a non-empty list of registered names, {{name, codec, params}} mappings "
                         f"or Codec instances; got {codecs!r}")
    entries: list[Any] = []
    instances: dict[str, Any] = {}
    for i, given in enumerate(codecs):
        if isinstance(given, Codec):
            label = getattr(given, "label", None) or getattr(given, "name", None) or type(given).__name__
            if not isinstance(label, str) or not label:
                raise ValueError(f"codecs[{i}]: a codec's label (its `name`) must be a non-empty string, got {label!r}")
            if label in instances:
                raise ValueError(f"codecs[{i}]: two in-memory codecs are labelled {label!r}; give each a `name`")
            instances[label] = given
            entries.append({"name": label, "codec": f"{type(given).__module__}.{type(given).__qualname__}"})
        elif isinstance(given, (str, Mapping)):
            entries.append(dict(given) if isinstance(given, Mapping) else given)
        else:
            raise ValueError(f"codecs[{i}]: {given!r} is neither a registered codec name, a {{name, codec, params}} "
                             "mapping nor a codecbench Codec")
    return entries, instances


def _dataset_entries(data: Any) -> dict[str, Any]:
    """``datasets:`` of a config from ``data``: a folder of audio, a manifest CSV, one dataset spec (a mapping with
    ``format``; its ``name`` names it) or a mapping of named specs."""
    if isinstance(data, (str, Path)):
        path = Path(data).expanduser()
        if path.is_dir():
            return {"data": {"format": "folder", "root": str(path)}}
        if path.is_file() and path.suffix.lower() == ".csv":
            return {"data": {"format": "manifest", "root": str(path.parent), "options": {"manifest": path.name}}}
        raise ValueError(f"data {str(data)!r} is neither a folder of audio files nor a manifest .csv file")
    if isinstance(data, Mapping) and "format" in data:
        spec = dict(data)
        return {str(spec.pop("name", "data")): spec}
    if isinstance(data, Mapping) and data and all(isinstance(v, Mapping) for v in data.values()):
        return {str(k): dict(v) for k, v in data.items()}
    raise ValueError("data must be a folder, a manifest .csv, a dataset spec {format, root, options, ...} or a "
                     f"mapping of named specs; got {data!r}")


def _config(raw: dict[str, Any], instances: Mapping[str, Any] | None = None) -> RunConfig:
    """A validated config of ``raw`` (data roots resolved), with the in-memory codecs attached by label."""
    missing = roots.resolve(raw)
    if missing:
        raise FileNotFoundError("data root(s) " + ", ".join(missing) + " not configured; set each with "
                                + "; ".join(roots.how_to_set(n) for n in missing))
    config = from_dict(raw)
    if instances:
        if not config.executor.inline:
            raise ValueError("in-memory codecs run in this process only: leave executor.kind as inline")
        config = dataclasses.replace(config, codecs=tuple(
            dataclasses.replace(s, instance=instances[s.label]) if s.label in instances else s
            for s in config.codecs))
    return config


def _execute(config: RunConfig, progress: bool, retry_errors: bool = False, detach: bool = False) -> Results:
    with restored_globals():
        outcome = run_plan(config, progress=progress, retry_errors=retry_errors, detach=detach)
        summary = None if detach else summarize_run(outcome.plan, outcome.store)
    return Results([config.output_dir], summary)


def evaluate(codecs: Sequence[Any], data: Any, tasks: Sequence[str] | None = None,
             metrics: Sequence[str] | None = None, profile: str = "auto", out: str | Path | None = None, *,
             name: str = "evaluate", progress: bool = True, **settings: Any) -> Results:
    """Run codecs on data with the harness's tasks and metrics.

    Args:
        codecs: registered names (``"opus-6kbps"``), ``{"name", "codec", "params"}`` mappings, or Codec instances
            (an ``nn.Module`` in memory: its identity for caches and rows is its class's code, its state dict's
            digest and its declared settings; its label its ``name`` attribute, else its class name).
        data: a folder of audio files (sidecar ``.txt`` transcripts optional), a manifest ``.csv``, a dataset
            spec ``{"format", "root", "options", ...}`` or a mapping of named specs.
        tasks: task names (default: the tasks that declare themselves default).
        metrics: metric names (default: every metric of the profile).
        profile: the metric profile (``auto``, ``offline``, ``paper``).
        out: the run folder (default: a new temporary folder); a folder of an earlier run resumes it.
        name: the run's name.
        progress: show progress bars.
        **settings: any other run-config field (``seed``, ``device``, ``batch_size``, ``max_seconds``,
            ``task_options``, ``metric_options``, ``save_audio``, ...), validated as a config file's are.

    Returns:
        :class:`Results` of the run folder.

    Raises:
        ValueError: a setting, name or option that is not allowed (its key, value and what is allowed named).

    Example:
        >>> import codecbench
        >>> results = codecbench.evaluate(["mulaw-8bit", MyCodec()], "clips/", tasks=["resynthesis"],
        ...                               profile="offline")  # doctest: +SKIP
        >>> results.table()  # doctest: +SKIP
    """
    entries, instances = _codec_entries(codecs)
    raw: dict[str, Any] = {"name": name, "codecs": entries, "datasets": _dataset_entries(data),
                           "metric_profile": profile, **settings}
    if tasks is not None:
        raw["tasks"] = list(tasks)
    if metrics is not None:
        raw["metrics"] = list(metrics)
    raw["output_dir"] = str(out) if out is not None else tempfile.mkdtemp(prefix=f"codecbench-{name}-")
    return _execute(_config(raw, instances), progress)


def run(config: str | Path | Mapping[str, Any] | RunConfig, *overrides: str, progress: bool = True,
        retry_errors: bool = False, detach: bool = False, **settings: Any) -> Results:
    """Run (or resume) a run config, as ``codecbench run`` does.

    Args:
        config: a YAML config file, a config mapping, or a :class:`RunConfig`.
        *overrides: ``key=value`` overrides with dotted keys (``"datasets.clean.limit=2"``), values parsed as YAML.
        progress: show progress bars.
        retry_errors: recompute utterances that failed before.
        detach: submit the shards and return (local / slurm executors).
        **settings: run-config fields set as data (``seed=1``, ``output_dir="runs/x"``; a mapping replaces the
            whole section).

    Returns:
        :class:`Results` of the run folder.

    Example:
        >>> results = codecbench.run("configs/ci.yaml", "batch_size=4", progress=False)  # doctest: +SKIP
        >>> results.check("results/baselines/ci.csv").passed  # doctest: +SKIP
    """
    if isinstance(config, (str, Path)):
        config = load_config(config, list(overrides), dict(settings) or None)
    elif isinstance(config, RunConfig) and not overrides and not settings:
        pass
    else:
        raw = dict(config.raw) if isinstance(config, RunConfig) else dict(config)
        instances = ({s.label: s.instance for s in config.codecs if s.instance is not None}
                     if isinstance(config, RunConfig) else {})
        raw.update(settings)
        for given in overrides:
            apply_override(raw, given)
        config = _config(raw, instances)
    return _execute(config, progress, retry_errors, detach)


def recorded_codec() -> str:
    """The registered codec that reads recorded outputs (the one plugin declaring ``Capabilities(recorded=True)``
    with no fixed params): found by its declaration, never by name."""
    from codecbench.plugins.registry import CODECS, discover

    discover()
    found = [name for name, variant in CODECS.items() if variant.cls.capabilities.recorded and not variant.params]
    if len(found) != 1:
        raise ValueError(f"scoring recorded outputs needs exactly one codec plugin that declares recorded outputs; "
                         f"found {found or 'none'}")
    return found[0]


def score(outputs: str | Path, data: Any, label: str, task: str | None = None, metrics: Sequence[str] | None = None,
          profile: str = "auto", out: str | Path | None = None, *, progress: bool = True,
          **settings: Any) -> Results:
    """Score audio made elsewhere (another codec, a TTS or voice-conversion system) with the same protocol, caches
    and rows as a codec the harness runs.

    Args:
        outputs: a folder of audio files named by item id as rows name them: ``<utt_id>.wav`` (resynthesis-style:
            scored against each utterance's recording) or ``<source>-><target>.wav`` (``task="vc"``).
        data: the dataset the outputs were made from (as :func:`evaluate` takes it).
        label: the row label (the codec column of the tables).
        task: a task that scores outputs alone (``resynthesis``, ``vc``; default: the default task among them).
        metrics, profile, out, progress, **settings: as :func:`evaluate`.

    Returns:
        :class:`Results`; the rows' identity is the digest of the files (a changed file is rescored).
    """
    if not isinstance(label, str) or not label:
        raise ValueError(f"label must be a non-empty string, got {label!r}")
    entry = {"name": label, "codec": recorded_codec(), "params": {"folder": str(outputs)}}
    if task is None:
        from codecbench.plugins.registry import TASKS

        task = next((name for name, cls in TASKS.items() if cls.accepts_recorded and cls.default), None)
        if task is None:
            raise ValueError("no registered default task scores recorded outputs; name one with task=...")
    return evaluate([entry], data, tasks=[task], metrics=metrics, profile=profile, out=out, name=label,
                    progress=progress, **settings)


def load_results(*run_dirs: str | Path) -> Results:
    """The rows of run folders already made (``codecbench table RUN_DIR ...`` in Python).

    Args:
        *run_dirs: one or more run folders.

    Returns:
        :class:`Results` of those folders.

    Raises:
        FileNotFoundError: a folder without ``rows.jsonl``.
    """
    if not run_dirs:
        raise ValueError("load_results needs at least one run folder")
    for folder in run_dirs:
        if not (Path(folder) / "rows.jsonl").is_file():
            raise FileNotFoundError(f"{folder} is not a run folder (no rows.jsonl there)")
    return Results(list(run_dirs))
