"""Regression gate: compare a run with a committed baseline, utterance by utterance, then in aggregate.

A baseline is two files: ``NAME.csv`` (one row per codec x task x dataset x metric: the aggregates the
tables show) and ``NAME.rows.csv`` (one row per utterance and metric: value, ``num`` / ``den``, backend,
error, transcript), both written at full precision.

Two policies:

- ``utterance`` (the default): every utterance's value must stay within the metric's *measured* noise
  (``measured.utterance`` of ``configs/tolerances.yaml``, written by ``codecbench check --calibrate``: the
  largest deviation seen when the run is repeated under other thread counts, instruction sets and batch
  orders, times a safety factor), its counts (``num`` / ``den``: frames, bits, word errors) and its
  transcript must be the same unless the calibration saw them vary, and so must its backend and error;
  then every aggregate within ``measured.aggregate``. A metric the calibration did not cover is compared
  exactly (``measured.floor``). A change that is meant is accepted by rewriting the baseline in the same
  commit (``--write`` prints what it changes).
- ``aggregate``: today's coarse per-metric tolerances on the aggregates only (``default`` / ``metrics``),
  for gates across platforms.

Either way a metric fails when it is missing from the run, new in it (``allow_new`` accepts those),
NaN, computed on fewer utterances, has more errors, or its backend changed. A backend that differs only in
its ``code=`` fingerprint (a metric's source was edited) is not a regression by itself: the values decide,
and a row that passes says ``ok (code changed)`` so the baseline can be refreshed when convenient.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from enum import Enum
from pathlib import Path

import numpy as np
import pandas as pd
import yaml

from codecbench.api.rows import ERROR_METRIC
from codecbench.engine.rowframe import with_derived
from codecbench.results.tables import SUMMARY_COLUMNS, load_rows, summarize
from codecbench.util.csvfile import numeric_column, read_table, write_csv
from codecbench.util.shipped import config_file

KEY = ["codec", "task", "dataset", "metric"]
UTT_KEY = ["codec", "task", "dataset", "utt_id", "metric"]
UTT_COLUMNS = [*UTT_KEY, "value", "num", "den", "backend", "error", "text"]
POLICIES = ("utterance", "aggregate")
_CODE = re.compile(r"\s*\bcode=[0-9a-f]+")


def _model(backend: object) -> str:
    """A row backend without its code fingerprint: the model, weights and decoding rule that made it."""
    return _CODE.sub("", str(backend))


class GateStatus(str, Enum):
    """A compared value's verdict (the ``status`` column; what changed is in ``detail``)."""

    OK = "ok"
    OK_NEW = "ok (new, allowed)"  # not in the baseline, accepted with --allow-new
    OK_CODE = "ok (code changed)"  # the same numbers from edited code
    MISSING = "missing in run"
    NEW = "new in run"  # not in the baseline (--allow-new accepts it)
    BACKEND = "backend changed"
    NAN = "NaN in run"
    APPEARED = "value appeared"  # NaN in the baseline
    EXCEEDS = "exceeds tolerance"
    FEWER = "fewer utterances"
    MORE_ERRORS = "more errors"
    ERROR_APPEARED = "error appeared"
    ERROR_GONE = "error gone"
    MOVED = "moved"  # an utterance's value, past its measured noise
    COUNTS = "counts changed"
    TRANSCRIPT = "transcript changed"

    @property
    def passed(self) -> bool:
        return self in (GateStatus.OK, GateStatus.OK_NEW, GateStatus.OK_CODE)

    def __str__(self) -> str:
        return self.value


def _unchanged_code(status: GateStatus, base: object, run: object) -> GateStatus:
    return GateStatus.OK_CODE if status is GateStatus.OK and str(base) != str(run) else status
FLOOR = 1e-9


@dataclass(frozen=True)
class Tolerances:
    """Coarse aggregate tolerances (``default``, ``per_metric``: the ``aggregate`` policy) and measured ones
    (``utterance``, ``aggregate``, ``discrete`` count deviations, metrics whose transcripts may vary)."""

    default: float
    per_metric: dict[str, float]
    utterance: dict[str, float] = field(default_factory=dict)
    aggregate: dict[str, float] = field(default_factory=dict)
    discrete: dict[str, float] = field(default_factory=dict)
    varying_text: tuple[str, ...] = ()
    floor: float = FLOOR

    def of(self, metric: str) -> float:
        """The coarse aggregate tolerance (``aggregate`` policy)."""
        return self.per_metric.get(metric, self.default)

    def measured(self, metric: str, level: str) -> float:
        """The measured tolerance of a metric at ``utterance`` or ``aggregate`` level (the floor if unmeasured)."""
        table = self.utterance if level == "utterance" else self.aggregate
        return max(table.get(metric, 0.0), self.floor)

    def calibrated(self, metric: str) -> bool:
        return metric in self.utterance or metric in self.aggregate


def load_tolerances(path: str | Path) -> Tolerances:
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"tolerance file {path} not found")
    data = yaml.safe_load(path.read_text()) or {}
    unknown = set(data) - {"default", "metrics", "measured"}
    if unknown:
        raise ValueError(f"{path}: unknown keys {sorted(unknown)} (allowed: default, metrics, measured)")
    measured = data.get("measured") or {}

    def floats(section: str) -> dict[str, float]:
        return {str(k): float(v) for k, v in (measured.get(section) or {}).items()}

    return Tolerances(float(data.get("default", 0.0)),
                      {str(k): float(v) for k, v in (data.get("metrics") or {}).items()},
                      floats("utterance"), floats("aggregate"), floats("discrete"),
                      tuple(str(m) for m in measured.get("varying_text") or ()), float(measured.get("floor", FLOOR)))


def default_tolerances(baseline: str | Path) -> Path:
    """The harness's own tolerance file, for the harness's own baselines only (``results/baselines/`` of its
    checkout): its numbers were measured for the harness's CI codecs and machines, not for yours."""
    shipped = config_file("tolerances.yaml")
    own = shipped.resolve().parents[1] / "results" / "baselines"
    if Path(baseline).resolve().is_relative_to(own):
        return shipped
    raise ValueError(f"--baseline {baseline} is not one of the harness's own, so its tolerances ({shipped}, measured "
                     "for the harness's CI codecs) do not apply: pass --tolerances FILE (`codecbench check --calibrate "
                     "CONFIG --tolerances FILE` measures yours)")


def rows_path(baseline: str | Path) -> Path:
    """The per-utterance file of a baseline: ``ci.csv`` -> ``ci.rows.csv``."""
    path = Path(baseline)
    return path.with_name(path.name[: -len(path.suffix)] + ".rows.csv" if path.suffix else path.name + ".rows.csv")


def utterance_table(df: pd.DataFrame) -> pd.DataFrame:
    """One row per utterance and metric of a run's current rows (:data:`UTT_COLUMNS`)."""
    df = with_derived(df)
    out = df.assign(text=df["hyp"].fillna(""), error=df["error"].fillna(""))
    return out[UTT_COLUMNS].sort_values(UTT_KEY, kind="stable").reset_index(drop=True)


def check_baseline_target(run_dir: str | Path, path: str | Path) -> None:
    """A baseline may be (re)written only apart from what the run reads, and only over baseline files: an existing
    file at ``path`` or beside it (:func:`rows_path`) that is not a baseline this harness wrote is refused."""
    from codecbench.results.outputs import dataset_roots, run_inputs
    from codecbench.util.outdir import OutputConflict, check_disjoint

    dirs = [Path(run_dir)]
    for target in (Path(path), rows_path(path)):
        check_disjoint(target, [*run_inputs(dirs), *dataset_roots(dirs)], "--baseline")
        if target.exists():
            try:
                header = target.open(encoding="utf-8").readline().strip().split(",")
            except (OSError, UnicodeDecodeError):
                header = []
            wanted = SUMMARY_COLUMNS if target == Path(path) else UTT_COLUMNS
            if not target.is_file() or not set(wanted) - {"spread", "seeds"} <= set(header):
                raise OutputConflict(f"--baseline {path}: {target} exists and is not a baseline file; --write replaces "
                                     "only baselines (choose a new path)")


def write_baseline(run_dir: str | Path, path: str | Path) -> pd.DataFrame:
    """Write a run's aggregates to ``path`` and its utterances beside it (:func:`rows_path`), each whole; only over
    earlier baselines and apart from the run's inputs (:func:`check_baseline_target`)."""
    check_baseline_target(run_dir, path)
    df = load_rows([run_dir], extra="none")
    summary = summarize(df)
    Path(path).parent.mkdir(parents=True, exist_ok=True)
    write_csv(summary, path, index=False)
    write_csv(utterance_table(df), rows_path(path), index=False)
    return summary


def _read_baseline(base_path: Path) -> pd.DataFrame:
    if not base_path.is_file():
        raise FileNotFoundError(f"baseline {base_path} not found; create it with --write")
    required = [c for c in SUMMARY_COLUMNS if c not in ("spread", "seeds")]  # older baselines lack these
    base = read_table(base_path, "baseline", required, dtype={"backend": str, **{k: str for k in KEY}},
                      keep_default_na=False, na_values={"value": ["", "nan", "NaN"]})
    for column in ("value", "n", "errors"):
        base[column] = numeric_column(base, column, "baseline", base_path, empty=column == "value")
    if base.empty:  # a gate with nothing to compare would pass anything (with --allow-new)
        raise ValueError(f"baseline {base_path} has no rows; write it from a run with --write")
    return base


def compare_aggregates(run_dir: str | Path, baseline: str | Path, tolerances: Tolerances, allow_new: bool = False,
            policy: str = "aggregate", current: pd.DataFrame | None = None) -> pd.DataFrame:
    """Per-metric comparison of the aggregates with a ``status`` column (``ok`` or the failure reason);
    ``policy`` picks the coarse (``aggregate``) or the measured (``utterance``) tolerances."""
    if policy not in POLICIES:
        raise ValueError(f"policy must be one of {POLICIES}, got {policy!r}")
    current = summarize(load_rows([run_dir], extra="none")) if current is None else current
    base = _read_baseline(Path(baseline))
    merged = base.merge(current, on=KEY, how="outer", suffixes=("_base", "_run"), indicator=True)
    rows = []
    for _, r in merged.iterrows():
        tol = tolerances.of(r["metric"]) if policy == "aggregate" else tolerances.measured(r["metric"], "aggregate")
        status, detail = GateStatus.OK, ""
        delta = float("nan")
        if r["_merge"] == "left_only":
            status = GateStatus.MISSING
        elif r["_merge"] == "right_only":
            status = GateStatus.OK_NEW if allow_new else GateStatus.NEW
            detail = "" if allow_new else "not in the baseline; --allow-new accepts it"
        else:
            delta = float(r["value_run"]) - float(r["value_base"])
            if _model(r["backend_run"]) != _model(r["backend_base"]):
                status, detail = GateStatus.BACKEND, f"{r['backend_base']} -> {r['backend_run']}"
            elif pd.isna(r["value_run"]):
                status = GateStatus.NAN if not pd.isna(r["value_base"]) else GateStatus.OK
            elif pd.isna(r["value_base"]):
                status, detail = GateStatus.APPEARED, "NaN in the baseline"
            elif abs(delta) > tol + 1e-12:
                status = GateStatus.EXCEEDS
            elif int(r["n_run"]) < int(r["n_base"]):
                status, detail = GateStatus.FEWER, f"{int(r['n_base'])} -> {int(r['n_run'])}"
            elif int(r["errors_run"]) > int(r["errors_base"]):
                status, detail = GateStatus.MORE_ERRORS, f"{int(r['errors_base'])} -> {int(r['errors_run'])}"
            status = _unchanged_code(status, r["backend_base"], r["backend_run"])
        rows.append({**{k: r[k] for k in KEY}, "baseline": r["value_base"], "run": r.get("value_run"),
                     "delta": delta, "tolerance": tol, "status": status, "detail": detail})
    return pd.DataFrame(rows)


def compare_utterances(run_dir: str | Path, baseline: str | Path, tolerances: Tolerances,
                       allow_new: bool = False, current: pd.DataFrame | None = None) -> pd.DataFrame:
    """Per-utterance comparison: one row per utterance and metric with ``status`` (``ok`` or what moved),
    ``delta`` and ``tolerance`` (the measured noise), and ``score`` (|delta| / tolerance: the largest
    moves first when sorted)."""
    path = rows_path(baseline)
    if not path.is_file():
        raise FileNotFoundError(f"baseline {baseline} has no per-utterance file {path}: rewrite the baseline with "
                                "--write, or gate on the aggregates alone with --policy aggregate")
    base = read_table(path, "per-utterance baseline", UTT_COLUMNS,
                      dtype={"backend": str, "error": str, "text": str, "utt_id": str, "codec": str,
                             "dataset": str, "task": str, "metric": str}, keep_default_na=False,
                      na_values={c: ["", "nan", "NaN"] for c in ("value", "num", "den")})
    for column in ("value", "num", "den"):
        base[column] = numeric_column(base, column, "per-utterance baseline", path)
    run = utterance_table(load_rows([run_dir], extra="none")) if current is None else current
    merged = base.merge(run, on=UTT_KEY, how="outer", suffixes=("_base", "_run"), indicator=True)
    if merged.empty:
        return pd.DataFrame()
    return _utterance_status(merged, tolerances, allow_new).sort_values(
        ["score", *UTT_KEY], ascending=[False, *[True] * len(UTT_KEY)], kind="stable")


def _numbers(column: pd.Series) -> np.ndarray:
    return pd.to_numeric(column, errors="coerce").astype(float).to_numpy()


def _same_all(a: np.ndarray, b: np.ndarray, tol: np.ndarray) -> np.ndarray:
    """Whether ``a`` and ``b`` agree within ``tol`` (NaN agrees only with NaN), element-wise."""
    with np.errstate(invalid="ignore"):
        close = np.abs(a - b) <= tol + 1e-12
    return np.where(np.isnan(a) | np.isnan(b), np.isnan(a) & np.isnan(b), close)


def _texts(column: pd.Series) -> pd.Series:
    return column.astype(object).where(column.notna(), "").astype(str)


def _utterance_status(merged: pd.DataFrame, tolerances: Tolerances, allow_new: bool) -> pd.DataFrame:
    """The per-utterance verdicts of a merged baseline / run table, column-wise; the first failing check names
    the status (the same order as before: presence, backend, errors, value, counts, transcript)."""
    metric = merged["metric"].astype(str)
    names = set(metric)
    tol = metric.map({m: tolerances.measured(m, "utterance") for m in names}).astype(float).to_numpy()
    count_tol = metric.map({m: tolerances.discrete.get(m, 0.0) for m in names}).astype(float).to_numpy()
    value_base, value_run = _numbers(merged["value_base"]), _numbers(merged["value_run"])
    delta = value_run - value_base
    which = merged["_merge"].astype(str).to_numpy()
    backend_base, backend_run = _texts(merged["backend_base"]), _texts(merged["backend_run"])
    model_of = {b: _model(b) for b in set(backend_base) | set(backend_run)}
    model_changed = (backend_base.map(model_of) != backend_run.map(model_of)).to_numpy()
    error_base = (_texts(merged["error_base"]) != "").to_numpy()
    error_run = (_texts(merged["error_run"]) != "").to_numpy()
    moved = (metric != ERROR_METRIC).to_numpy() & ~_same_all(value_base, value_run, tol)
    counts = ~(_same_all(_numbers(merged["num_base"]), _numbers(merged["num_run"]), count_tol)
               & _same_all(_numbers(merged["den_base"]), _numbers(merged["den_run"]), count_tol))
    text_base, text_run = _texts(merged["text_base"]), _texts(merged["text_run"])
    text = ((text_base != text_run) & ~metric.isin(list(tolerances.varying_text))).to_numpy()
    status: list[GateStatus] = [GateStatus.OK] * len(merged)  # a list: numpy would turn the enum into plain str
    detail: list[str] = [""] * len(merged)
    both = which == "both"
    checks = [(which == "left_only", lambda i: (GateStatus.MISSING, "")),
              (which == "right_only", lambda i: (GateStatus.OK_NEW if allow_new else GateStatus.NEW, "")),
              (both & model_changed,
               lambda i: (GateStatus.BACKEND, f"{merged['backend_base'].iat[i]} -> {merged['backend_run'].iat[i]}")),
              (both & (error_base != error_run),
               lambda i: (GateStatus.ERROR_APPEARED if error_run[i] else GateStatus.ERROR_GONE, "")),
              (both & moved, lambda i: (GateStatus.MOVED, "")),
              (both & counts, lambda i: (GateStatus.COUNTS, f"num {merged['num_base'].iat[i]} -> "
                                         f"{merged['num_run'].iat[i]}, den {merged['den_base'].iat[i]} -> "
                                         f"{merged['den_run'].iat[i]}")),
              (both & text,
               lambda i: (GateStatus.TRANSCRIPT, f"{text_base.iat[i][:60]!r} -> {text_run.iat[i][:60]!r}"))]
    decided = np.zeros(len(merged), dtype=bool)
    for mask, verdict in checks:
        for i in np.flatnonzero(mask & ~decided):
            status[i], detail[i] = verdict(i)
        decided |= mask
    code_changed = both & ~decided & (backend_base != backend_run).to_numpy()
    for i in np.flatnonzero(code_changed):
        status[i] = GateStatus.OK_CODE
    ok = np.array([s.passed for s in status], dtype=bool)
    with np.errstate(divide="ignore", invalid="ignore"):
        score = np.where(np.isnan(delta), np.where(ok, 0.0, np.inf), np.abs(delta) / tol)
    out = merged[UTT_KEY].copy()
    out["baseline"], out["run"], out["delta"], out["tolerance"] = value_base, value_run, delta, tol
    out["score"], out["status"], out["detail"] = score, status, detail
    return out.reset_index(drop=True)


@dataclass(frozen=True)
class GateResult:
    """The aggregate and (utterance policy) per-utterance comparisons of one ``codecbench check``."""

    aggregates: pd.DataFrame
    utterances: pd.DataFrame | None
    uncalibrated: list[str]

    @property
    def failed_aggregates(self) -> pd.DataFrame:
        return self.aggregates[~self.aggregates["status"].map(lambda s: s.passed).astype(bool)]

    @property
    def failed_utterances(self) -> pd.DataFrame:
        if self.utterances is None or self.utterances.empty:
            return pd.DataFrame()
        return self.utterances[~self.utterances["status"].map(lambda s: s.passed).astype(bool)]

    @property
    def passed(self) -> bool:
        return self.failed_aggregates.empty and self.failed_utterances.empty

    def report(self, top: int = 25) -> str:
        """What moved, the largest moves first: per metric a count, then the utterances."""
        lines = []
        bad = self.failed_utterances
        if not bad.empty:
            groups = bad.groupby(KEY, sort=False).agg(utterances=("utt_id", "count"), status=("status", "first"),
                                                      largest=("delta", lambda d: d.abs().max()),
                                                      tolerance=("tolerance", "first"))
            lines += ["## utterances that moved, by metric (largest move first)", "",
                      _markdown(groups.reset_index(), ".3g"), "",
                      f"## the {min(top, len(bad))} largest of {len(bad)} utterance moves", "",
                      _markdown(bad.head(top)[[*UTT_KEY, "baseline", "run", "delta", "tolerance", "status", "detail"]],
                                ".6g"), ""]
        failed = self.failed_aggregates
        lines += ["## aggregates", "", _markdown(failed if not failed.empty else self.aggregates, ".4f")]
        if self.uncalibrated:
            lines += ["", f"not calibrated (compared exactly, floor): {', '.join(self.uncalibrated)}; "
                          "`codecbench check --calibrate CONFIG` measures their noise"]
        return "\n".join(lines)


def _markdown(frame: pd.DataFrame, floatfmt: str) -> str:
    """A comparison as printed: numbers in ``floatfmt``, tolerances in ``.3g`` (1e-06, not 0.0000), statuses as
    their text; formatted here and not re-parsed as numbers by the table writer."""
    out = frame.copy()
    for column in out.columns:
        if column == "tolerance":
            out[column] = [f"{float(t):.3g}" for t in out[column]]
        elif column == "status":
            out[column] = [str(s) for s in out[column]]
        elif pd.api.types.is_float_dtype(out[column]):
            out[column] = ["" if pd.isna(v) else format(float(v), floatfmt) for v in out[column]]
    return out.to_markdown(index=False, disable_numparse=True)


def gate(run_dir: str | Path, baseline: str | Path, tolerances: Tolerances, policy: str = "utterance",
         allow_new: bool = False) -> GateResult:
    """Run the gate of ``policy`` on a run against a baseline."""
    df = load_rows([run_dir], extra="none")
    aggregates = compare_aggregates(run_dir, baseline, tolerances, allow_new, policy, current=summarize(df))
    if policy == "aggregate":
        return GateResult(aggregates, None, [])
    utterances = compare_utterances(run_dir, baseline, tolerances, allow_new, current=utterance_table(df))
    metrics = sorted(set(aggregates["metric"]) - {ERROR_METRIC})
    return GateResult(aggregates, utterances, [m for m in metrics if not tolerances.calibrated(m)])
