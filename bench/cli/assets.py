"""``bench assets``: every pretrained asset the installed plugins declare, and how it resolves here."""

from __future__ import annotations

import argparse


def add_parsers(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("assets", help="list the pretrained assets plugins declare and where each resolves")
    p.set_defaults(handler=cmd_assets)


def cmd_assets(args: argparse.Namespace) -> int:
    from bench import assets

    known = assets.catalogue()
    width = max(len(n) for n in known) + 2
    print(f"{'asset':<{width}} {'resolves to':<56} {'licence':<14} source")
    for name, asset in known.items():
        try:
            found = assets.locate(name)
            where = f"{found.origin}: {found.location}" if found.location else f"absent (set {assets.env_var(name)})"
        except assets.AssetNotFound as err:
            where = f"MISCONFIGURED: {err}"
        print(f"{name:<{width}} {where:<56} {asset.licence or '-':<14} {asset.source}")
    return 0
