"""``codecbench score OUTPUTS --data DATA --label NAME``: score audio made elsewhere with the harness's protocol."""

from __future__ import annotations

import argparse

from codecbench.util.options import PositiveInt, arg_type


def add_parsers(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("score", help="score audio made elsewhere (one file per item id) with the same protocol")
    p.add_argument("outputs", help="folder of audio files named by item id: <utt_id>.wav, or <source>-><target>.wav "
                                   "for --task vc")
    p.add_argument("--data", required=True, help="the dataset they were made from: a folder or a manifest .csv")
    p.add_argument("--label", required=True, help="the name of the system in the tables")
    p.add_argument("--task", help="a task that scores outputs alone: resynthesis (the default) or vc")
    p.add_argument("--metrics", nargs="+", help="metrics (default: every metric of the profile)")
    p.add_argument("--profile", default="auto", help="metric profile: auto, offline or paper")
    p.add_argument("--out", help="run folder (default runs/<label>)")
    p.add_argument("--batch-size", type=arg_type(PositiveInt), default=8)
    p.add_argument("--no-progress", action="store_true")
    p.set_defaults(handler=cmd_score)


def cmd_score(args: argparse.Namespace) -> int:
    from codecbench.evaluation import score
    from codecbench.util.names import file_name

    out = args.out or f"runs/{file_name(args.label)}"
    results = score(args.outputs, args.data, args.label, args.task, args.metrics, args.profile, out,
                    progress=not args.no_progress, batch_size=args.batch_size)
    for task, markdown in results.write_tables().items():
        print(f"## {task}\n\n{markdown}")
    assert results.outcome is not None
    for line in results.outcome.lines():
        print(line)
    return 1 if results.outcome.failed else 0
