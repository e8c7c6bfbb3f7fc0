"""Regression gate: compare a run's aggregated metrics with a committed baseline.

A metric fails when ``|run - baseline| > tolerance`` (absolute, per metric, in the units the
tables show, from ``configs/tolerances.yaml``), when it is missing from the run, when it is new
in the run (a codec, dataset or metric the baseline lacks; ``allow_new`` accepts those), when its
value is NaN, when its backend changed (numbers from another model are not comparable), when it
was computed on fewer utterances than the baseline, or when the run has more errors.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import pandas as pd
import yaml

from .csvfile import read_csv, write_csv
from .tables import SUMMARY_COLUMNS, load_rows, summarize

KEY = ["codec", "task", "dataset", "metric"]


@dataclass(frozen=True)
class Tolerances:
    default: float
    per_metric: dict[str, float]

    def of(self, metric: str) -> float:
        return self.per_metric.get(metric, self.default)


def load_tolerances(path: str | Path) -> Tolerances:
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"tolerance file {path} not found")
    data = yaml.safe_load(path.read_text()) or {}
    unknown = set(data) - {"default", "metrics"}
    if unknown:
        raise ValueError(f"{path}: unknown keys {sorted(unknown)} (allowed: default, metrics)")
    return Tolerances(float(data.get("default", 0.0)),
                      {str(k): float(v) for k, v in (data.get("metrics") or {}).items()})


def write_baseline(run_dir: str | Path, path: str | Path) -> pd.DataFrame:
    summary = summarize(load_rows([run_dir]))
    Path(path).parent.mkdir(parents=True, exist_ok=True)
    write_csv(summary, path, index=False, float_format="%.6g")
    return summary


def compare(run_dir: str | Path, baseline: str | Path, tolerances: Tolerances, allow_new: bool = False
            ) -> pd.DataFrame:
    """Per-metric comparison table with a ``status`` column (``ok`` or the failure reason)."""
    current = summarize(load_rows([run_dir]))
    base_path = Path(baseline)
    if not base_path.is_file():
        raise FileNotFoundError(f"baseline {base_path} not found; create it with --write")
    base = read_csv(base_path, dtype={"backend": str}, keep_default_na=False,
                       na_values={"value": ["", "nan", "NaN"]})
    missing_cols = set(SUMMARY_COLUMNS) - set(base.columns) - {"spread", "seeds"}  # older baselines lack these
    if missing_cols:
        raise ValueError(f"baseline {base_path} lacks columns {sorted(missing_cols)}")
    if base.empty:  # a gate with nothing to compare would pass anything (with --allow-new)
        raise ValueError(f"baseline {base_path} has no rows; write it from a run with --write")
    merged = base.merge(current, on=KEY, how="outer", suffixes=("_base", "_run"), indicator=True)
    rows = []
    for _, r in merged.iterrows():
        tol = tolerances.of(r["metric"])
        status = "ok"
        delta = float("nan")
        if r["_merge"] == "left_only":
            status = "missing in run"
        elif r["_merge"] == "right_only":
            status = "ok (new, allowed)" if allow_new else "new in run (not in the baseline; --allow-new accepts it)"
        else:
            delta = float(r["value_run"]) - float(r["value_base"])
            if str(r["backend_run"]) != str(r["backend_base"]):
                status = f"backend changed ({r['backend_base']} -> {r['backend_run']})"
            elif pd.isna(r["value_run"]):
                status = "NaN in run"
            elif pd.isna(r["value_base"]):
                status = "value appeared (NaN in the baseline)"
            elif abs(delta) > tol + 1e-12:
                status = "exceeds tolerance"
            elif int(r["n_run"]) < int(r["n_base"]):
                status = f"fewer utterances ({int(r['n_base'])} -> {int(r['n_run'])})"
            elif int(r["errors_run"]) > int(r["errors_base"]):
                status = f"more errors ({int(r['errors_base'])} -> {int(r['errors_run'])})"
        rows.append({**{k: r[k] for k in KEY}, "baseline": r["value_base"],
                     "run": r.get("value_run"), "delta": delta, "tolerance": tol, "status": status})
    return pd.DataFrame(rows)
