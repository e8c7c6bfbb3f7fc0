"""Aggregate result rows with pandas and render paper-style tables (CSV, Markdown, LaTeX)."""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd

from codecbench.api.metric import MetricOutput
from codecbench.api.rows import ERROR_METRIC, KEY_FIELDS
from codecbench.config.runconfig import CodecSpec, load_saved
from codecbench.engine.rowframe import current_frame, with_derived
from codecbench.results.cards import card_line
from codecbench.results.columns import ERRORS, Column, Columns, output_specs, table_columns, titled
from codecbench.results.intervals import ALPHA, add_intervals
from codecbench.results.outputs import dataset_roots, run_inputs
from codecbench.util.csvfile import numeric_column, read_table, write_csv
from codecbench.util.names import file_name
from codecbench.util.outdir import OutputDir, atomic_write_text

log = logging.getLogger(__name__)

SUMMARY_COLUMNS = ["codec", "task", "dataset", "metric", "value", "spread", "seeds", "n", "errors", "backend",
                   "random_weights"]


def load_rows(run_dirs: list[str | Path], extra: str = "dict") -> pd.DataFrame:
    """Current rows of one or more run directories (several environments can feed one table), in one canonical
    order, duplicates dropped. Read column-wise (:mod:`codecbench.engine.rowframe`): string fields as object columns
    that
    share one string per distinct value, ``extra`` as dicts (``extra="dict"``), JSON texts (``"raw"``) or not at
    all (``"none"``); the ``extra`` fields tables and gates use are columns of their own (``seed``,
    ``random_weights``, ``identity``, ``kind``, ``hyp``, ``audio``, ``model``, ``weights_id``)."""
    frames = []
    for run_dir in run_dirs:
        path = Path(run_dir) / "rows.jsonl"
        if not path.is_file():
            raise FileNotFoundError(f"{run_dir} has no rows.jsonl (is it a run directory?)")
        frames.append(current_frame(run_dir, extra=extra))
    df = _concat_categorical(frames)
    if df.empty:
        raise ValueError(f"no rows in {', '.join(map(str, run_dirs))}")
    df = df.drop_duplicates(subset=list(KEY_FIELDS), keep="first")
    # one canonical order: aggregates, intervals and tables never depend on the order rows were written
    # in (an inline run and the same rows merged from shards give byte-identical summaries); categories are
    # sorted, so sorting their codes is sorting the strings
    df = df.sort_values(list(KEY_FIELDS), kind="stable").reset_index(drop=True)
    for name in df.columns:
        if isinstance(df[name].dtype, pd.CategoricalDtype):
            df[name] = df[name].astype(object).where(df[name].notna(), None)
    return df


def _concat_categorical(frames: list[pd.DataFrame]) -> pd.DataFrame:
    """Frames of categorical columns concatenated with their categories merged (still sorted)."""
    if len(frames) == 1:
        return frames[0]
    from pandas.api.types import union_categoricals

    merged = {}
    for name in frames[0].columns:
        if isinstance(frames[0][name].dtype, pd.CategoricalDtype):
            merged[name] = union_categoricals([f[name] for f in frames], sort_categories=True)
        else:
            merged[name] = pd.concat([f[name] for f in frames], ignore_index=True)
    return pd.DataFrame(merged)


def _aggregate(value: np.ndarray, num: np.ndarray, den: np.ndarray, spec: MetricOutput | None) -> float:
    """A cell's statistic over its valid rows' arrays: the mean of ``value`` or ``scale * sum(num) / sum(den)``
    (missing numbers count as 0, as pandas' sums; the same additions in the same order as before)."""
    if not len(value):
        return float("nan")
    if spec is not None and spec.aggregation == "ratio":
        total = np.where(np.isnan(den), 0.0, den).sum()
        return float(spec.scale * np.where(np.isnan(num), 0.0, num).sum() / total) if total else float("nan")
    return float(value.sum() / float(len(value)) * (spec.scale if spec else 1.0))


def _aggregate_group(group: pd.DataFrame, spec: MetricOutput | None) -> float:
    valid = group[group["error"].isna() & group["value"].notna()]
    value, num, den = (valid[c].astype(float).to_numpy() for c in ("value", "num", "den"))
    return _aggregate(value, num, den, spec)


def flagged_codecs(df: pd.DataFrame, flag: str) -> set[str]:
    """Codec labels whose rows carry ``extra[flag]`` (``random_weights``, ``identity``: columns of their own)."""
    df = with_derived(df)
    return set(df.loc[df[flag].astype(bool), "codec"])


def unranked_codecs(df: pd.DataFrame) -> set[str]:
    """Codecs never ranked best (nor tested against the best): identity codecs and random-weight rows."""
    return flagged_codecs(df, "identity") | flagged_codecs(df, "random_weights")


def summarize(df: pd.DataFrame) -> pd.DataFrame:
    """One row per (codec, task, dataset, metric): value, utterances used, errors, backend. Column arrays and
    one index per cell, no frame per cell (:func:`_aggregate` per cell)."""
    df = with_derived(df)
    specs = output_specs()
    utt_errors = df[df["metric"] == ERROR_METRIC].groupby(["codec", "task", "dataset"]).size()
    random_codecs = flagged_codecs(df, "random_weights")
    out: list[dict] = []
    metrics = df[df["metric"] != ERROR_METRIC]
    if metrics.empty:
        return pd.DataFrame(out, columns=SUMMARY_COLUMNS)
    value, num, den = (metrics[c].astype(float).to_numpy() for c in ("value", "num", "den"))
    seeds = metrics["seed"].astype(float).to_numpy()
    failed = metrics["error"].notna().to_numpy()
    valid = ~failed & ~np.isnan(value)
    backend_codes, backend_names = pd.factorize(metrics["backend"])
    cells = metrics.groupby(["codec", "task", "dataset", "metric"], sort=True).indices
    for key in sorted(cells):
        codec, task, dataset, metric = key
        rows = cells[key]
        names = {str(backend_names[c]) for c in np.unique(backend_codes[rows]) if c >= 0}
        backends = sorted(names - {""})
        if len(backends) > 1:
            log.warning("%s/%s/%s/%s mixes metric backends %s", codec, task, dataset, metric, backends)
        spec = specs.get(metric)
        used = rows[valid[rows]]
        distinct = sorted(set(seeds[rows][~np.isnan(seeds[rows])].tolist()))
        spread, n_seeds = float("nan"), 1
        if len(distinct) < 2:
            result = _aggregate(value[used], num[used], den[used], spec)
        else:
            n_seeds = len(distinct)
            per_seed = pd.Series([_aggregate(value[part], num[part], den[part], spec)
                                  for s in distinct for part in [used[seeds[used] == s]]]).dropna()
            result = float(per_seed.mean()) if not per_seed.empty else float("nan")
            spread = float(per_seed.std(ddof=1)) if len(per_seed) > 1 else float("nan")
        out.append({
            "codec": codec, "task": task, "dataset": dataset, "metric": metric,
            "value": result, "spread": spread, "seeds": n_seeds, "n": len(used),
            "errors": int(failed[rows].sum() + utt_errors.get((codec, task, dataset), 0)),
            "backend": " + ".join(backends), "random_weights": codec in random_codecs,
        })
    return pd.DataFrame(out, columns=SUMMARY_COLUMNS)


def _overall(df: pd.DataFrame, task: str, outputs: list[MetricOutput]) -> tuple[pd.DataFrame, Columns]:
    """Columns aggregated over every dataset of the task (measured rates)."""
    rows = df[(df["task"] == task) & df["metric"].isin([c.name for c in outputs])]
    table: dict[str, dict[str, float]] = {}
    for (codec, metric), group in rows.groupby(["codec", "metric"]):
        spec = next(c for c in outputs if c.name == metric)
        table.setdefault(codec, {})[Column(spec).title] = _aggregate_group(group, spec)
    wide = pd.DataFrame.from_dict(table, orient="index")
    columns = titled([c for c in (Column(spec) for spec in outputs) if c.title in wide.columns])
    return wide[list(columns)], columns


def paper_table(df: pd.DataFrame, summary: pd.DataFrame, task: str, order: list[str] | None = None,
                dataset_order: list[str] | None = None) -> tuple[pd.DataFrame, Columns]:
    """Wide table: codec rows; Frame Rate, Bitrate, then per dataset UTMOS/DNSMOS, dWER, Sim.

    Returns the table (numbers, headed by :attr:`Column.title`) and its :class:`Column` by title.
    """
    sub = summary[summary["task"] == task]
    wide, columns = _overall(df, task, table_columns(per_dataset=False))
    present = set(sub["dataset"].unique())
    for dataset in [d for d in (dataset_order or []) if d in present] + sorted(present - set(dataset_order or [])):
        for spec in table_columns(per_dataset=True):
            part = sub[(sub["dataset"] == dataset) & (sub["metric"] == spec.name)]
            if part.empty:
                continue
            column = Column(spec, dataset)
            wide[column.title] = part.set_index("codec")["value"]
            columns[column.title] = column
            if part["spread"].notna().any():
                spread = column.spread_of()
                wide[spread.title] = part.set_index("codec")["spread"]
                columns[spread.title] = spread
    errors = summary[summary["task"] == task].groupby("codec")["errors"].max()
    if errors.any():
        wide[ERRORS] = errors
        columns[ERRORS] = Column(None)
    codecs = [c for c in (order or []) if c in wide.index] + sorted(set(wide.index) - set(order or []))
    return wide.loc[codecs], columns


def parse_join(specs: list[str]) -> dict[str, list[str]]:
    """``["ASR=asr_probe", "TTS=tts_nar,tts_ar"]`` -> ``{"ASR": ["asr_probe"], "TTS": ["tts_nar", "tts_ar"]}``."""
    groups: dict[str, list[str]] = {}
    for spec in specs:
        group, sep, tasks = spec.partition("=")
        if not sep or not group.strip() or not tasks.strip():
            raise ValueError(f"--join takes GROUP=TASK[,TASK...], got {spec!r}")
        groups[group.strip()] = [t.strip() for t in tasks.split(",") if t.strip()]
    return groups


def _check_join(groups: dict[str, list[str]], present: set[str]) -> None:
    """Refuse a ``--join`` group none of whose tasks has rows in these runs (a typo would give an empty column
    group); warn of a task that has none where another task of its group supplies the cells."""
    import difflib

    for group, tasks in groups.items():
        absent = [t for t in tasks if t not in present]
        if len(absent) == len(tasks):
            close = [m for t in absent for m in difflib.get_close_matches(t, sorted(present), n=1)]
            hint = f" (did you mean {', '.join(close)}?)" if close else ""
            raise ValueError(f"--join {group}={','.join(tasks)}: no rows of {', '.join(map(repr, absent))} in these "
                             f"runs{hint}; tasks here: {', '.join(sorted(present)) or 'none'}")
        for task in absent:
            log.warning("--join %s: task %r has no rows in these runs; the group's other tasks supply it", group, task)


def joined_table(df: pd.DataFrame, summary: pd.DataFrame, groups: dict[str, list[str]], order: list[str] | None = None,
                 dataset_order: list[str] | None = None
                 ) -> tuple[pd.DataFrame, Columns, dict[str, dict[str, str]]]:
    """Several tasks side by side (e.g. the paper's Table 4: ASR / SI / SER probes and TTS), one column group
    per entry of ``groups``; within a group the first listed task that has a codec supplies its cells
    (``TTS=tts_nar,tts_ar``: DyCAST-CA's NAR row, everyone else's AR row). Measured rates come first, from
    the first task that has them. Returns the table, its columns and, per group, the task behind each codec."""
    rates = [Column(spec) for spec in table_columns(per_dataset=False)]
    cells: dict[str, dict[str, float]] = {}
    sources: dict[str, dict[str, str]] = {}
    columns: Columns = {}
    for group, tasks in groups.items():
        for task in tasks:
            if task not in set(summary["task"]):
                continue
            table, own = paper_table(df, summary, task, dataset_order=dataset_order)
            single = summary[summary["task"] == task]["dataset"].nunique() == 1
            for title in table.columns:
                if own[title].output is None:  # the error count: per task, not joined
                    continue
                column = own[title].in_group(group, dataset_shown=not single)
                columns.setdefault(column.title, column)
                for codec, value in table[title].items():
                    if pd.isna(value) or column.title in cells.get(codec, {}):
                        continue
                    if column.dataset is not None and not column.spread:
                        if sources.setdefault(group, {}).setdefault(codec, task) != task:
                            continue
                    cells.setdefault(codec, {})[column.title] = float(value)
    wide = pd.DataFrame.from_dict(cells, orient="index")
    ordered = [c for c in rates if c.title in wide.columns] + [
        c for c in columns.values() if c.dataset is not None and c.title in wide]
    wide = wide[[c.title for c in ordered]] if not wide.empty else wide
    codecs = [c for c in (order or []) if c in wide.index] + sorted(set(wide.index) - set(order or []))
    return wide.loc[codecs], titled(ordered), sources


PUBLISHED_COLUMNS = ("codec", "task", "dataset", "metric", "value")


def read_published(path: str | Path) -> pd.DataFrame:
    """The paper's numbers (long CSV: codec, task, dataset, metric, value, other columns kept), checked where they
    enter: a missing column, an unreadable file or a value that is not a finite number names the file and line."""
    data = read_table(path, "--published", PUBLISHED_COLUMNS, dtype={c: str for c in PUBLISHED_COLUMNS[:4]},
                      keep_default_na=False)
    return data.assign(value=numeric_column(data, "value", "--published", path))


def _published(published: str | Path | pd.DataFrame) -> pd.DataFrame:
    return published if isinstance(published, pd.DataFrame) else read_published(published)


def published_joined_rows(table: pd.DataFrame, published: str | Path | pd.DataFrame, groups: dict[str, list[str]]
                          ) -> pd.DataFrame:
    """The paper's numbers under the columns a :func:`joined_table` has: a row per codec (empty when none)."""
    specs = output_specs()
    data = _published(published).dropna(subset=["value"])
    rows: dict[str, dict[str, float]] = {}
    for _, r in data.iterrows():
        spec = specs.get(r["metric"])
        group = next((g for g, tasks in groups.items() if r["task"] in tasks), None)
        if spec is None or group is None:
            continue
        names = [Column(spec).title] if not spec.per_dataset else [
            Column(spec, r["dataset"], group, dataset_shown=shown).title for shown in (False, True)]
        for name in names:
            if name in table.columns:
                rows.setdefault(str(r["codec"]), {})[name] = float(r["value"])
                break
    return pd.DataFrame.from_dict(rows, orient="index").reindex(columns=table.columns)


def published_rows(table: pd.DataFrame, published: str | Path | pd.DataFrame, task: str) -> pd.DataFrame:
    """The paper's numbers (long CSV: codec, task, dataset, metric, value) of ``task`` under the columns ``table``
    has (datasets matched by the run's names): a row per codec (empty when none)."""
    specs = output_specs()
    data = _published(published).dropna(subset=["value"])
    data = data[data["task"] == task]
    rows: dict[str, dict[str, float]] = {}
    for _, r in data.iterrows():
        spec = specs.get(r["metric"])
        if spec is None:
            continue
        column = Column(spec, r["dataset"] if spec.per_dataset else None).title  # rates: one column
        if column in table.columns:
            rows.setdefault(str(r["codec"]), {})[column] = float(r["value"])
    return pd.DataFrame.from_dict(rows, orient="index").reindex(columns=table.columns)


#: where a table row comes from (the ``source`` column of :meth:`Table.with_source`)
OURS, PUBLISHED = "ours", "published"


@dataclass
class Table:
    """One table: our numbers (a row per codec label, a column per :class:`Column` title), the paper's numbers
    under the same columns (``published``: a row per codec), the columns, footnotes, and the rows that are never
    ranked: random weights (``random``) and identity codecs such as the reference (``identity``)."""

    frame: pd.DataFrame
    columns: Columns
    notes: list[str] = field(default_factory=list)
    published: pd.DataFrame | None = None
    random: frozenset[str] = frozenset()
    identity: frozenset[str] = frozenset()
    #: ``{(codec, column title): Holm-adjusted p-value against the column's best}``; without it the runner-up is
    #: marked second whatever its distance to the best
    p_holm: dict[tuple[str, str], float] = field(default_factory=dict)
    markdown: str = ""  # as written to <name>.md

    @property
    def ranked(self) -> list[str]:
        """The codecs best / second best are chosen among: ours, with trained weights, not an identity codec."""
        return [c for c in self.frame.index if c not in self.random and c not in self.identity]

    def with_source(self) -> pd.DataFrame:
        """Our rows and the paper's in one frame, with their ``source`` (ours / published) and ``random_weights``
        as columns (a codec label may then occur twice: once per source)."""
        ours = self.frame.assign(source=OURS, random_weights=[c in self.random for c in self.frame.index])
        if self.published is None or self.published.empty:
            return ours
        theirs = self.published.assign(source=PUBLISHED, random_weights=False)
        return pd.concat([ours, theirs])


def rank_marks(table: Table) -> dict[tuple[str, str], int]:
    """(codec, column) -> 1 for best, 2 for second best, among :attr:`Table.ranked` (random-weight and identity
    codecs and the paper's rows are never ranked). Where the table knows the Holm-adjusted p-values, the best is
    marked alone only when the runner-up differs significantly (p < :data:`ALPHA`); otherwise both are marked best
    (tied) and none second."""
    marks = {}
    ranked = table.ranked
    for column, spec in table.columns.items():
        higher = spec.higher
        if higher is None or column not in table.frame.columns:
            continue
        values = table.frame.loc[ranked, column].dropna()
        ordered = sorted(values.unique(), reverse=bool(higher))
        for rank, target in enumerate(ordered[:2], start=1):
            for codec in values.index[values == target]:
                marks[(codec, column)] = rank
        if len(ordered) >= 2 and table.p_holm:
            runner_up = [c for c in values.index[values == ordered[1]]]
            pvalues = [table.p_holm.get((c, column), float("nan")) for c in runner_up]
            if any(not p < ALPHA for p in pvalues):  # not significantly worse than the best (or not testable)
                for codec in runner_up:
                    marks[(codec, column)] = 1
    return marks


def significance(summary: pd.DataFrame, task: str, columns: Columns) -> dict[tuple[str, str], float]:
    """``{(codec, column title): p_vs_best_holm}`` of a task's per-dataset columns, from a summary with intervals."""
    if "p_vs_best_holm" not in summary:
        return {}
    sub = summary[summary["task"] == task]
    lookup = {(c, d, m): p for c, d, m, p in zip(sub["codec"], sub["dataset"], sub["metric"], sub["p_vs_best_holm"],
                                                   strict=True)}
    out = {}
    for title, column in columns.items():
        if column.output is None or column.dataset is None or column.spread:
            continue
        for (codec, dataset, metric), p in lookup.items():
            if dataset == column.dataset and metric == column.output.name:
                out[(str(codec), title)] = float(p)
    return out


class Formatter:
    """How a table's cells and labels look in one output format (Markdown here; :class:`Latex` below)."""

    def escape(self, text: str) -> str:
        """A codec, column or note as text of the format (a "|" would split a Markdown cell)."""
        return str(text).replace("|", "\\|")

    def spread(self, text: str, spread: float, decimals: int) -> str:
        return f"{text} ± {spread:.{decimals}f}"

    def rank(self, text: str, rank: int) -> str:
        return f"**{text}**" if rank == 1 else f"_{text}_"

    def label(self, codec: str, random: bool, published: bool) -> str:
        return self.escape(f"{codec}{' †' if random else ''}{' (paper)' if published else ''}")


class Latex(Formatter):
    """LaTeX cells: special characters escaped, arrows and † as symbols, ranks as bold / underline."""

    SPECIAL = {"\\": r"\textbackslash{}", "&": r"\&", "%": r"\%", "$": r"\$", "#": r"\#", "_": r"\_",
               "{": r"\{", "}": r"\}", "~": r"\textasciitilde{}", "^": r"\textasciicircum{}"}

    def escape(self, text: str) -> str:
        text = "".join(self.SPECIAL.get(ch, ch) for ch in str(text))
        for old, new in (("↑", r"$\uparrow$"), ("↓", r"$\downarrow$"), (" †", r"$^\dagger$")):
            text = text.replace(old, new)
        return text

    def spread(self, text: str, spread: float, decimals: int) -> str:
        return f"{text} $\\pm$ {spread:.{decimals}f}"

    def rank(self, text: str, rank: int) -> str:
        return f"\\textbf{{{text}}}" if rank == 1 else f"\\underline{{{text}}}"


MARKDOWN, LATEX = Formatter(), Latex()


def _cells(frame: pd.DataFrame, columns: Columns, fmt: Formatter, marks: dict[tuple[str, str], int]
           ) -> dict[str, list[str]]:
    out: dict[str, list[str]] = {}
    for column in frame.columns:
        spec = columns[column]
        if spec.spread:
            continue
        decimals, beside = spec.decimals, spec.spread_of().title
        cells = []
        for codec in frame.index:
            value = frame.loc[codec, column]
            text = "-" if pd.isna(value) else f"{value:.{decimals}f}"
            spread = frame.loc[codec, beside] if beside in frame.columns else float("nan")
            if not pd.isna(spread) and not pd.isna(value):
                text = fmt.spread(text, spread, decimals)
            rank = marks.get((codec, column))
            cells.append(fmt.rank(text, rank) if rank else text)
        out[fmt.escape(column)] = cells
    return out


def format_table(table: Table, fmt: Formatter) -> pd.DataFrame:
    """A table as text cells of one format: our rows (random weights marked †), ranks marked, then the paper's."""
    marks = rank_marks(table)
    parts = [pd.DataFrame(_cells(table.frame, table.columns, fmt, marks),
                          index=[fmt.label(c, c in table.random, False) for c in table.frame.index])]
    if table.published is not None and not table.published.empty:
        parts.append(pd.DataFrame(_cells(table.published, table.columns, fmt, {}),
                                  index=[fmt.label(c, False, True) for c in table.published.index]))
    out = pd.concat(parts)
    out.index.name = "Codec"
    return out


def footnotes(summary: pd.DataFrame, task: str, flagged: set[str]) -> list[str]:
    notes = []
    sub = summary[summary["task"] == task]
    for spec in table_columns(per_dataset=True) + table_columns(per_dataset=False):
        used = sub[sub["metric"] == spec.name]["backend"]
        backends = sorted({" + ".join(sorted(set(b.split(" + ")))) for b in used if b})
        if backends:
            mixed = " (MIXED BACKENDS: not comparable)" if len(backends) > 1 else ""
            notes.append(f"{spec.label}: {'; '.join(backends)}{mixed}")
    notes.append("Frame rate, bitrate and token rate (frames x codebooks) are measured from the tokens produced (per "
                 "second of audio).")
    notes.append("Best in bold, second best underlined (italic in Markdown); the second is bold too (tied) when its "
                 "difference to the best is not significant (paired bootstrap, Holm-adjusted within the column, "
                 "p >= 0.05). Identity codecs (the reference row) and random-weight rows are not ranked; ratio "
                 "columns (dWER, rates) are corpus-level.")
    for codec in sorted(set(sub["codec"])):
        card = card_line(codec)
        if card:
            notes.append(f"{codec} (paper Table 5): {card}")
    if flagged:
        notes.append("† RANDOM WEIGHTS: these rows come from the real architecture with random weights; "
                     "they are NOT the codec's numbers: " + ", ".join(sorted(flagged)))
    return notes


def saved_codecs(run_dir: Path) -> tuple[CodecSpec, ...]:
    """The codec variants of a run's saved config, in config order (none without a readable one)."""
    try:
        config = load_saved(run_dir)
    except (OSError, ValueError) as err:
        log.warning("%s: its saved config is not readable (%s): config order not used", run_dir, err)
        return ()
    return config.codecs if config is not None else ()


def dataset_order(run_dir: Path) -> list[str]:
    """Dataset names in config order (the paper's column order), when the run saved its config."""
    try:
        config = load_saved(run_dir)
    except (OSError, ValueError) as err:
        log.warning("%s: its saved config is not readable (%s): config order not used", run_dir, err)
        return []
    return [d.name for d in config.datasets] if config is not None else []


def run_order(run_dir: Path) -> list[str]:
    """Codec labels in config order, when the run saved its config."""
    return [c.label for c in saved_codecs(run_dir)]


def _write(target: Path, name: str, table: Table) -> str:
    """``<name>.csv`` (numbers, with their source) / ``.md`` / ``.tex``; returns the Markdown."""
    stem = file_name(name)  # a task or join name from rows or the command line: injective, inside ``target``
    write_csv(table.with_source(), target / f"{stem}.csv", float_format="%.6g")
    md = format_table(table, MARKDOWN).to_markdown()
    md += "\n\n" + "\n".join(f"- {n}" for n in table.notes) + "\n"
    atomic_write_text(target / f"{stem}.md", f"## {name}\n\n{md}")
    tex = format_table(table, LATEX).to_latex(escape=False)
    tex += "".join(f"% {' '.join(str(n).splitlines())}\n" for n in table.notes)
    atomic_write_text(target / f"{stem}.tex", tex)
    return md


def build_tables(run_dirs: list[str | Path], out_dir: str | Path | None = None, published: str | Path | None = None,
          joins: dict[str, dict[str, list[str]]] | None = None) -> dict[str, Table]:
    """Write ``summary.csv`` (with bootstrap 95% intervals and a paired test against the best codec per
    cell: :mod:`codecbench.results.intervals`) and per-task CSV / Markdown / LaTeX tables; returns each :class:`Table`.

    ``published``: a CSV of the paper's numbers (``results/published/table2.csv``) shown beside ours.
    ``joins``: named tables of several tasks side by side (:func:`joined_table`), e.g.
    ``{"table4": {"ASR": ["asr_probe"], "SI": ["si_probe"], "SER": ["ser_probe"], "TTS": ["tts_nar", "tts_ar"]}}``.
    """
    dirs = [Path(r) for r in run_dirs]
    paper = read_published(published) if published is not None else None  # checked before anything is written
    inputs = [*run_inputs(dirs), *dataset_roots(dirs), *([Path(published)] if published is not None else [])]
    target = OutputDir(out_dir or dirs[0] / "tables", "table", inputs, owned=out_dir is None).path
    df = load_rows(list(dirs), extra="none")
    summary = summarize(df)
    tested = add_intervals(summary, df, output_specs(), unranked_codecs(df))
    write_csv(tested, target / "summary.csv", index=False, float_format="%.17g")
    order = [c for r in dirs for c in run_order(r)]
    datasets = list(dict.fromkeys(d for r in dirs for d in dataset_order(r)))
    flagged = set(summary.loc[summary["random_weights"], "codec"])
    unranked = frozenset(flagged_codecs(df, "identity"))
    built: dict[str, Table] = {}
    for task in sorted(summary["task"].unique()):
        frame, columns = paper_table(df, summary, task, order, datasets)
        theirs = published_rows(frame, paper, task) if paper is not None else None
        notes = footnotes(summary, task, flagged)
        if theirs is not None and not theirs.empty:
            notes.append(f"(paper) rows: published values from {Path(str(published)).name} (Sim as cosine, not "
                         "%), for the datasets of this run with the same names; not ranked.")
        built[task] = Table(frame, columns, notes, theirs, frozenset(flagged), unranked,
                            significance(tested, task, columns))
    for name, groups in (joins or {}).items():
        _check_join(groups, set(summary["task"]))
        frame, columns, sources = joined_table(df, summary, groups, order, datasets)
        if frame.empty:
            log.warning("table %s: none of the tasks %s has rows", name, [t for g in groups.values() for t in g])
            continue
        theirs = published_joined_rows(frame, paper, groups) if paper is not None else None
        notes = list(dict.fromkeys(n for g in groups.values() for t in g for n in footnotes(summary, t, flagged)))
        for group, by_codec in sources.items():
            if len(set(by_codec.values())) > 1:
                notes.append(f"{group}: " + "; ".join(f"{c} from {t}" for c, t in by_codec.items()))
        if theirs is not None and not theirs.empty:
            notes.append(f"(paper) rows: published values from {Path(str(published)).name} (Sim as cosine, not "
                         "%); not ranked.")
        built[name] = Table(frame, columns, notes, theirs, frozenset(flagged), unranked)
    for name, made in built.items():
        made.markdown = _write(target, name, made)
    _write_bd(tested, df, dirs, target)
    return built


def bd_of_runs(summary: pd.DataFrame, df: pd.DataFrame, dirs: list[Path], method: str = "pchip") -> pd.DataFrame:
    """The Bjøntegaard deltas of the runs' rate families (:func:`codecbench.results.bd.bd_table`), random-weight and
    identity codecs left out."""
    from codecbench.results import bd

    kept = summary[~summary["random_weights"].astype(bool)]
    return bd.bd_table(kept, df, bd.declared_families(dirs), output_specs(), method, exclude=unranked_codecs(df))


def _write_bd(summary: pd.DataFrame, df: pd.DataFrame, dirs: list[Path], target: Path) -> None:
    """``bd.csv`` / ``.md`` / ``.tex`` of the runs' rate families."""
    from codecbench.results import bd

    if not bd.available():
        log.warning("Bjøntegaard deltas need the bjontegaard package: pip install 'codecbench[report]' (no bd.csv)")
        return
    bd.write_bd(bd_of_runs(summary, df, dirs), target)


def render(run_dirs: list[str | Path], out_dir: str | Path | None = None,
           published: str | Path | None = None, joins: dict[str, dict[str, list[str]]] | None = None
           ) -> dict[str, str]:
    """:func:`build_tables`, returning the Markdown of each table."""
    return {name: table.markdown for name, table in build_tables(run_dirs, out_dir, published, joins).items()}
