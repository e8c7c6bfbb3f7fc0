"""A handle on the rows of one or more run folders and what the CLI makes of them, as DataFrames: what
:func:`codecbench.evaluate`, :func:`codecbench.run` and :func:`codecbench.load_results` return."""

from __future__ import annotations

from collections.abc import Sequence
from functools import cached_property
from pathlib import Path

import pandas as pd

from codecbench.engine.runner import RunSummary
from codecbench.results.columns import output_specs
from codecbench.results.gate import GateResult, default_tolerances, gate, load_tolerances
from codecbench.results.intervals import add_intervals
from codecbench.results.tables import (
    Table,
    bd_of_runs,
    dataset_order,
    load_rows,
    paper_table,
    published_rows,
    read_published,
    render,
    run_order,
    summarize,
    unranked_codecs,
)


class Results:
    """The current rows of run folders (a re-run's stale rows left out), with the tables, the gate and the report
    the CLI makes of them.

    Args:
        run_dirs: run folders (``output_dir`` of a run config); rows of several folders are read together.
        outcome: what went wrong in the run that made them, when they come from a run in this process.

    Example:
        >>> results = codecbench.load_results("runs/ci")  # doctest: +SKIP
        >>> results.table("resynthesis")  # one row per codec: Frame Rate, Bitrate, UTMOS, dWER, Sim, ...
    """

    def __init__(self, run_dirs: Sequence[str | Path], outcome: RunSummary | None = None) -> None:
        if not run_dirs:
            raise ValueError("Results needs at least one run folder")
        self.run_dirs = tuple(Path(d) for d in run_dirs)
        self.outcome = outcome

    def __repr__(self) -> str:
        return f"Results({', '.join(str(d) for d in self.run_dirs)})"

    @cached_property
    def rows(self) -> pd.DataFrame:
        """Every current row, one per utterance and metric (codec, task, dataset, utt_id, metric, value, num,
        den, backend, error, ...)."""
        return load_rows(list(self.run_dirs))

    def summary(self) -> pd.DataFrame:
        """One row per codec, task, dataset and metric: the aggregate ``value``, its bootstrap 95% interval and
        the paired test against the best codec (what ``summary.csv`` holds).

        Returns:
            A long DataFrame (codec, task, dataset, metric, value, ci_low, ci_high, n, errors, backend, ...).
        """
        df = self.rows
        return add_intervals(summarize(df), df, output_specs(), unranked_codecs(df))

    def tasks(self) -> list[str]:
        """The tasks the rows hold."""
        return sorted(set(self.rows["task"]))

    def table(self, task: str | None = None, published: str | Path | None = None) -> pd.DataFrame:
        """A task's table as ``codecbench table`` prints it: a row per codec, a column per measured rate and per
        dataset and metric (numbers, not formatted), and two columns about the row: ``source`` (``ours``, or
        ``published`` for the paper's rows) and ``random_weights`` (the real architecture with random weights: not
        the codec's numbers, never ranked).

        Args:
            task: the task (``resynthesis``, ``vc``, ...); may be left out when the rows hold one task.
            published: a long CSV of the paper's numbers (codec, task, dataset, metric, value) added as
                ``<codec> (paper)`` rows.

        Returns:
            The wide DataFrame, indexed by codec label.

        Raises:
            ValueError: no task given while the rows hold several, or a task they do not hold.
        """
        tasks = self.tasks()
        if task is None:
            if len(tasks) != 1:
                raise ValueError(f"these rows hold the tasks {tasks}: name one (Results.table(task))")
            task = tasks[0]
        if task not in tasks:
            raise ValueError(f"no rows of task {task!r}; tasks here: {tasks}")
        df = self.rows
        order = [c for d in self.run_dirs for c in run_order(d)]
        datasets = list(dict.fromkeys(n for d in self.run_dirs for n in dataset_order(d)))
        summary = summarize(df)
        frame, columns = paper_table(df, summary, task, order, datasets)
        theirs = published_rows(frame, read_published(published), task) if published is not None else None
        random = frozenset(summary.loc[summary["random_weights"], "codec"])
        return Table(frame, columns, published=theirs, random=random).with_source()

    def bd(self, method: str = "pchip") -> pd.DataFrame:
        """Bjøntegaard deltas between the rate families of these runs, as ``tables/bd.csv`` holds them: one row per
        (task, dataset, metric, rate axis, anchor family, test family) with BD-rate (percent) and BD-quality, their
        bootstrap 95% intervals on the table's draws, the quality overlap and why a row has no number.

        Args:
            method: the curve interpolation: ``pchip`` (piecewise cubic, default), ``akima`` or ``cubic``.
        """
        df = self.rows
        return bd_of_runs(summarize(df), df, list(self.run_dirs), method)

    def write_tables(self, out: str | Path | None = None, published: str | Path | None = None) -> dict[str, str]:
        """Write ``summary.csv`` and every task's CSV / Markdown / LaTeX table (into ``out``, by default the first
        run folder's ``tables/``), as ``codecbench table`` does.

        Returns:
            ``{task: its Markdown}``.
        """
        return render(list(self.run_dirs), out, published)

    def check(self, baseline: str | Path, tolerances: str | Path | None = None, policy: str = "utterance",
              allow_new: bool = False) -> GateResult:
        """Gate the (first) run on a baseline, as ``codecbench check`` does.

        Args:
            baseline: a baseline CSV written by ``codecbench check --write`` (with its ``.rows.csv``).
            tolerances: a tolerances YAML (``codecbench check --calibrate`` writes one); may be left out only for the
                harness's own baselines (its tolerances were measured for its CI codecs).
            policy: ``utterance`` (each utterance within its measured noise) or ``aggregate``.
            allow_new: accept codecs, datasets or metrics the baseline does not have.

        Returns:
            A :class:`~codecbench.results.gate.GateResult`: ``passed``, and what moved as DataFrames
            (``failed_aggregates``, ``failed_utterances``).
        """
        measured = load_tolerances(tolerances if tolerances is not None else default_tolerances(baseline))
        return gate(self.run_dirs[0], baseline, measured, policy, allow_new)

    def report(self, out: str | Path, published: str | Path | None = None) -> Path:
        """Write the HTML report (``codecbench report``) into ``out``; returns its ``index.html``."""
        from codecbench.results.report import build_report

        return build_report(list(self.run_dirs), out, published)
