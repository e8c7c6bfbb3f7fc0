"""Table 1 of the paper laid out as published: measured frame rate and bitrate, sample rates, codebooks and
parameter counts per codec, beside the paper's values (``results/published/table1.csv``).

The task that measures them and the codecs come from ``configs/paper/table1.yaml`` (what ``codecbench paper table1``
runs); :func:`config` swaps in another corpus and codec list, :func:`layout` reads the run's rows back."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pandas as pd

from codecbench.api.rows import ERROR_METRIC, WHOLE, Row
from codecbench.config.runconfig import RunConfig, from_dict
from codecbench.results import paper
from codecbench.results.tables import load_rows
from codecbench.util.shipped import published

SHOWN = ["codec", "frame_rate_hz", "paper_frame_rate_hz", "bitrate_kbps", "paper_bitrate_kbps", "sample_rate_khz",
         "codebooks", "paper_codebooks", "params_m", "state_m", "paper_params_m", "codebook_usage_pct",
         "entropy_bitrate_kbps", "random_weights", "error"]
NOTE = ("Frame rate and bitrate = total frames or bits / total seconds. random_weights=yes: real architecture, "
        "random weights (rates and parameter counts are exact for fixed-rate codecs; DyCAST's rate depends on its "
        "weights). state_m counts parameters and buffers (some codecs keep their codebooks in buffers).")


def task_name() -> str:
    """The task Table 1 is made of (``configs/paper/table1.yaml``)."""
    (task,) = paper.load("table1").data["tasks"]
    return str(task)


def config(codecs: list[str], out: Path, dataset: dict[str, Any], device: str = "cpu") -> RunConfig:
    """Table 1's plan over ``codecs`` and one dataset entry (e.g. ``{"format": "quickstart"}``)."""
    return from_dict({"name": "table1", "output_dir": str(out), "tasks": [task_name()], "metrics": [],
                      "metric_profile": "offline", "codecs": codecs, "datasets": {"t1": dataset},
                      "device": device, "batch_size": 1})


def measured(run_dir: Path, names: list[str]) -> tuple[list[dict[str, Any]], int]:
    """One record per codec (totals over utterances: frames or bits / seconds; the per-codec card), and the
    number of utterances measured: one read of the store."""
    task = task_name()
    frame = load_rows([run_dir]) if (Path(run_dir) / "rows.jsonl").is_file() else pd.DataFrame()
    rows = [] if frame.empty else [Row(codec=r.codec, task=r.task, dataset=r.dataset, utt_id=r.utt_id, metric=r.metric,
                                       value=_number(r.value), num=_number(r.num), den=_number(r.den),
                                       error=r.error if isinstance(r.error, str) else None, extra=r.extra or {})
                                   for r in frame[frame["task"] == task].itertuples()]
    records = []
    for name in names:
        mine = [r for r in rows if r.codec == name]
        ok = [r for r in mine if r.error is None]
        errors = [str(r.error) for r in mine if r.metric == ERROR_METRIC]
        card = [r for r in ok if r.utt_id == WHOLE]  # the once-per-codec rows
        record: dict[str, Any] = {"codec": name}
        for metric, column, scale in (("frame_rate", "frame_rate_hz", 1.0), ("bitrate", "bitrate_kbps", 1e-3)):
            part = [r for r in ok if r.metric == metric]
            den = sum(float(r.den or 0.0) for r in part)
            record[column] = scale * sum(float(r.num or 0.0) for r in part) / den if den else None
        for r in card:
            record[r.metric] = r.value
            if r.metric == "codebook_usage":
                record["codebook_usage_pct"] = 100.0 * float(r.value or 0.0)
            if r.metric == "entropy_bitrate":
                record["entropy_bitrate_kbps"] = float(r.value or 0.0) / 1000
            if "codebooks" in r.extra:
                record["codebooks"] = r.extra["codebooks"]
            record["random_weights"] = record.get("random_weights", False) or bool(r.extra.get("random_weights"))
        if card:
            record["error"] = f"{len(errors)} utterances failed" if errors else ""
        else:
            record["error"] = (errors[0].splitlines() or [''])[0][:160] if errors else "not measured"
        records.append(record)
    return records, len({r.utt_id for r in rows if r.utt_id != WHOLE})


def _number(value: Any) -> float | None:
    return None if value is None or pd.isna(value) else float(value)


def layout(run_dir: Path, names: list[str]) -> tuple[pd.DataFrame, str]:
    """The table (our columns and the paper's ``paper_*`` ones) and its Markdown with a note on how it was
    measured."""
    records, utts = measured(run_dir, names)
    table = pd.DataFrame(records).reindex(columns=[c for c in SHOWN if not c.startswith("paper_")])
    theirs = pd.read_csv(published("table1.csv")).rename(columns=lambda c: c if c == "registry_name" else f"paper_{c}")
    table = table.merge(theirs, how="left", left_on="codec", right_on="registry_name").drop(columns="registry_name")
    shown = table.reindex(columns=SHOWN)
    shown = shown.assign(random_weights=shown["random_weights"].map({True: "yes", False: "no"}))
    markdown = shown.to_markdown(index=False, floatfmt=".2f", missingval="-")
    return table, f"{markdown}\n\nMeasured on {utts} utterances. {NOTE}\n"
