"""The paper's central claim as one line per baseline (``codecbench paper table2 --bd``): the token-rate
Bjøntegaard saving of a variable-rate family (the paper config's ``bd_family``) against each fixed-rate codec it is
claimed against (``bd_baselines``), ours (from the run, with its bootstrap interval) beside the same delta computed from
the published table (the published quality, and the token rate of the published Table 1: frame rate x codebooks).

Each baseline is one point: the family's curve is read at the baseline's quality, so a saving of -60 % means the
family reaches the baseline's quality with 60 % fewer tokens per second; a baseline whose quality lies outside the
family's range gets no number and the reason (nothing is extrapolated)."""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

import pandas as pd

from codecbench.results.bd import METHOD, Delta, Point, bd_delta

PAPER_BD_COLUMNS = ["task", "dataset", "metric", "baseline", "baseline_token_rate", "bd_rate", "bd_rate_low",
                    "bd_rate_high", "bound", "note", "paper_bd_rate", "paper_bound", "paper_note"]


def bd_claim(section: dict[str, Any], table: str) -> tuple[str, list[str]]:
    """The paper config's ``bd_family`` (the family whose saving is claimed) and ``bd_baselines`` (the fixed-rate
    codecs it is claimed against), checked where they enter."""
    family, baselines = section.get("bd_family"), section.get("bd_baselines")
    if not isinstance(family, str) or not family:
        raise ValueError(f"configs/paper/{table}.yaml: paper.bd_family must name a codec family (a non-empty string) "
                         f"for --bd, got {family!r}")
    if not isinstance(baselines, list) or not baselines or not all(isinstance(b, str) and b for b in baselines):
        raise ValueError(f"configs/paper/{table}.yaml: paper.bd_baselines must list the codecs the claim is made "
                         f"against (non-empty strings) for --bd, got {baselines!r}")
    return family, baselines


def published_token_rates(table1: Path) -> dict[str, float]:
    """``{registry name: tokens per second}`` of the published Table 1: frame rate x parallel codebooks (the
    number before ``x`` in ``2x1024``)."""
    data = pd.read_csv(table1, dtype=str, keep_default_na=False)
    rates = {}
    for line, row in enumerate(data.to_dict("records"), start=2):
        try:
            streams, frame_rate = int(row["codebooks"].split("x")[0]), float(row["frame_rate_hz"])
        except (KeyError, ValueError) as exc:
            raise ValueError(f"{table1}:{line}: codebooks {row.get('codebooks')!r} / frame_rate_hz "
                             f"{row.get('frame_rate_hz')!r}: expected '<streams>x<size>' and a number") from exc
        if row.get("registry_name") and math.isfinite(frame_rate) and frame_rate > 0:
            rates[row["registry_name"]] = frame_rate * streams
    return rates


#: (task, dataset, metric) -> codec -> (tokens per second, quality)
Cells = dict[tuple[str, str, str], dict[str, tuple[float, float]]]


def published_cells(published: pd.DataFrame, token_rates: dict[str, float]) -> Cells:
    """The published quality of each codec with a published token rate."""
    cells: Cells = {}
    for r in published.to_dict("records"):
        if r["codec"] in token_rates and math.isfinite(float(r["value"])):
            key = (str(r["task"]), str(r["dataset"]), str(r["metric"]))
            cells.setdefault(key, {})[str(r["codec"])] = (token_rates[r["codec"]], float(r["value"]))
    return cells


def summary_cells(summary: pd.DataFrame) -> Cells:
    """Our quality of each codec beside its measured token rate on the same (task, dataset) (a summary frame)."""
    rates = {(r["task"], r["dataset"], r["codec"]): float(r["value"])
             for r in summary[summary["metric"] == "token_rate"].to_dict("records")}
    cells: Cells = {}
    for r in summary[~summary["metric"].isin(["frame_rate", "bitrate", "token_rate"])].to_dict("records"):
        rate = rates.get((r["task"], r["dataset"], r["codec"]))
        if rate is not None and math.isfinite(rate) and math.isfinite(float(r["value"])):
            cells.setdefault((str(r["task"]), str(r["dataset"]), str(r["metric"])), {})[str(r["codec"])] = (
                rate, float(r["value"]))
    return cells


def _reading(points: dict[str, tuple[float, float]], members: list[str], baseline: str, higher: bool | None,
             method: str) -> tuple[Delta, float]:
    """The family's saving at the baseline's quality and, where that cannot be read but the family's lowest-rate
    point is already better than the baseline, the bound that point gives (the saving is at least that)."""
    test = [Point(c, *points[c]) for c in members if c in points]
    rate, quality = points[baseline]
    delta = bd_delta([Point(baseline, rate, quality)], test, method)
    bound = math.nan
    if not math.isfinite(delta.bd_rate) and test and higher is not None:
        lowest = min(test, key=lambda p: p.rate)
        if (lowest.quality > quality) if higher else (lowest.quality < quality):
            bound = (lowest.rate / rate - 1) * 100
    return delta, bound


def paper_bd(published: Cells, ours: Cells | None, intervals: pd.DataFrame | None, families: dict[str, str],
             family: str, baselines: list[str], higher: dict[str, bool | None],
             method: str = METHOD) -> pd.DataFrame:
    """One row per (task, dataset, metric, baseline) of :data:`PAPER_BD_COLUMNS`: our token-rate saving (from our
    summary; its interval from ``intervals``, a :func:`codecbench.results.bd.bd_table` frame) beside the published
    one. ``higher``: metric -> whether higher is better (for the bounds)."""
    spans: dict[tuple[str, str, str, str], dict] = {}
    if intervals is not None and len(intervals):
        picked = intervals[(intervals["rate_axis"] == "token_rate") & (intervals["test"] == family)]
        spans = {(r["task"], r["dataset"], r["metric"], r["anchor"]): r for r in picked.to_dict("records")}
    rows = []
    for key in sorted(set(published) | set(ours or {})):
        for baseline in baselines:
            sides = []
            for cells in (ours or {}, published):
                points = cells.get(key, {})
                members = [c for c in points if families.get(c) == family]
                sides.append(_reading(points, members, baseline, higher.get(key[2]), method)
                             if baseline in points else None)
            if sides == [None, None]:
                continue
            (mine, theirs), span = sides, spans.get((*key, baseline), {})
            rows.append({
                "task": key[0], "dataset": key[1], "metric": key[2], "baseline": baseline,
                "baseline_token_rate": (published.get(key, {}).get(baseline) or (math.nan,))[0],
                "bd_rate": mine[0].bd_rate if mine else math.nan,
                "bd_rate_low": span.get("bd_rate_low", math.nan), "bd_rate_high": span.get("bd_rate_high", math.nan),
                "bound": mine[1] if mine else math.nan, "note": mine[0].note if mine else "not run",
                "paper_bd_rate": theirs[0].bd_rate if theirs else math.nan,
                "paper_bound": theirs[1] if theirs else math.nan, "paper_note": theirs[0].note if theirs else ""})
    return pd.DataFrame(rows, columns=PAPER_BD_COLUMNS)


def markdown(frame: pd.DataFrame, family: str) -> str:
    """The frame as one Markdown table per (task, dataset): a line per baseline, a column per metric with ours
    [interval] beside the paper's."""
    if frame.empty:
        return f"No baseline can be read against the {family} family."

    def shown(value: float, bound: float, low: float = math.nan, high: float = math.nan) -> str:
        if math.isfinite(value):
            return f"{value:.0f}%" + (f" [{low:.0f}, {high:.0f}]" if math.isfinite(low) else "")
        return f"≤ {bound:.0f}%" if math.isfinite(bound) else "-"

    def cell(r: pd.Series) -> str:
        ours = shown(r["bd_rate"], r["bound"], r["bd_rate_low"], r["bd_rate_high"])
        return f"{ours} (paper {shown(r['paper_bd_rate'], r['paper_bound'])})"

    parts = []
    for (task, dataset), cell_rows in frame.groupby(["task", "dataset"], sort=True):
        view = cell_rows.assign(shown=cell_rows.apply(cell, axis=1)).pivot(
            index=["baseline", "baseline_token_rate"], columns="metric", values="shown").reset_index()
        view = view.rename(columns={"baseline_token_rate": "tokens/s"})
        parts.append(f"### {task} / {dataset}\n\n{view.to_markdown(index=False)}")
    return (f"## Token-rate saving of {family} at each baseline's quality (BD, {METHOD})\n\n" + "\n\n".join(parts)
            + "\n\nNegative = fewer tokens per second at the same quality. '≤ X%': the baseline's quality is worse "
              "than the family's lowest-rate point, so the saving is at least |X| % (a bound, not extrapolated); '-': "
              "the family does not reach the baseline's quality, or its curve is not monotonic (the reasons: "
              "bd_paper.csv, written after a run).\n")
