"""``bench table RUN_DIR...`` and ``bench check RUN_DIR --baseline FILE``."""

from __future__ import annotations

import argparse
from pathlib import Path

DEFAULT_TOLERANCES = Path(__file__).resolve().parents[2] / "configs" / "tolerances.yaml"


def add_parsers(sub: argparse._SubParsersAction) -> None:
    t = sub.add_parser("table", help="render tables of one or more run directories")
    t.add_argument("run_dirs", nargs="+", help="run directories (several are combined)")
    t.add_argument("--out", help="output folder (default FIRST_RUN/tables)")
    t.add_argument("--published", help="paper numbers to show beside ours, e.g. results/published/table2.csv")
    t.add_argument("--join", action="append", default=[], metavar="GROUP=TASK[,TASK]",
                   help="one more table with these tasks side by side (repeat per column group; within a group the "
                        "first task that has a codec supplies it), e.g. Table 4: --join ASR=asr_probe --join "
                        "SI=si_probe --join SER=ser_probe --join TTS=tts_nar,tts_ar")
    t.add_argument("--name", default="joined", help="file name of the --join table (default: joined)")
    t.add_argument("--timing", action="store_true",
                   help="also print where each run's time went (as `bench profile RUN_DIR`)")
    t.set_defaults(handler=cmd_table)

    r = sub.add_parser("report", help="a static HTML report (tables, rate-quality plots, listening pages)")
    r.add_argument("run_dirs", nargs="+", help="run directories (several are combined)")
    r.add_argument("--out", required=True, help="report folder (index.html and its files)")
    r.add_argument("--published", help="paper numbers to show beside ours, e.g. results/published/table2.csv")
    r.set_defaults(handler=cmd_report)

    c = sub.add_parser("check", help="compare a run with a baseline; exit 1 past tolerance")
    c.add_argument("run_dir")
    c.add_argument("--baseline", required=True, help="baseline CSV (results/baselines/...)")
    c.add_argument("--tolerances", default=str(DEFAULT_TOLERANCES), help="tolerance YAML")
    c.add_argument("--write", action="store_true", help="(re)write the baseline from this run")
    c.add_argument("--allow-new", action="store_true",
                   help="accept codecs, datasets or metrics the baseline does not have (they are listed)")
    c.set_defaults(handler=cmd_check)


def cmd_table(args: argparse.Namespace) -> int:
    from bench.tables import parse_join, render

    joins = {args.name: parse_join(args.join)} if args.join else None
    for task, markdown in render(args.run_dirs, args.out, args.published, joins).items():
        print(f"## {task}\n\n{markdown}")
    if args.timing:
        from .profile import cmd_profile

        for run_dir in args.run_dirs:
            print()
            try:
                cmd_profile(argparse.Namespace(run_dir=run_dir))
            except ValueError as err:  # a run without timing records (made before they existed)
                print(f"timing: {err}")
    return 0


def cmd_report(args: argparse.Namespace) -> int:
    try:
        from bench.report import build
    except ModuleNotFoundError as err:
        raise ModuleNotFoundError(f"bench report needs {err.name}: "
                                  "pip install 'speech-tokenizer-bench[report]'") from err
    index = build(args.run_dirs, args.out, args.published)
    size = sum(p.stat().st_size for p in index.parent.rglob("*") if p.is_file())
    print(f"report: {index} ({size / 1e6:.1f} MB)")
    return 0


def cmd_check(args: argparse.Namespace) -> int:
    from bench.check import compare, load_tolerances, write_baseline

    if args.write:
        summary = write_baseline(args.run_dir, args.baseline)
        print(f"wrote {len(summary)} baseline values to {args.baseline}")
        return 0
    result = compare(args.run_dir, args.baseline, load_tolerances(args.tolerances), allow_new=args.allow_new)
    failed = result[~result["status"].str.startswith("ok")]
    shown = failed if not failed.empty else result
    print(shown.to_markdown(index=False, floatfmt=".4f"))
    if failed.empty:
        print(f"\ncheck passed: {len(result)} metrics within tolerance of {args.baseline}")
        return 0
    print(f"\ncheck FAILED: {len(failed)} of {len(result)} metrics moved past tolerance or changed")
    return 1
