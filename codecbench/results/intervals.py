"""Bootstrap confidence intervals over utterances (two-stage over speakers, then their utterances, where the
dataset names speakers) and a paired bootstrap test against the best codec, Holm-adjusted within each column.

Every cell of a table is a statistic over utterances: a mean (UTMOS, Sim, error rates) or a corpus-level
ratio (dWER = sum of errors / sum of reference words, rates). The interval resamples utterances with
replacement (``B`` resamples) and recomputes the same statistic, so a ratio is resampled as a ratio. The
resamples are drawn once per (task, dataset) over the utterances of all its cells, seeded by those: every
codec and metric of a dataset is resampled on the same draws (a cell without a row for some utterance gives it
weight 0, so it is resampled on the draws of the utterances it has), the same rows always give the same
interval, and all cells are computed at once as matrix products of the draw counts. The paired
test resamples the utterances two codecs share and reports the two-sided bootstrap p-value of their
difference (0 not inside the resampled differences -> small p).

Utterances of one speaker are not independent: where every utterance of a (task, dataset) names its speaker and
there are at least two, each resample draws the speakers with replacement and then, within each drawn speaker,
that many of its utterances with replacement (a two-stage cluster bootstrap); ``interval_method`` names which
bootstrap made a cell's interval and p-value. Within a column (task, dataset, metric) the p-values of the codecs
against the best are adjusted for their number (Holm): ``p_vs_best_holm``.
"""

from __future__ import annotations

import hashlib
import warnings

import numpy as np
import pandas as pd

from codecbench.api.metric import MetricOutput

RESAMPLES = 1000
LEVEL = 0.95
ALPHA = 0.05  # a difference to the best is significant when its Holm-adjusted p-value is below this
UTTERANCE_BOOTSTRAP = "utterance bootstrap"
CLUSTER_BOOTSTRAP = "cluster bootstrap (speakers, then their utterances)"


def _rng(*key: str) -> np.random.Generator:
    return np.random.default_rng(int(hashlib.sha256("\0".join(key).encode()).hexdigest()[:16], 16))


def _counts(rng: np.random.Generator, n: int, resamples: int) -> np.ndarray:
    """``[resamples, n]``: how often each utterance is drawn in each resample (n draws with replacement)."""
    index = rng.integers(0, n, size=(resamples, n))
    flat = (index + (np.arange(resamples) * n)[:, None]).ravel()
    return np.bincount(flat, minlength=resamples * n).reshape(resamples, n).astype(np.float64)


def _cluster_counts(rng: np.random.Generator, groups: list[np.ndarray], n: int, resamples: int) -> np.ndarray:
    """``[resamples, n]`` draw counts of a two-stage bootstrap: the groups (speakers, as arrays of utterance
    positions) drawn with replacement, then each drawn group's utterances drawn with replacement within it."""
    counts = np.zeros((resamples, n))
    for r in range(resamples):
        for g in rng.integers(0, len(groups), size=len(groups)):
            members = groups[g]
            np.add.at(counts[r], members[rng.integers(0, len(members), size=len(members))], 1.0)
    return counts


def draw_counts(task: str, dataset: str, utts: pd.Index, speakers: dict[str, str],
                resamples: int = RESAMPLES) -> tuple[np.ndarray, str]:
    """The bootstrap draws of a (task, dataset) over its items ``utts`` (sorted), seeded by them, and the method:
    two-stage over speakers where every item names one and there are at least two, else over utterances. Every
    interval, p-value and BD delta of the dataset uses these same draws."""
    seed = hashlib.sha256("\0".join(utts).encode()).hexdigest()
    by_speaker: dict[str, list[int]] = {}
    for i, utt in enumerate(utts):
        by_speaker.setdefault(speakers.get(utt, ""), []).append(i)
    if "" not in by_speaker and len(by_speaker) >= 2:
        groups = [np.asarray(by_speaker[s]) for s in sorted(by_speaker)]
        return _cluster_counts(_rng(task, dataset, seed, "speakers"), groups, len(utts), resamples), CLUSTER_BOOTSTRAP
    return _counts(_rng(task, dataset, seed), len(utts), resamples), UTTERANCE_BOOTSTRAP


def speakers_of(df: pd.DataFrame) -> dict[str, str]:
    """``{item id: speaker}`` of rows that name one (their source utterance's speaker)."""
    if "speaker" not in df:
        return {}
    named = df.loc[df["speaker"].notna() & (df["speaker"].astype(str) != ""), ["utt_id", "speaker"]]
    return dict(zip(named["utt_id"].astype(str), named["speaker"].astype(str), strict=True))


def holm(pvalues: np.ndarray) -> np.ndarray:
    """Holm's step-down adjustment of a family of p-values (NaN stays NaN, outside the family)."""
    out = np.full(len(pvalues), np.nan)
    finite = np.flatnonzero(np.isfinite(pvalues))
    order = finite[np.argsort(pvalues[finite], kind="stable")]
    m, running = len(order), 0.0
    for rank, i in enumerate(order):
        running = max(running, min(1.0, (m - rank) * float(pvalues[i])))
        out[i] = running
    return out


def add_intervals(summary: pd.DataFrame, df: pd.DataFrame, specs: dict[str, MetricOutput],
                  unranked: set[str] | frozenset[str] = frozenset(), resamples: int = RESAMPLES) -> pd.DataFrame:
    """``summary`` with ``ci_low`` / ``ci_high`` per cell, and per ranked metric the ``best`` codec of its
    (task, dataset) and each codec's paired ``p_vs_best`` (identity and random-weight codecs are not ranked).

    Vectorised over cells: per (task, dataset) the utterances of all its cells are resampled once; every cell
    is the matrix product of those counts with its numerators and denominators (zero where it has no row)."""
    columns = ["codec", "task", "dataset", "metric", "utt_id", "value", "num", "den"]
    valid = df.loc[df["error"].isna() & df["value"].notna(), columns]
    speakers = speakers_of(df)
    out = summary.copy()
    best_of: dict[tuple[str, str, str], str | None] = {}
    for (task, dataset, metric), part in summary.groupby(["task", "dataset", "metric"]):
        spec = specs.get(metric)
        ranked = part[~part["codec"].isin(unranked) & part["value"].notna()]
        if spec is None or spec.higher_is_better is None or ranked.empty:
            best_of[(task, dataset, metric)] = None
            continue
        pick = ranked["value"].idxmax() if spec.higher_is_better else ranked["value"].idxmin()
        best_of[(task, dataset, metric)] = str(summary.loc[pick, "codec"])
    keys = list(zip(summary["codec"], summary["task"], summary["dataset"], summary["metric"], strict=True))
    row_of = {key: i for i, key in enumerate(keys)}
    lows, highs, pvalues = (np.full(len(keys), np.nan) for _ in range(3))
    methods = np.full(len(keys), "", dtype=object)
    for (task, dataset), rows in valid.groupby(["task", "dataset"], sort=True):
        utts = pd.Index(sorted(set(rows["utt_id"])))
        counts, method = draw_counts(task, dataset, utts, speakers, resamples)
        cells = sorted(rows.groupby(["codec", "metric"], sort=True).indices)
        num, den = np.zeros((len(utts), len(cells))), np.zeros((len(utts), len(cells)))
        present = np.zeros((len(utts), len(cells)), dtype=bool)  # the cell has a valid row for the utterance
        scale = np.ones(len(cells))
        for j, ((_, metric), part) in enumerate(rows.groupby(["codec", "metric"], sort=True)):
            spec = specs.get(metric)
            at = utts.get_indexer(part["utt_id"])
            num[at, j], den[at, j] = cell_arrays(part, spec)
            present[at, j] = True
            scale[j] = spec.scale if spec else 1.0
        stats = resampled_statistics(counts, num, den, scale)
        enough = present.sum(axis=0) >= 2
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", RuntimeWarning)  # a cell whose resamples are all NaN
            bounds = np.nanpercentile(stats, [100 * (1 - LEVEL) / 2, 100 * (1 + LEVEL) / 2], axis=0)
        column = {cell: j for j, cell in enumerate(cells)}
        pairs: list[tuple[int, int, int]] = []  # (summary row, cell, best cell)
        for j, (codec, metric) in enumerate(cells):
            i = row_of.get((codec, task, dataset, metric))
            if i is None:
                continue
            methods[i] = method
            if enough[j]:
                lows[i], highs[i] = bounds[0, j], bounds[1, j]
            best = best_of.get((task, dataset, metric))
            if best is None or codec in unranked:
                continue
            if codec == best:
                pvalues[i] = 1.0
            elif (best, metric) in column:
                pairs.append((i, j, column[(best, metric)]))
        if pairs:
            mine, theirs = [j for _, j, _ in pairs], [b for _, _, b in pairs]
            both = present[:, mine] & present[:, theirs]  # the utterances each pair shares
            diff = (resampled_statistics(counts, num[:, mine] * both, den[:, mine] * both, scale[mine])
                    - resampled_statistics(counts, num[:, theirs] * both, den[:, theirs] * both, scale[theirs]))
            for k, (i, _, _) in enumerate(pairs):
                finite = diff[:, k][np.isfinite(diff[:, k])]
                if both[:, k].sum() >= 2 and len(finite):
                    pvalues[i] = float(min(1.0, 2 * min((finite <= 0).mean(), (finite >= 0).mean())))
    adjusted = np.full(len(keys), np.nan)
    for key, best in best_of.items():  # Holm within each column, over the codecs tested against its best
        if best is None:
            continue
        family = [row_of[k] for k in keys if k[1:] == key and k[0] != best and k in row_of]
        adjusted[family] = holm(pvalues[family])
        own = (best,) + key
        if own in row_of:
            adjusted[row_of[own]] = 1.0
    out["ci_low"], out["ci_high"], out["p_vs_best"] = lows, highs, pvalues
    out["best"] = [best_of.get(key[1:]) or "" for key in keys]
    out["p_vs_best_holm"], out["interval_method"] = adjusted, methods
    return out[[*summary.columns, "ci_low", "ci_high", "best", "p_vs_best", "p_vs_best_holm", "interval_method"]]


def resampled_statistics(counts: np.ndarray, num: np.ndarray, den: np.ndarray, scale: np.ndarray) -> np.ndarray:
    """``[resamples, cells]``: ``scale * (counts @ num) / (counts @ den)`` (NaN where a resample drew none of
    a cell's utterances)."""
    top, bottom = counts @ num, counts @ den
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(bottom > 0, scale * top / np.where(bottom > 0, bottom, 1), np.nan)


def cell_arrays(group: pd.DataFrame, spec: MetricOutput | None) -> tuple[np.ndarray, np.ndarray]:
    """A cell's numerators and denominators: ``(num, den)`` of a ratio, ``(value, 1)`` of a mean."""
    if spec is not None and spec.aggregation == "ratio":
        return group["num"].astype(float).to_numpy(), group["den"].astype(float).to_numpy()
    value = group["value"].astype(float).to_numpy()
    return value, np.ones(len(value))
