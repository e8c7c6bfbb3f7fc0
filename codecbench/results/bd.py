"""Bjøntegaard deltas between rate-quality curves: how much less rate a codec family needs at equal quality (BD-rate,
percent) and how much better it does at equal rate (BD-quality, in the metric's units), with bootstrap intervals on
the table's own draws.

A *family* is a codec's variants that differ only in rate (declared by the codec class in ``families``, or in a run
config's ``families: {name: [label, ...]}``); a codec in no family is a family of one point. Two rate axes:
``bitrate`` (kbps) and ``token_rate`` (tokens per second: frames x codebooks, the axis of DyCAST's claim). The
curves are interpolated by the ``bjontegaard`` package (``pchip``, the piecewise cubic of the JVET common test
conditions, by default; ``akima``; ``cubic``, VCEG-M33's polynomial), over the overlap of the two families' quality
ranges (BD-rate) or rate ranges (BD-quality), the overlap printed. A one-point family is compared with the other
family's curve where its quality (rate) falls inside the curve's range (a one-point anchor: the test curve read at
the anchor's quality, as the test family's saving); two one-point families, an empty overlap or a curve that is not
monotonic give no number and say why (nothing is extrapolated).

The intervals resample the same draws as the table's intervals (:func:`codecbench.results.intervals.draw_counts`:
utterances, or speakers then their utterances): per draw every codec's quality and rates are recomputed, and the
delta from them."""

from __future__ import annotations

import math
import warnings
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
import pandas as pd

from codecbench.api.metric import MetricOutput
from codecbench.results.intervals import (
    LEVEL,
    RESAMPLES,
    cell_arrays,
    draw_counts,
    resampled_statistics,
    speakers_of,
)

if TYPE_CHECKING:
    from codecbench.config.runconfig import RunConfig

METHODS = ("pchip", "akima", "cubic")
METHOD = "pchip"
#: rate axis -> the summary metric that measures it
RATE_AXES = {"bitrate": "bitrate", "token_rate": "token_rate"}
BD_COLUMNS = ["task", "dataset", "metric", "rate_axis", "anchor", "test", "bd_rate", "bd_rate_low", "bd_rate_high",
              "bd_quality", "bd_quality_low", "bd_quality_high", "quality_low", "quality_high", "method", "n_anchor",
              "n_test", "note"]


@dataclass(frozen=True)
class Point:
    """One codec's place on a rate-quality plane."""

    codec: str
    rate: float
    quality: float


@dataclass(frozen=True)
class Delta:
    """A BD comparison of two families: NaN where it cannot be computed, with the reason in ``note``."""

    bd_rate: float = math.nan
    bd_quality: float = math.nan
    quality_low: float = math.nan
    quality_high: float = math.nan
    note: str = ""


def _interpolate(x: np.ndarray, y: np.ndarray, method: str):  # noqa: ANN202 - the package's interpolator
    from bjontegaard.interpolation import interpolate

    return interpolate(x, y, method)


def _monotonic(points: list[Point]) -> bool:
    """Quality strictly monotonic in rate (a curve the interpolation can invert)."""
    quality = np.array([p.quality for p in sorted(points, key=lambda p: p.rate)])
    steps = np.diff(quality)
    return bool(len(steps) and (np.all(steps > 0) or np.all(steps < 0)))


def bd_delta(anchor: list[Point], test: list[Point], method: str = METHOD) -> Delta:
    """BD-rate (percent: negative = ``test`` needs less rate at equal quality) and BD-quality (``test`` minus
    ``anchor`` at equal rate) of two families, over the overlap of their ranges."""
    if method not in METHODS:
        raise ValueError(f"BD method must be one of {METHODS}, got {method!r}")
    anchor = sorted((p for p in anchor if np.isfinite([p.rate, p.quality]).all() and p.rate > 0), key=lambda p: p.rate)
    test = sorted((p for p in test if np.isfinite([p.rate, p.quality]).all() and p.rate > 0), key=lambda p: p.rate)
    if not anchor or not test:
        return Delta(note="a family has no finite point with a positive rate")
    if len(anchor) == 1 and len(test) == 1:
        return Delta(note="both families are one point each: no curve to compare with")
    if len(anchor) == 1:  # the test curve read at the anchor's point, as a saving of the test family
        reverse = bd_delta(test, anchor, method)
        return Delta((100 / (1 + reverse.bd_rate / 100) - 100), -reverse.bd_quality, reverse.quality_low,
                     reverse.quality_high, reverse.note.replace("the anchor's", "the test family's"))
    if method == "cubic" and (len(anchor) < 4 or 1 < len(test) < 4):
        return Delta(note="the cubic (VCEG-M33) fit needs four points per curve; pchip or akima take two")
    if len(set(p.rate for p in anchor)) < len(anchor):
        return Delta(note="the anchor's points share a rate on this axis: no curve")
    if not _monotonic(anchor):
        return Delta(note="the anchor's quality is not monotonic in rate: no curve")
    a_rate, a_quality = np.log10([p.rate for p in anchor]), np.array([p.quality for p in anchor])
    if len(test) == 1:
        return _point_delta(a_rate, a_quality, test[0], method)
    if len(set(p.rate for p in test)) < len(test):
        return Delta(note="the test family's points share a rate on this axis: no curve")
    if not _monotonic(test):
        return Delta(note="the test family's quality is not monotonic in rate: no curve")
    t_rate, t_quality = np.log10([p.rate for p in test]), np.array([p.quality for p in test])
    low, high = max(a_quality.min(), t_quality.min()), min(a_quality.max(), t_quality.max())
    if not high > low:
        return Delta(note=f"no overlap of the quality ranges ([{a_quality.min():.4g}, {a_quality.max():.4g}] and "
                          f"[{t_quality.min():.4g}, {t_quality.max():.4g}])")
    from bjontegaard import bd_psnr, bd_rate

    # The package interpolates along its first axis in the order given: the points go in ascending quality for
    # BD-rate (quality is the axis there; a lower-is-better metric falls as rate rises) and ascending rate for
    # BD-quality.
    a_by_quality, t_by_quality = np.argsort(a_quality), np.argsort(t_quality)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        rate = float(bd_rate(10 ** a_rate[a_by_quality], a_quality[a_by_quality], 10 ** t_rate[t_by_quality],
                             t_quality[t_by_quality], method, require_matching_points=False, min_overlap=0))
        rate_overlap = min(a_rate.max(), t_rate.max()) > max(a_rate.min(), t_rate.min())
        quality = float(bd_psnr(10 ** a_rate, a_quality, 10 ** t_rate, t_quality, method,
                                require_matching_points=False, min_overlap=0)) if rate_overlap else math.nan
    return Delta(rate, quality, float(low), float(high), "" if rate_overlap else "no overlap of the rate ranges")


def _point_delta(a_rate: np.ndarray, a_quality: np.ndarray, point: Point, method: str) -> Delta:
    """A one-point test family against an anchor curve, where the point falls inside the curve's ranges."""
    order = np.argsort(a_quality)
    inside_quality = a_quality.min() <= point.quality <= a_quality.max()
    inside_rate = a_rate.min() <= math.log10(point.rate) <= a_rate.max()
    rate = quality = math.nan
    if inside_quality:  # the anchor's log-rate at the point's quality
        log_rate = float(_interpolate(a_quality[order], a_rate[order], method)(point.quality))
        rate = (point.rate / 10 ** log_rate - 1) * 100
    if inside_rate:
        quality = point.quality - float(_interpolate(a_rate, a_quality, method)(math.log10(point.rate)))
    notes = [] if inside_quality else [f"quality {point.quality:.4g} outside the anchor's range "
                                       f"[{a_quality.min():.4g}, {a_quality.max():.4g}]"]
    notes += [] if inside_rate else [f"rate {point.rate:.4g} outside the anchor's range "
                                     f"[{10 ** a_rate.min():.4g}, {10 ** a_rate.max():.4g}]"]
    return Delta(rate, quality, point.quality, point.quality, "; ".join(notes))


def registered_family(name: str) -> str | None:
    """The family a registered codec variant's class declares for it (``Codec.families``), or None."""
    from codecbench.plugins.registry import CODECS, discover

    discover()
    if name not in CODECS:
        return None
    families = getattr(CODECS.get(name).cls, "families", None)
    family = families.get(name) if isinstance(families, dict) else None  # a bad declaration: check-codec says so
    return family if isinstance(family, str) and family else None


def config_families(config: RunConfig) -> dict[str, str]:
    """``{codec label: family}`` of one run config's codecs: what each codec class declares for its registered
    variant (used as registered: no params changed), overridden by the config's own ``families``."""
    out: dict[str, str] = {}
    for spec in config.codecs:
        family = registered_family(spec.name) if spec.instance is None and not spec.params else None
        if family:
            out[spec.label] = family
    out.update({label: family for family, labels in config.families.items() for label in labels})
    return out


def declared_families(run_dirs: Iterable[Path]) -> dict[str, str]:
    """:func:`config_families` of the runs' saved configs (a folder without one adds nothing)."""
    from codecbench.config.runconfig import load_saved

    out: dict[str, str] = {}
    for run_dir in run_dirs:
        try:
            config = load_saved(run_dir)
        except (OSError, ValueError):
            continue
        if config is not None:
            out.update(config_families(config))
    return out


def available() -> bool:
    """Whether the ``bjontegaard`` package is installed (``pip install 'codecbench[report]'``)."""
    import importlib.util

    return importlib.util.find_spec("bjontegaard") is not None


def _bounds(values: list[float]) -> tuple[float, float]:
    finite = np.asarray([v for v in values if np.isfinite(v)])
    if len(finite) < 2:
        return math.nan, math.nan
    low, high = np.percentile(finite, [100 * (1 - LEVEL) / 2, 100 * (1 + LEVEL) / 2])
    return float(low), float(high)


def bd_table(summary: pd.DataFrame, df: pd.DataFrame, families: dict[str, str], specs: dict[str, MetricOutput],
             method: str = METHOD, resamples: int = RESAMPLES, exclude: Iterable[str] = ()) -> pd.DataFrame:
    """One row per (task, dataset, quality metric, rate axis, anchor family, test family) with a curve or point
    each (:data:`BD_COLUMNS`): the deltas from the summary's values, their bootstrap intervals from the table's
    draws. ``exclude``: codecs left out (identity codecs: the reference is no rate point)."""
    excluded = set(exclude)
    rows: list[dict] = []
    valid = df.loc[df["error"].isna() & df["value"].notna(),
                   ["codec", "task", "dataset", "metric", "utt_id", "value", "num", "den"]]
    speakers = speakers_of(df)
    quality_metrics = sorted(m for m in set(summary["metric"]) if m in specs and specs[m].higher_is_better is not None
                             and specs[m].per_dataset)
    for (task, dataset), cell in summary.groupby(["task", "dataset"], sort=True):
        values = {(c, m): float(v) for c, m, v in zip(cell["codec"], cell["metric"], cell["value"], strict=True)}
        codecs = sorted(c for c in set(cell["codec"]) if c not in excluded)
        part = valid[(valid["task"] == task) & (valid["dataset"] == dataset)]
        draws = _draws(task, dataset, part, speakers, specs, resamples) if len(part) else {}
        for metric in quality_metrics:
            for axis, rate_metric in RATE_AXES.items():
                members: dict[str, list[str]] = {}
                for codec in codecs:
                    if (codec, metric) in values and (codec, rate_metric) in values:
                        members.setdefault(families.get(codec, codec), []).append(codec)
                for anchor, a_codecs in sorted(members.items()):
                    for test, t_codecs in sorted(members.items()):
                        if anchor != test:
                            rows.append(_row(task, dataset, metric, axis, (anchor, a_codecs), (test, t_codecs),
                                             values, draws, method, resamples))
    return pd.DataFrame(rows, columns=BD_COLUMNS)


def _points(codecs: list[str], rate_metric: str, metric: str, value: Callable[[str, str], float]) -> list[Point]:
    return [Point(c, value(c, rate_metric), value(c, metric)) for c in codecs]


def _row(task: str, dataset: str, metric: str, axis: str, anchor: tuple[str, list[str]], test: tuple[str, list[str]],
         values: dict[tuple[str, str], float], draws: dict[tuple[str, str], np.ndarray], method: str,
         resamples: int) -> dict:
    """One row of :data:`BD_COLUMNS`: the delta from the summary's values, its interval from the draws."""
    rate_metric = RATE_AXES[axis]
    (a_name, a_codecs), (t_name, t_codecs) = anchor, test

    def summary_value(codec: str, name: str) -> float:
        return values[(codec, name)]

    delta = bd_delta(_points(a_codecs, rate_metric, metric, summary_value),
                     _points(t_codecs, rate_metric, metric, summary_value), method)
    rates, qualities = [], []
    if draws and (np.isfinite(delta.bd_rate) or np.isfinite(delta.bd_quality)):
        for r in range(resamples):
            def drawn(codec: str, name: str, r: int = r) -> float:
                return _drawn(draws, codec, name, r)

            again = bd_delta(_points(a_codecs, rate_metric, metric, drawn),
                             _points(t_codecs, rate_metric, metric, drawn), method)
            rates.append(again.bd_rate)
            qualities.append(again.bd_quality)
    (rate_low, rate_high), (q_low, q_high) = _bounds(rates), _bounds(qualities)
    return {"task": task, "dataset": dataset, "metric": metric, "rate_axis": axis, "anchor": a_name,
            "test": t_name, "bd_rate": delta.bd_rate,
            "bd_rate_low": rate_low if np.isfinite(delta.bd_rate) else math.nan,
            "bd_rate_high": rate_high if np.isfinite(delta.bd_rate) else math.nan,
            "bd_quality": delta.bd_quality,
            "bd_quality_low": q_low if np.isfinite(delta.bd_quality) else math.nan,
            "bd_quality_high": q_high if np.isfinite(delta.bd_quality) else math.nan,
            "quality_low": delta.quality_low, "quality_high": delta.quality_high, "method": method,
            "n_anchor": len(a_codecs), "n_test": len(t_codecs), "note": delta.note}


def _drawn(draws: dict[tuple[str, str], np.ndarray], codec: str, metric: str, r: int) -> float:
    found = draws.get((codec, metric))
    return float(found[r]) if found is not None else math.nan


def _draws(task: str, dataset: str, part: pd.DataFrame, speakers: dict[str, str], specs: dict[str, MetricOutput],
           resamples: int) -> dict[tuple[str, str], np.ndarray]:
    """``{(codec, metric): [resamples] statistics}`` on the dataset's bootstrap draws (the table's own)."""
    utts = pd.Index(sorted(set(part["utt_id"])))
    counts, _ = draw_counts(task, dataset, utts, speakers, resamples)
    out = {}
    for (codec, metric), group in part.groupby(["codec", "metric"], sort=True):
        spec = specs.get(str(metric))
        num, den = np.zeros((len(utts), 1)), np.zeros((len(utts), 1))
        at = utts.get_indexer(group["utt_id"])
        num[at, 0], den[at, 0] = cell_arrays(group, spec)
        out[(str(codec), str(metric))] = resampled_statistics(counts, num, den,
                                                               np.array([spec.scale if spec else 1.0]))[:, 0]
    return out


def write_bd(table: pd.DataFrame, target: Path) -> str:
    """``bd.csv`` (full precision) and ``bd.md`` / ``bd.tex`` (the rows with a number); returns the Markdown."""
    from codecbench.util.csvfile import write_csv
    from codecbench.util.outdir import atomic_write_text

    write_csv(table, target / "bd.csv", index=False, float_format="%.17g")
    shown = table[table["bd_rate"].notna() | table["bd_quality"].notna()].copy()

    def interval(v: float, low: float, high: float, digits: int) -> str:
        if not np.isfinite(v):
            return "-"
        return f"{v:.{digits}f} [{low:.{digits}f}, {high:.{digits}f}]" if np.isfinite(low) else f"{v:.{digits}f}"

    shown["BD-rate % [95% CI]"] = [interval(v, lo, hi, 1) for v, lo, hi in
                                   zip(shown["bd_rate"], shown["bd_rate_low"], shown["bd_rate_high"], strict=True)]
    shown["BD-quality [95% CI]"] = [interval(v, lo, hi, 3) for v, lo, hi in
                                    zip(shown["bd_quality"], shown["bd_quality_low"], shown["bd_quality_high"],
                                        strict=True)]
    view = shown[["task", "dataset", "metric", "rate_axis", "anchor", "test", "BD-rate % [95% CI]",
                  "BD-quality [95% CI]", "n_anchor", "n_test"]]
    note = (f"\n\nBjøntegaard deltas ({table['method'].iloc[0] if len(table) else METHOD} interpolation, bjontegaard "
            "package): BD-rate < 0 = the test family needs less rate than the anchor at equal quality; BD-quality = "
            "test minus anchor at equal rate. Rows without a number are in bd.csv with the reason.\n")
    markdown = (view.to_markdown(index=False) if not view.empty else "No two families overlap.") + note
    atomic_write_text(target / "bd.md", "## Bjøntegaard deltas\n\n" + markdown)
    atomic_write_text(target / "bd.tex", view.to_latex(index=False, escape=True) if not view.empty else "")
    return markdown
