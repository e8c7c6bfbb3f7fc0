"""``codecbench table RUN_DIR...`` and ``codecbench check RUN_DIR --baseline FILE``."""

from __future__ import annotations

import argparse
from pathlib import Path

from codecbench.util.options import Count, PositiveFloat, arg_type


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
                   help="also print where each run's time went (as `codecbench profile RUN_DIR`)")
    t.set_defaults(handler=cmd_table)

    r = sub.add_parser("report", help="a static HTML report (tables, rate-quality plots, listening pages)")
    r.add_argument("run_dirs", nargs="+", help="run directories (several are combined)")
    r.add_argument("--out", required=True, help="report folder (index.html and its files)")
    r.add_argument("--published", help="paper numbers to show beside ours, e.g. results/published/table2.csv")
    r.set_defaults(handler=cmd_report)

    c = sub.add_parser("check", help="compare a run with a baseline, utterance by utterance; exit 1 past tolerance")
    c.add_argument("run_dir", nargs="?", help="the run to check (not with --calibrate)")
    c.add_argument("--baseline", help="baseline CSV (results/baselines/...; its utterances in NAME.rows.csv)")
    c.add_argument("--tolerances", default=None,
                   help="tolerance YAML: yours (written by --calibrate; default there ./tolerances.yaml); without it "
                        "only the harness's own baselines are checked, with the harness's measured tolerances")
    c.add_argument("--policy", choices=["utterance", "aggregate"], default="utterance",
                   help="utterance (default): every utterance and aggregate within measured noise; aggregate: "
                        "the coarse per-metric tolerances on aggregates only (cross-platform gates)")
    c.add_argument("--write", action="store_true", help="(re)write the baseline from this run, printing what changes")
    c.add_argument("--allow-new", action="store_true",
                   help="accept codecs, datasets or metrics the baseline does not have (they are listed)")
    c.add_argument("--calibrate", metavar="CONFIG",
                   help="measure the tolerances: run CONFIG as it is and under other thread counts, ISA paths and "
                        "batch orders (fresh caches), write the measured section of --tolerances")
    c.add_argument("--perturbations", nargs="+", help="with --calibrate: only these (threads-1, threads-2, "
                                                      "mkl-compatible, isa-avx2, shuffled-order, ...)")
    c.add_argument("--factor", type=arg_type(PositiveFloat), default=4.0,
                   help="with --calibrate: safety factor (default 4)")
    c.add_argument("--workdir", help="with --calibrate: where the runs go (default a temporary folder)")
    c.add_argument("--top", type=arg_type(Count), default=25, help="utterance moves listed (largest first)")
    c.set_defaults(handler=cmd_check)


def cmd_table(args: argparse.Namespace) -> int:
    from codecbench.results.tables import parse_join, render

    joins = {args.name: parse_join(args.join)} if args.join else None
    for task, markdown in render(args.run_dirs, args.out, args.published, joins).items():
        print(f"## {task}\n\n{markdown}")
    if args.timing:
        from codecbench.cli.profile import cmd_profile

        for run_dir in args.run_dirs:
            print()
            try:
                cmd_profile(argparse.Namespace(run_dir=run_dir))
            except ValueError as err:  # a run without timing records (made before they existed)
                print(f"timing: {err}")
    return 0


def cmd_report(args: argparse.Namespace) -> int:
    try:
        from codecbench.results.report import build_report
    except ModuleNotFoundError as err:
        raise ModuleNotFoundError(f"codecbench report needs {err.name}: "
                                  "pip install 'codecbench[report]'") from err
    index = build_report(args.run_dirs, args.out, args.published)
    size = sum(p.stat().st_size for p in index.parent.rglob("*") if p.is_file())
    print(f"report: {index} ({size / 1e6:.1f} MB)")
    return 0


def cmd_check(args: argparse.Namespace) -> int:
    from codecbench.results.gate import (
        Tolerances,
        check_baseline_target,
        default_tolerances,
        gate,
        load_tolerances,
        rows_path,
        write_baseline,
    )

    if args.calibrate:
        args.tolerances = args.tolerances or "tolerances.yaml"
        from codecbench.results.calibrate import calibrate

        measured = calibrate(args.calibrate, [], Path(args.tolerances), args.factor, args.perturbations,
                             Path(args.workdir) if args.workdir else None)
        moved = {m: t for m, t in measured["utterance"].items() if t}
        print(f"wrote the measured tolerances of {len(measured['utterance'])} metrics to {args.tolerances}; "
              f"nonzero per utterance: {moved or 'none'}")
        return 0
    if not args.run_dir or not args.baseline:
        raise ValueError("codecbench check needs RUN_DIR and --baseline (or --calibrate CONFIG)")
    if args.tolerances is None and args.write:  # a preview of what the rewrite changes needs no tolerances
        try:
            args.tolerances = str(default_tolerances(args.baseline))
        except ValueError:
            args.tolerances = None
    elif args.tolerances is None:
        args.tolerances = str(default_tolerances(args.baseline))
    tolerances = load_tolerances(args.tolerances) if args.tolerances else Tolerances(0.0, {})
    print(f"tolerances: {args.tolerances or 'none (every change is listed)'}")
    if args.write:
        check_baseline_target(args.run_dir, args.baseline)  # before anything is read or written
        if Path(args.baseline).is_file() and rows_path(args.baseline).is_file():
            before = gate(args.run_dir, args.baseline, tolerances, args.policy, allow_new=True)
            changed = before.failed_utterances
            print(f"rewriting {args.baseline}: {len(changed)} utterance values and {len(before.failed_aggregates)} "
                  "aggregates change")
            if not changed.empty or not before.failed_aggregates.empty:
                print(before.report(args.top))
        summary = write_baseline(args.run_dir, args.baseline)
        print(f"wrote {len(summary)} baseline values to {args.baseline} and its utterances to "
              f"{rows_path(args.baseline)}")
        return 0
    result = gate(args.run_dir, args.baseline, tolerances, args.policy, allow_new=args.allow_new)
    print(result.report(args.top))
    if result.passed:
        n = len(result.utterances) if result.utterances is not None else 0
        print(f"\ncheck passed ({args.policy} policy): {len(result.aggregates)} metrics"
              + (f" and {n} utterance values" if n else "") + f" within tolerance of {args.baseline}")
        return 0
    print(f"\ncheck FAILED ({args.policy} policy): {len(result.failed_aggregates)} of {len(result.aggregates)} "
          f"aggregates and {len(result.failed_utterances)} utterance values moved past tolerance or changed. "
          f"If the change is meant, rewrite the baseline in the same commit: codecbench check {args.run_dir} "
          f"--baseline {args.baseline} --write")
    return 1
