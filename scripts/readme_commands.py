#!/usr/bin/env python3
"""Print README.md's set-up command N (1 or 2) exactly as written: the body of the Nth ```bash block of
the "## Set up" section, the text a newcomer copies. CI runs what this prints, so the README and CI
cannot drift apart. Standard library only (it runs before anything is installed).

    python3 scripts/readme_commands.py 1          # the install + quickstart command
    python3 scripts/readme_commands.py --count     # how many bash blocks the section has
"""

from __future__ import annotations

import argparse
import re
import sys
from pathlib import Path

README = Path(__file__).resolve().parents[1] / "README.md"
SECTION = "## Set up"


def setup_blocks(text: str) -> list[str]:
    """The bodies of the ```bash blocks of the "## Set up" section, in order (ValueError without one)."""
    lines = text.splitlines()
    starts = [i for i, line in enumerate(lines) if line.startswith(SECTION)]
    if not starts:
        raise ValueError(f"README.md has no {SECTION!r} section")
    blocks: list[str] = []
    body: list[str] | None = None
    for line in lines[starts[0] + 1:]:
        if body is None and re.match(r"^## ", line):
            break  # the next section
        if body is None and line.strip() == "```bash":
            body = []
        elif body is not None and line.strip() == "```":
            blocks.append("\n".join(body))
            body = None
        elif body is not None:
            body.append(line)
    if body is not None:
        raise ValueError(f"README.md: a ```bash block of {SECTION!r} is never closed")
    return blocks


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("n", nargs="?", type=int, help="which command (1-based)")
    parser.add_argument("--count", action="store_true", help="print how many bash blocks the section has")
    parser.add_argument("--readme", type=Path, default=README)
    args = parser.parse_args(argv)
    try:
        blocks = setup_blocks(args.readme.read_text(encoding="utf-8"))
    except (OSError, ValueError) as err:
        print(f"readme_commands: {err}", file=sys.stderr)
        return 2
    if args.count:
        print(len(blocks))
        return 0
    if args.n is None or not 1 <= args.n <= len(blocks):
        print(f"readme_commands: command {args.n} does not exist ({len(blocks)} bash blocks in {SECTION!r})",
              file=sys.stderr)
        return 2
    print(blocks[args.n - 1])
    return 0


if __name__ == "__main__":
    sys.exit(main())
