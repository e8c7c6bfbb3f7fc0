"""Entry point: parse arguments, dispatch to a subcommand, turn known errors into exit code 2."""

from __future__ import annotations

import argparse
import logging
import os
import sys

from bench.registry import COMMANDS, discover

from . import assets, listing, paper, parity, profile, report, run, speed

EPILOG = """examples:
  bench quickstart                           # synthetic corpus, offline codecs + metrics
  bench quickstart --data ~/my_wavs          # any folder of audio
  bench run configs/ci.yaml batch_size=4     # a plan, with key=value overrides
  bench table runs/ci                        # CSV / Markdown / LaTeX tables
  bench check runs/ci --baseline results/baselines/ci.csv
  bench list                                 # codecs, tasks, metrics, datasets
  bench parity FAMILY FIXTURE_DIR              # replay official-code fixtures (bench parity -h)
  bench paper table2 --dry-run --root librispeech=/data/LibriSpeech   # a paper table: plan, then run
"""


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="bench", description="Speech tokenizer benchmark harness.",
                                     epilog=EPILOG, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("-v", "--verbose", action="store_true", help="debug logging")
    sub = parser.add_subparsers(dest="command", required=True)
    for module in (run, report, listing, assets, parity, speed, paper, profile):
        module.add_parsers(sub)
    discover()
    for _, add_parser in COMMANDS.items():  # commands contributed by plugins (e.g. `bench rad`)
        add_parser(sub)
    return parser


def parse(argv: list[str] | None) -> argparse.Namespace:
    """Parsed arguments; ``key=value`` overrides may come before or after a command's options
    (``bench paper table1 --root librispeech=DIR device=cpu``)."""
    parser = build_parser()
    args, unknown = parser.parse_known_args(argv)
    if unknown:
        late = [u for u in unknown if "=" in u and not u.startswith("-")]
        if len(late) != len(unknown) or not isinstance(getattr(args, "overrides", None), list):
            parser.error(f"unrecognized arguments: {' '.join(unknown)}")
        args.overrides = [*args.overrides, *late]
    return args


def main(argv: list[str] | None = None) -> int:
    args = parse(argv)
    logging.basicConfig(level=logging.DEBUG if args.verbose else logging.WARNING,
                        format="%(levelname)s %(name)s: %(message)s")
    os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
    try:
        return int(args.handler(args) or 0)
    except (OSError, KeyError, ValueError, ModuleNotFoundError) as err:  # OSError: missing file, disk full, busy dir
        message = err.args[0] if isinstance(err, KeyError) and err.args else err
        print(f"bench {args.command}: error: {message}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("interrupted: finished rows are saved; run the same command again to resume",
              file=sys.stderr)
        return 130
