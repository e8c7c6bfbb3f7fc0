"""``codecbench profile RUN_DIR``: where a run's time went, per job and per stage, and what re-runs saved."""

from __future__ import annotations

import argparse
from pathlib import Path


def add_parsers(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("profile", help="wall time per job and stage (load, encode, decode, each metric, store)")
    p.add_argument("run_dir", help="a run directory (its timing.jsonl and its shards')")
    p.set_defaults(handler=cmd_profile)


def cmd_profile(args: argparse.Namespace) -> int:
    from codecbench.util.csvfile import write_csv
    from codecbench.util.timing import read_records, summarize

    run_dir = Path(args.run_dir)
    records = read_records(run_dir)
    if not records:
        raise ValueError(f"{run_dir}: no timing records (timing.jsonl); run `codecbench run` on it first")
    per_job, by_stage, history = summarize(records)
    segment = max(str(r.get("segment", "")) for r in records)
    print(f"## {run_dir}: latest run segment ({segment or 'unknown start'})\n")
    print("Seconds per job and stage (stages of a prefetching task overlap: decoding runs beside scoring).\n")
    print(per_job.to_markdown(floatfmt=".2f"))
    print("\n## Per stage (latest segment)\n")
    print(by_stage.to_markdown(floatfmt=".2f"))
    if int(history["segments"].max()) > 1:
        print("\n## Over run segments: first vs latest wall time per job (what resuming and caches saved)\n")
        print(history.to_markdown(floatfmt=".2f"))
    out = run_dir / "tables"
    out.mkdir(parents=True, exist_ok=True)
    write_csv(per_job, out / "timing_jobs.csv")
    write_csv(by_stage, out / "timing_stages.csv")
    write_csv(history, out / "timing_history.csv")
    print(f"\nwritten: {out}/timing_jobs.csv, timing_stages.csv, timing_history.csv")
    return 0
