"""``codecbench parity FAMILY FIXTURE_DIR``: replay fixtures recorded from an official implementation.

The families are whatever plugins registered with :func:`codecbench.plugins.registry.register_parity`.
"""

from __future__ import annotations

import argparse

from codecbench.plugins.registry import PARITY, discover


def add_parsers(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("parity", help="replay a parity fixture folder; exit 0 only if every output agrees")
    p.add_argument("codec", metavar="FAMILY", help="implementation family to check (dycast, focalcodec, utmos, or "
                                                   "any a plugin registers; an unknown name lists them)")
    p.add_argument("folder", help="fixture folder (config.json, model.safetensors, manifest.json, ...)")
    p.add_argument("--all", action="store_true", help="print every check, not only a per-file summary")
    p.set_defaults(handler=cmd_parity)


def cmd_parity(args: argparse.Namespace) -> int:
    import warnings

    import pandas as pd

    warnings.filterwarnings("ignore", message="Using padding='same'")
    discover()  # here, not when the parser is built: `codecbench --help` imports no plugin
    checks = PARITY.get(args.codec)(args.folder)
    table = pd.DataFrame([{"file": c.file, "output": c.key, "kind": c.kind, "max_abs_diff": c.diff,
                           "tolerance": c.tol, "ok": c.ok, "detail": c.detail} for c in checks])
    if args.all:
        print(table.to_markdown(index=False, floatfmt=".3g"))
    else:
        summary = table.groupby(["file", "kind"]).agg(
            outputs=("output", "size"), max_abs_diff=("max_abs_diff", "max"), tolerance=("tolerance", "max"),
            failing=("ok", lambda s: int((~s).sum())))
        print(summary.reset_index().to_markdown(index=False, floatfmt=".3g"))
    failed = table[~table["ok"]]
    if not failed.empty:
        print("\nFAILING outputs:\n" + failed.to_markdown(index=False, floatfmt=".3g"))
        print(f"\nparity FAILED: {len(failed)} of {len(table)} outputs differ")
        return 1
    print(f"\nparity OK: {len(table)} outputs agree ({args.folder})")
    return 0
