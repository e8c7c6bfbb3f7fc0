"""Regenerate one of the paper's tables: ``configs/paper/<table>.yaml`` is a run config with a ``paper:``
section (published numbers, tasks side by side, tolerances, expected corpus sizes). :func:`dry_run` says
what would run, what is cached and what is missing; :func:`compare_published` puts our number, the published one
and the delta in each cell and checks the delta against the stated tolerance."""

from __future__ import annotations

import contextlib
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pandas as pd

from codecbench import assets
from codecbench.api.datasets import Download, load_dataset
from codecbench.config import roots
from codecbench.config.profiles import profiles, resolve_profile
from codecbench.config.runconfig import RunConfig, from_dict, read_config_data
from codecbench.engine import plan
from codecbench.engine.store import ResultStore
from codecbench.plugins.registry import CODECS, DATASETS, METRICS, TASKS, BrokenPlugin, declared_constants, discover
from codecbench.results.tables import Table
from codecbench.util.shipped import config_file, paper_configs, published
from codecbench.util.yamlfile import load_yaml


@dataclass
class PaperTable:
    """A paper table's plan: the run config (roots resolved where given) and its ``paper:`` section."""

    name: str
    data: dict[str, Any]
    missing_roots: list[str]
    section: dict[str, Any] = field(default_factory=dict)

    @property
    def config(self) -> RunConfig:
        return from_dict({k: v for k, v in self.data.items()})

    @property
    def published(self) -> Path | None:
        path = self.section.get("published")
        return published(path) if path else None

    @property
    def joins(self) -> dict[str, dict[str, list[str]]] | None:
        join = self.section.get("join")
        return {self.name: {str(g): list(t) for g, t in join.items()}} if join else None


def available() -> list[str]:
    return sorted(p.stem for p in paper_configs().glob("table*.yaml"))


def load(table: str, given_roots: dict[str, str] | None = None, overrides: list[str] | tuple[str, ...] = (),
         output_dir: str | None = None) -> PaperTable:
    """The plan of ``table`` (``table1`` ... ``table6``)."""
    path = paper_configs() / f"{table}.yaml"
    if not path.is_file():
        raise FileNotFoundError(f"no paper table {table!r}; available: {', '.join(available())}")
    data = read_config_data(path, overrides, {"output_dir": output_dir} if output_dir else None)
    missing = roots.resolve(data, given_roots)
    return PaperTable(table, data, missing, dict(data.get("paper") or {}))


def _codec_assets(spec_name: str, params: dict[str, Any]) -> list[tuple[str, str]]:
    """``(asset, problem)`` for each declared asset of a codec variant that does not resolve here."""
    factory = CODECS.get(spec_name)
    merged = {**factory.params, **params}
    declared = factory.cls.variant_assets(merged) if hasattr(factory.cls, "variant_assets") else factory.cls.assets
    out = []
    for asset in declared:
        try:
            found = assets.locate(asset.name, merged.get("checkpoint") if asset is declared[0] else None)
        except assets.AssetNotFound as err:
            out.append((asset.name, str(err)))
            continue
        if found.absent:
            out.append((asset.name, f"absent: set {assets.env_var(asset.name)}=/path, `assets: {{{asset.name}: "
                                    f"/path}}` or `codecbench assets fetch {asset.name}` online "
                                    "(random weights otherwise)"))
    return out


def download_of(format_name: str) -> Download | None:
    """What a dataset format's adapter declares about downloading its corpus (``DOWNLOAD`` / ``DOWNLOADS``)."""
    loader = DATASETS.get(format_name)
    module = sys.modules.get(getattr(loader, "__module__", ""))
    declared = getattr(module, "DOWNLOADS", {}).get(format_name) or getattr(module, "DOWNLOAD", None)
    return declared if isinstance(declared, Download) else None


def audio_hours(utterances: list[Any]) -> float:
    """Hours of audio of read utterances, from the files' headers."""
    import soundfile as sf

    seconds = 0.0
    for utt in utterances:
        with contextlib.suppress(RuntimeError, OSError):
            info = sf.info(str(utt.path))
            seconds += info.frames / info.samplerate
    return seconds / 3600


def shipped_costs() -> dict[str, Any]:
    """The measured seconds of compute per second of audio (``configs/costs.yaml``), or {} when absent."""
    path = config_file("costs.yaml")
    return load_yaml(path.read_text(encoding="utf-8"), str(path)) if path.is_file() else {}


def plan_work(config: RunConfig, hours: dict[str, float | None], profile: str | None) -> list[str]:
    """What the table takes, whatever is here: each corpus (source, files, layout, hours), the download, the
    compute estimated from measured per-second costs, the weights missing by asset, the codecs that need their own
    environment or a GPU, and what random weights mean."""
    lines = ["  plan:"]
    total_gb, unknown_size = 0.0, []
    for spec in config.datasets:
        declared = download_of(spec.format)
        shown = f"{hours[spec.name]:.1f} h" if hours.get(spec.name) is not None else "hours counted once read"
        if declared is None:
            lines.append(f"    corpus {spec.name} ({spec.format}): no download declared; {shown}")
            continue
        lines += [f"    corpus {spec.name} ({spec.format}): {declared.source}",
                  f"      download {declared.files}",
                  f"      root: {declared.layout}; {shown}" + (f"; {declared.note}" if declared.note else "")]
        if declared.size_gb is None:
            unknown_size.append(spec.name)
        else:
            total_gb += declared.size_gb
    lines.append(f"    download: {total_gb:.1f} GB" + (f" + {', '.join(unknown_size)} (size on its page)"
                                                        if unknown_size else ""))
    known = {n: h for n, h in hours.items() if h is not None}
    uncounted = ", ".join(sorted(set(hours) - set(known)))
    lines.append(f"    audio: {sum(known.values()):.1f} h" + (f" (not counted: {uncounted})" if uncounted else ""))
    costs = shipped_costs()
    per_codec, per_metric = costs.get("codecs") or {}, costs.get("metrics") or {}
    metric_names = list(config.metrics) if config.metrics is not None else (
        list(profiles()[profile]) if profile else [])
    cpu, missing_costs, training = 0.0, set(), 0
    for job in plan.jobs(config, config.tasks):
        audio = hours.get(job.dataset)
        if audio is None:
            continue
        if TASKS.get(job.task).trains:
            training += 1
            continue
        cost = per_codec.get(job.codec.name)
        if cost is None:
            missing_costs.add(job.codec.name)
        else:
            cpu += float(cost) * audio
        for metric in metric_names:
            m_cost = per_metric.get(f"{profile}/{metric}")
            if m_cost is None:
                missing_costs.add(f"{profile}/{metric}")
            else:
                cpu += float(m_cost) * audio
    measured = f"costs measured on {costs['machine']}" if costs.get("machine") else "no measured costs"
    lines.append(f"    compute: about {cpu:.1f} CPU hours for the corpora counted ({measured})"
                 + (f"; not measured: {', '.join(sorted(missing_costs))}" if missing_costs else "")
                 + (f"; {training} training jobs not estimated" if training else ""))
    lines.append("    GPU hours: no costs measured on a GPU here (`codecbench speed --write-costs` on one adds them)")
    by_asset: dict[str, list[str]] = {}
    for codec in config.codecs:
        with contextlib.suppress(KeyError, ModuleNotFoundError, BrokenPlugin):
            for asset, _ in _codec_assets(codec.name, codec.params):
                by_asset.setdefault(asset, []).append(codec.label)
    for asset, users in sorted(by_asset.items()):
        size = assets.get(asset).size or "size not declared"
        lines.append(f"    weights missing: {asset} ({size}) for {', '.join(users)}: `codecbench assets fetch {asset}` "
                     f"online, or {assets.env_var(asset)}=/path")
    for codec in config.codecs:
        module = (CODECS.get(codec.name).cls.__module__ if codec.name in CODECS
                  else CODECS.unavailable()[codec.name].module if codec.name in CODECS.unavailable() else None)
        constants = declared_constants(module) if module else {}
        hint = str(constants.get("PLUGIN_HINT", ""))
        if hint.startswith("tox -e"):
            lines.append(f"    own environment: {codec.label}: {hint}")
        if constants.get("PLUGIN_GPU"):
            lines.append(f"    GPU: {codec.label} needs {constants['PLUGIN_GPU']}")
    if by_asset:
        lines.append("    random weights: a codec whose weights are missing runs its real architecture with random "
                     "weights; its rows are flagged † in every table, never ranked, and are NOT the codec's numbers")
    return lines


def dry_run(table: PaperTable) -> tuple[list[str], bool]:
    """Lines describing the plan, and whether everything it needs is here."""
    discover()
    lines, ok = [], True
    config = table.config
    expected = {str(k): int(v) for k, v in (table.section.get("expected_utterances") or {}).items()}
    stated_samples = (table.section.get("expected_samples") or {}).items()
    expected_samples = {(str(t), str(d)): int(n) for t, by_dataset in stated_samples for d, n in by_dataset.items()}
    tasks = list(config.tasks)
    lines.append(f"codecbench paper {table.name}: {len(config.codecs)} codec variants x {len(tasks)} tasks "
                 f"({', '.join(tasks)}) x {len(config.datasets)} datasets")
    for name in table.missing_roots:
        ok = False
        lines.append(f"  MISSING data root {name!r}: {roots.how_to_set(name)}")
    counts: dict[str, int | None] = {}
    loaded: dict[str, list] = {}
    for spec in config.datasets:
        if roots.PLACEHOLDER.search(spec.root or ""):
            counts[spec.name] = None
            lines.append(f"  dataset {spec.name}: root not configured ({spec.root}); "
                         f"expected {expected.get(spec.name, '?')} utterances")
            continue
        try:
            loaded[spec.name] = load_dataset(spec)
            count = counts[spec.name] = len(loaded[spec.name])
            lines.append(f"  dataset {spec.name}: {count} utterances ({spec.format} at {spec.root})"
                         + _versus_paper(count, expected.get(spec.name)))
        except (OSError, ValueError, KeyError) as err:
            ok, counts[spec.name] = False, None
            lines.append(f"  MISSING dataset {spec.name}: {err}")
    options: dict[str, Any] = {}  # each registered task's parsed Options
    for task in tasks:
        if task not in TASKS:
            continue
        try:
            options[task] = TASKS.get(task).parse_options(config.task_options.get(task))
        except ValueError as err:
            ok = False
            lines.append(f"  MISSING task options of {task}: {err}")
    made: dict[tuple[str, str], int] = {}  # the samples each task makes of each dataset read here
    for job in plan.jobs(config, options):
        if job.dataset in loaded and (job.task, job.dataset) not in made:
            made[job.task, job.dataset] = TASKS.get(job.task)().count_samples(
                loaded[job.dataset], options[job.task], config.seed)
    for (task, name), stated in sorted(expected_samples.items()):
        if (task, name) in made:
            lines.append(f"  samples {task} on {name}: {made[task, name]}{_versus_paper(made[task, name], stated)}")
        else:
            lines.append(f"  samples {task} on {name}: the paper states {stated} (dataset not read here)")
    for codec in config.codecs:
        try:
            problems = _codec_assets(codec.name, codec.params)
        except (KeyError, ModuleNotFoundError) as err:
            ok = False
            lines.append(f"  MISSING codec {codec.label}: {err.args[0] if err.args else err}")
            continue
        for asset, problem in problems:
            ok = False
            lines.append(f"  MISSING weights of {codec.label}: asset {asset!r} {problem}")
    try:
        profile = resolve_profile(config.metric_profile)
        for metric, backend in profiles()[profile].items():
            if config.metrics is not None and metric not in config.metrics:
                continue
            for asset in backend.assets:
                if not assets.reachable(asset):
                    ok = False
                    lines.append(f"  MISSING metric weights: {metric} needs asset {asset!r} "
                                 f"({assets.env_var(asset)}=/path or `codecbench assets fetch {asset}`)")
    except ValueError as err:
        ok = False
        lines.append(f"  MISSING metric profile: {err}")
    size = {n: (c if c is not None else expected.get(n, 0)) for n, c in counts.items()}
    passes = training = 0
    for task in tasks:
        task_jobs = plan.jobs(config, [task])
        runs_on = list(dict.fromkeys(job.dataset for job in task_jobs))
        n_codecs = len({job.codec.label for job in task_jobs})
        utts = sum(made.get((task, d), expected_samples.get((task, d), size.get(d, 0))) for d in runs_on)
        passes += utts * n_codecs
        runs = TASKS.get(task)().training_runs(options[task]) if task in options else 0
        training += n_codecs * len(runs_on) * runs
        lines.append(f"  work {task}: {utts} samples ({', '.join(runs_on)}) x {n_codecs} codec variants"
                     + (f"; {n_codecs * len(runs_on) * runs} training runs" if runs else ""))
    known = all(c is not None for c in counts.values())
    lines.append(f"  work: {passes} utterance x codec passes, {training} training runs"
                 + ("" if known else " (the paper's corpus sizes where data is missing)"))
    out = config.output_dir
    if (out / "rows.jsonl").is_file():
        lines.append(f"  cached: {len(ResultStore(out))} rows in {out} (only missing rows are computed)")
    else:
        lines.append(f"  cached: nothing yet in {out}")
    for task in tasks:
        if task not in TASKS:
            ok = False
            lines.append(f"  MISSING task {task!r} (not registered)")
    unknown_metrics = [m for m in (config.metrics or ()) if m not in METRICS]
    if unknown_metrics:
        ok = False
        lines.append(f"  MISSING metrics {unknown_metrics}")
    hours = {spec.name: audio_hours(loaded[spec.name]) if spec.name in loaded else
             (declared.hours if (declared := download_of(spec.format)) is not None else None)
             for spec in config.datasets}
    try:
        chosen: str | None = resolve_profile(config.metric_profile)
    except ValueError:
        chosen = None
    lines += plan_work(config, hours, chosen)
    return lines, ok


def _versus_paper(count: int, stated: int | None) -> str:
    """The paper's count beside ours, and a warning when they differ (a partial or differently prepared corpus)."""
    if stated is None:
        return ""
    if count == stated:
        return f" (the paper: {stated}, same)"
    return f" (WARNING: the paper states {stated}; numbers will not be comparable)"


def compare_published(table: Table, tolerance: dict[str, float]) -> pd.DataFrame:
    """Cells with both our number and the published one (a codec of :attr:`Table.published` that we ran): ours,
    paper, delta, the tolerance of the column's metric and whether the delta is within it (no tolerance: not
    checked)."""
    cells = []
    theirs = table.published if table.published is not None else pd.DataFrame()
    for codec in theirs.index:
        if codec not in table.frame.index:
            continue
        for column in theirs.columns:
            paper, ours = theirs.loc[codec, column], table.frame.loc[codec, column]
            if pd.isna(paper) or pd.isna(ours):
                continue
            output = table.columns[column].output if column in table.columns else None
            tol = tolerance.get(output.name) if output is not None else None
            delta = float(ours) - float(paper)
            cells.append({"codec": codec, "column": column, "ours": float(ours), "paper": float(paper),
                          "delta": delta, "tolerance": tol,
                          "ok": None if tol is None else abs(delta) <= float(tol) + 1e-9})
    return pd.DataFrame(cells, columns=["codec", "column", "ours", "paper", "delta", "tolerance", "ok"])
