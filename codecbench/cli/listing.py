"""``codecbench list``: every registered codec, task, metric and dataset, installed or not."""

from __future__ import annotations

import argparse


def add_parsers(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("list", help="show registered codecs, tasks, metrics and datasets")
    p.add_argument("kind", nargs="?", choices=["codecs", "tasks", "metrics", "datasets"])
    p.set_defaults(handler=cmd_list)


def _summary(obj: object) -> str:
    doc = (getattr(obj, "__doc__", None) or "").strip().splitlines()
    return doc[0] if doc else ""


def cmd_list(args: argparse.Namespace) -> int:
    from codecbench.plugins.registry import CODECS, DATASETS, METRICS, TASKS, discover
    from codecbench.results.cards import card_line

    discover()
    kinds = {"codecs": CODECS, "tasks": TASKS, "metrics": METRICS, "datasets": DATASETS}
    width = max(len(n) for r in kinds.values() for n in list(r.names()) + list(r.unavailable())) + 2
    for kind, registry in kinds.items():
        if args.kind and args.kind != kind:
            continue
        print(f"{kind}:")
        for name in registry.names():
            obj = registry.get(name)
            missing = obj.missing_dependencies() if hasattr(obj, "missing_dependencies") else []
            if missing:
                extra = getattr(obj, "extra", None)
                hint = f"pip install 'codecbench[{extra}]'" if extra else "install them"
                print(f"  {name:<{width}} NOT INSTALLED  missing {', '.join(missing)}: {hint}")
                continue
            params = getattr(obj, "params", None)
            detail = f" ({', '.join(f'{k}={v}' for k, v in params.items())})" if params else ""
            print(f"  {name:<{width}} installed      {_summary(getattr(obj, 'cls', obj))}{detail}")
            card = card_line(name) if kind == "codecs" else None
            if card:
                print(f"  {'':<{width}}                paper Table 5: {card}")
        for name, info in registry.unavailable().items():
            why = info.hint if info.broken else f"missing {info.missing}: {info.hint}"
            print(f"  {name:<{width}} {info.status:<14} {why}")
            card = card_line(name) if kind == "codecs" else None
            if card:
                print(f"  {'':<{width}}                paper Table 5: {card}")
    return 0
