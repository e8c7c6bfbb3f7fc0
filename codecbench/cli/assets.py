"""``codecbench assets [list|fetch|verify]``: the pretrained assets plugins declare, where each resolves
here, downloads into the cache (online) and checks of local copies."""

from __future__ import annotations

import argparse


def add_parsers(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("assets", help="list, fetch (online) or verify the pretrained assets plugins declare")
    p.add_argument("action", nargs="?", default="list", choices=["list", "fetch", "verify"])
    p.add_argument("names", nargs="*", help="asset names (fetch/verify; default: every asset for verify)")
    p.add_argument("--all", action="store_true", help="fetch every asset that has a download route")
    p.set_defaults(handler=cmd_assets)


def _users() -> dict[str, list[str]]:
    from codecbench.plugins.registry import CODECS, METRICS

    users: dict[str, list[str]] = {}
    for registry in (CODECS, METRICS):
        for name, plugin in registry.items():
            cls = getattr(plugin, "cls", plugin)
            for asset in getattr(cls, "assets", ()):
                users.setdefault(asset.name, []).append(name)
    return users


def cmd_assets(args: argparse.Namespace) -> int:
    from codecbench import assets

    known = assets.catalogue()
    if args.action == "fetch":
        names = [n for n, a in known.items() if a.hub_id or a.url] if args.all else args.names
        if not names:
            raise ValueError("codecbench assets fetch: name the assets to fetch, or pass --all")
        for name in names:
            print(f"{name}: fetched to {assets.fetch(name)}")
        return 0
    if args.action == "verify":
        results = {name: assets.verify(name) for name in (args.names or known)}
        for name, verdict in results.items():
            print(f"{name:<28} {verdict}")
        return 1 if any(v.status is assets.AssetStatus.PROBLEM for v in results.values()) else 0
    users = _users()
    width = max(len(n) for n in known) + 2
    print(f"{'asset':<{width}} {'resolves to':<56} {'licence':<13} {'size':<7} {'sha256':<12} used by / source")
    for name, asset in known.items():
        try:
            found = assets.locate(name)
            where = f"{found.origin}: {found.location}" if found.location else f"absent (set {assets.env_var(name)})"
        except assets.AssetNotFound as err:
            where = f"MISCONFIGURED: {err}"
        sha = asset.sha256[:10] + ".." if asset.sha256 else "-"
        print(f"{name:<{width}} {where:<56} {asset.licence or '-':<13} {asset.size or '-':<7} {sha:<12} "
              f"{', '.join(users.get(name, [])) or '-'} / {asset.source}")
    return 0
