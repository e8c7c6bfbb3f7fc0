"""``codecbench listen RUN_DIR... --out DIR``: a MUSHRA listening test from runs' saved outputs;
``codecbench listen import RESULTS.json... --into RUN_DIR --test DIR``: the participants' ratings back as rows."""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Annotated

from codecbench.util.options import Range, Seed, arg_type


def add_parsers(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("listen", help="build a MUSHRA listening test from saved outputs, or import its ratings")
    p.add_argument("paths", nargs="+", metavar="RUN_DIR | import RESULTS.json",
                   help="run folders with saved audio (save_audio), or `import` and participants' result files")
    p.add_argument("--out", help="the test folder to write (index.html opens from disk)")
    p.add_argument("--codecs", nargs="*", help="codec labels to test (default: every one with saved audio)")
    p.add_argument("--items", type=arg_type(Annotated[int, Range(1, 1000)]), default=8,
                   help="items, spread over the objective metric's range")
    p.add_argument("--seed", type=arg_type(Seed), default=0)
    p.add_argument("--task", default=None, help="the task whose saved outputs are tested (default: the one that "
                                                 "saved some)")
    p.add_argument("--into", help="import: the run folder the ratings join")
    p.add_argument("--test", help="import: the test folder (its test.json); default: beside the first result file")
    p.set_defaults(handler=cmd_listen)


def cmd_listen(args: argparse.Namespace) -> int:
    from codecbench.results import listening

    if args.paths[0] == "import":
        files = args.paths[1:]
        if not files or not args.into:
            raise ValueError("codecbench listen import RESULTS.json... --into RUN_DIR [--test TEST_DIR]")
        test = Path(args.test) if args.test else Path(files[0]).parent
        screening = listening.import_ratings(files, args.into, test)
        print(f"kept {len(screening.kept)} listeners: {', '.join(screening.kept) or 'none'}")
        for listener, why in screening.excluded.items():
            print(f"excluded {listener}: {why} (BS.1534 post-screening)")
        print(f"rows in {args.into}; `codecbench table {args.into}` shows the MUSHRA table, `codecbench report` "
              "beside the "
              "objective metrics")
        from codecbench.results.tables import load_rows

        rho = listening.correlations(load_rows([args.into], extra="raw"))
        if not rho.empty:
            print(rho.to_markdown(index=False, floatfmt=".2f"))
        return 0 if screening.kept else 1
    if not args.out:
        raise ValueError("codecbench listen RUN_DIR... --out TEST_DIR")
    index = listening.build_test(args.paths, args.out, args.codecs, args.items, args.seed, args.task)
    print(f"listening test: {index} (open it in a browser; each participant exports one JSON file)")
    return 0
