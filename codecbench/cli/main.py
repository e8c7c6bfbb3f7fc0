"""Entry point: parse arguments, dispatch to a subcommand, turn known errors into exit code 2."""

from __future__ import annotations

import argparse
import logging
import os
import sys

from codecbench.cli import (
    assets,
    check_codec,
    listen,
    listing,
    paper,
    parity,
    profile,
    report,
    run,
    scaffold,
    score,
    speed,
    table1,
)
from codecbench.plugins.registry import COMMANDS, declared_commands, discover

EPILOG = """examples:
  codecbench quickstart                           # synthetic corpus, offline codecs + metrics
  codecbench quickstart --data ~/my_wavs          # any folder of audio
  codecbench run configs/ci.yaml batch_size=4     # a plan, with key=value overrides
  codecbench table runs/ci                        # CSV / Markdown / LaTeX tables
  codecbench check runs/ci --baseline results/baselines/ci.csv
  codecbench list                                 # codecs, tasks, metrics, datasets
  codecbench new codec my-codec                    # a codec plugin package that passes the contract as it is
  codecbench check-codec my-codec                  # the codec contract on one codec (plugin authors)
  codecbench score outputs/ --data clips/ --label my-tts   # audio made elsewhere, same protocol
  codecbench parity FAMILY FIXTURE_DIR              # replay official-code fixtures (codecbench parity -h)
  codecbench paper table2 --dry-run --root librispeech=/data/LibriSpeech   # a paper table: plan, then run
"""


def build_parser(argv: list[str] | None = None) -> argparse.ArgumentParser:
    """The parser. Plugins are imported (with torch, for most) only when ``argv`` asks for a command a plugin
    contributes (``codecbench rad``); otherwise those commands are listed from their source."""
    parser = argparse.ArgumentParser(prog="codecbench", description="Speech tokenizer benchmark harness.",
                                     epilog=EPILOG, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("-v", "--verbose", action="store_true", help="debug logging")
    sub = parser.add_subparsers(dest="command", required=True)
    for module in (run, report, score, listing, assets, parity, speed, paper, profile, table1, check_codec, listen,
                   scaffold):
        module.add_parsers(sub)
    words = [a for a in (sys.argv[1:] if argv is None else argv) if not a.startswith("-")]
    if words and words[0] not in sub.choices:
        discover()
        for _, add_parser in COMMANDS.items():  # commands contributed by plugins (e.g. `codecbench rad`)
            add_parser(sub)
    else:
        for name, text in declared_commands().items():  # listed only: `codecbench NAME` imports its plugin
            if name not in sub.choices:
                sub.add_parser(name, help=text or f"a plugin's command (codecbench {name} -h)")
    return parser


def parse(argv: list[str] | None) -> argparse.Namespace:
    """Parsed arguments; ``key=value`` overrides may come before or after a command's options
    (``codecbench paper table1 --root librispeech=DIR device=cpu``)."""
    parser = build_parser(argv)
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
        print(f"codecbench {args.command}: error: {message}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("interrupted: finished rows are saved; run the same command again to resume",
              file=sys.stderr)
        return 130
