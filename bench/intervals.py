"""Bootstrap confidence intervals over utterances and a paired bootstrap test against the best codec.

Every cell of a table is a statistic over utterances: a mean (UTMOS, Sim, error rates) or a corpus-level
ratio (dWER = sum of errors / sum of reference words, rates). The interval resamples utterances with
replacement (``B`` resamples, seeded per cell: the same rows always give the same interval) and recomputes
the same statistic, so a ratio is resampled as a ratio. The paired test resamples the utterances two codecs
share and reports the two-sided bootstrap p-value of their difference (0 not inside the resampled
differences -> small p).
"""

from __future__ import annotations

import hashlib

import numpy as np
import pandas as pd

from .metric import MetricOutput

RESAMPLES = 1000
LEVEL = 0.95


def _rng(*key: str) -> np.random.Generator:
    return np.random.default_rng(int(hashlib.sha256("\0".join(key).encode()).hexdigest()[:16], 16))


def _statistic(num: np.ndarray, den: np.ndarray | None, index: np.ndarray, scale: float) -> np.ndarray:
    """The statistic of each resample (rows of ``index``)."""
    if den is None:
        return scale * num[index].mean(axis=1)
    total = den[index].sum(axis=1)
    return np.where(total > 0, scale * num[index].sum(axis=1) / np.where(total > 0, total, 1), np.nan)


def _arrays(group: pd.DataFrame, spec: MetricOutput | None) -> tuple[np.ndarray, np.ndarray | None]:
    if spec is not None and spec.aggregation == "ratio":
        return group["num"].astype(float).to_numpy(), group["den"].astype(float).to_numpy()
    return group["value"].astype(float).to_numpy(), None


def interval(group: pd.DataFrame, spec: MetricOutput | None, key: tuple[str, ...],
             resamples: int = RESAMPLES) -> tuple[float, float]:
    """The 95% percentile bootstrap interval of a cell's statistic (NaN for fewer than 2 utterances)."""
    if len(group) < 2:
        return float("nan"), float("nan")
    num, den = _arrays(group, spec)
    index = _rng(*key).integers(0, len(group), size=(resamples, len(group)))
    stats = _statistic(num, den, index, spec.scale if spec else 1.0)
    low, high = np.nanpercentile(stats, [100 * (1 - LEVEL) / 2, 100 * (1 + LEVEL) / 2])
    return float(low), float(high)


def paired_p(a: pd.DataFrame, b: pd.DataFrame, spec: MetricOutput | None, key: tuple[str, ...],
             resamples: int = RESAMPLES) -> float:
    """Two-sided paired bootstrap p-value of ``stat(a) - stat(b)`` over the utterances both have."""
    common = sorted(set(a["utt_id"]) & set(b["utt_id"]))
    if len(common) < 2:
        return float("nan")
    a, b = a.set_index("utt_id").loc[common], b.set_index("utt_id").loc[common]
    (num_a, den_a), (num_b, den_b) = _arrays(a, spec), _arrays(b, spec)
    index = _rng(*key).integers(0, len(common), size=(resamples, len(common)))
    scale = spec.scale if spec else 1.0
    diff = _statistic(num_a, den_a, index, scale) - _statistic(num_b, den_b, index, scale)
    diff = diff[np.isfinite(diff)]
    if not len(diff):
        return float("nan")
    return float(min(1.0, 2 * min((diff <= 0).mean(), (diff >= 0).mean())))


def add_intervals(summary: pd.DataFrame, df: pd.DataFrame, specs: dict[str, MetricOutput],
                  unranked: set[str] | frozenset[str] = frozenset()) -> pd.DataFrame:
    """``summary`` with ``ci_low`` / ``ci_high`` per cell, and per ranked metric the ``best`` codec of its
    (task, dataset) and each codec's paired ``p_vs_best`` (identity codecs are not ranked)."""
    valid = df[df["error"].isna() & df["value"].notna()]
    groups = {k: g for k, g in valid.groupby(["codec", "task", "dataset", "metric"])}
    out = summary.copy()
    lows, highs, bests, pvalues = [], [], [], []
    best_of: dict[tuple[str, str, str], str | None] = {}
    for (task, dataset, metric), part in summary.groupby(["task", "dataset", "metric"]):
        spec = specs.get(metric)
        ranked = part[~part["codec"].isin(unranked) & part["value"].notna()]
        if spec is None or spec.higher_is_better is None or ranked.empty:
            best_of[(task, dataset, metric)] = None
            continue
        pick = ranked["value"].idxmax() if spec.higher_is_better else ranked["value"].idxmin()
        best_of[(task, dataset, metric)] = str(summary.loc[pick, "codec"])
    for _, row in summary.iterrows():
        key = (row["codec"], row["task"], row["dataset"], row["metric"])
        group = groups.get(key)
        spec = specs.get(row["metric"])
        low, high = interval(group, spec, key) if group is not None else (float("nan"), float("nan"))
        best = best_of.get((row["task"], row["dataset"], row["metric"]))
        p = float("nan")
        if best is not None and group is not None and row["codec"] not in unranked:
            other = groups.get((best, row["task"], row["dataset"], row["metric"]))
            p = 1.0 if row["codec"] == best else (paired_p(group, other, spec, key + (best,))
                                                   if other is not None else float("nan"))
        lows.append(low)
        highs.append(high)
        bests.append(best or "")
        pvalues.append(p)
    out["ci_low"], out["ci_high"], out["best"], out["p_vs_best"] = lows, highs, bests, pvalues
    return out
