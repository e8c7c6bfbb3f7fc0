"""``codecbench run CONFIG [key=value ...]`` and ``codecbench quickstart [--data DIR]``."""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path


def add_parsers(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("run", help="run a plan of codecs x tasks x datasets (resumes)")
    p.add_argument("config", help="YAML config, e.g. configs/ci.yaml")
    p.add_argument("overrides", nargs="*", help="key=value overrides (dotted keys)")
    p.add_argument("--no-progress", action="store_true", help="hide progress bars")
    p.add_argument("--retry-errors", action="store_true", help="recompute utterances that failed")
    p.add_argument("--no-table", action="store_true", help="do not render tables at the end")
    p.add_argument("--executor", choices=["inline", "local", "slurm"], help="override executor.kind of the config")
    p.add_argument("--detach", action="store_true", help="submit the shards and return (local / slurm executors)")
    p.set_defaults(handler=cmd_run)

    s = sub.add_parser("status", help="shards of a run: done / running / failed / pending")
    s.add_argument("run_dir")
    s.set_defaults(handler=cmd_status)

    q = sub.add_parser("quickstart", help="offline resynthesis table on a synthetic corpus or --data DIR")
    q.add_argument("--data", help="a folder of audio files (sidecar .txt transcripts optional)")
    q.add_argument("--out", help="run directory (default runs/quickstart)")
    q.add_argument("--config", default=None, help="config to start from (default configs/quickstart.yaml)")
    q.add_argument("overrides", nargs="*", help="key=value overrides")
    q.add_argument("--no-progress", action="store_true")
    q.set_defaults(handler=cmd_quickstart)


def _execute(config_path: str | Path, overrides: list[str], progress: bool, retry: bool = False,
             table: bool = True, patch: dict | None = None, detach: bool = False) -> int:
    from codecbench.config.runconfig import load_config
    from codecbench.evaluation import run

    config = load_config(config_path, overrides, patch)
    start = time.perf_counter()
    results = run(config, progress=progress, retry_errors=retry, detach=detach)
    if detach:
        print(f"submitted: `codecbench status {config.output_dir}` watches; `codecbench run` with the same config "
              "merges")
        return 0
    elapsed = time.perf_counter() - start
    rows = config.output_dir / "rows.jsonl"
    if table and rows.is_file() and rows.stat().st_size:
        for task, markdown in results.write_tables().items():
            print(f"\n## {task} ({config.name})\n\n{markdown}")
        print(f"tables written to {config.output_dir / 'tables'}")
    print(f"run {config.name}: {elapsed:.1f} s, rows in {rows}")
    assert results.outcome is not None
    for line in results.outcome.lines():
        print(line)
    return 1 if results.outcome.failed else 0


def cmd_run(args: argparse.Namespace) -> int:
    overrides = list(args.overrides) + ([f"executor.kind={args.executor}"] if args.executor else [])
    return _execute(args.config, overrides, not args.no_progress, args.retry_errors, not args.no_table,
                    detach=args.detach)


def cmd_status(args: argparse.Namespace) -> int:
    from codecbench.engine.executor import status

    try:
        states = status(Path(args.run_dir))
    except (FileNotFoundError, ValueError, KeyError) as err:
        print(f"codecbench status: {err}", file=sys.stderr)
        return 2
    if not states:
        print(f"{args.run_dir}: no shards (an inline run, or nothing submitted yet)")
        return 0
    counts: dict[str, int] = {}
    for shard, state, detail in states:
        counts[state] = counts.get(state, 0) + 1
        if state != "done":
            print(f"  {state:<8} {shard}{': ' + detail if detail else ''}")
    print(", ".join(f"{n} {s}" for s, n in sorted(counts.items())))
    return 1 if counts.get("failed") or counts.get("killed") else 0


def cmd_quickstart(args: argparse.Namespace) -> int:
    from codecbench.util.shipped import config_file

    config = args.config or config_file("quickstart.yaml")
    patch: dict = {}
    if args.data:  # set as data, never as YAML text: any path works
        patch["datasets"] = {"user": {"format": "folder", "root": str(Path(args.data).expanduser().resolve())}}
    if args.out:
        patch["output_dir"] = args.out
    return _execute(config, list(args.overrides), not args.no_progress, patch=patch)
