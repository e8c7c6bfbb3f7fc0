"""``codecbench table1``: Table 1 (frame rate, bitrate, codebooks, parameters) of any codecs on any folder of audio,
beside the paper's values; ``codecbench paper table1`` runs the paper's own plan (LibriSpeech test-clean)."""

from __future__ import annotations

import argparse
from pathlib import Path

from codecbench.util.options import PositiveInt, arg_type


def add_parsers(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("table1", help="measure frame rate, bitrate, codebooks and parameters of every codec")
    p.add_argument("--data", help="folder of audio (default: the quickstart corpus)")
    p.add_argument("--codecs", nargs="*", help="registry names (default: every installed codec)")
    p.add_argument("--limit", type=arg_type(PositiveInt), default=None, help="use at most this many utterances")
    p.add_argument("--out", default="runs/table1", help="run folder: rows.jsonl, table1.csv, table1.md")
    p.add_argument("--device", default="cpu")
    p.add_argument("--no-progress", action="store_true")
    p.set_defaults(handler=cmd_table1)


def cmd_table1(args: argparse.Namespace) -> int:
    from codecbench.engine.runner import run
    from codecbench.plugins.registry import CODECS, discover
    from codecbench.results import table1
    from codecbench.util.csvfile import write_csv

    discover()
    dataset: dict = {"format": "folder", "root": str(Path(args.data).expanduser())} if args.data else {
        "format": "quickstart"}
    if args.limit is not None:
        dataset["limit"] = args.limit
    names = list(args.codecs or CODECS.names())
    out = Path(args.out)
    run(table1.config(names, out, dataset, args.device), progress=not args.no_progress)
    table, markdown = table1.layout(out, names)
    write_csv(table, out / "table1.csv", index=False, float_format="%.4g")
    (out / "table1.md").write_text(markdown)
    print(markdown, end="")
    return 0
