"""``codecbench paper TABLE``: run (or resume) everything a paper table needs, then print it beside the
published numbers with the delta; ``--dry-run`` lists the plan and what is missing; ``--check`` exits 1
when a cell is outside its tolerance."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from codecbench.results.paper import PaperTable


def add_parsers(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("paper", help="regenerate a table of the DyCAST paper (table1 ... table6)")
    p.add_argument("table", help="table1 ... table6 (configs/paper/<table>.yaml; table5 prints the codec cards)")
    p.add_argument("overrides", nargs="*", help="config overrides key=value")
    p.add_argument("--root", action="append", default=[], metavar="NAME=DIR",
                   help="a corpus root (librispeech, mls, voicebank, librimix, wham, vctk, libritts, iemocap); "
                        "also roots: in the config or CODECBENCH_ROOT_<NAME>")
    p.add_argument("--dry-run", action="store_true", help="list what would run, what is cached and what is missing")
    p.add_argument("--check", action="store_true", help="exit 1 when a cell is outside its stated tolerance")
    p.add_argument("--bd", action="store_true",
                   help="also print the token-rate BD saving of the config's bd_family against each fixed-rate "
                        "baseline, ours beside the published table's (with --dry-run: the published one alone)")
    p.add_argument("--out", help="run directory (default: the config's output_dir)")
    p.add_argument("--no-progress", action="store_true")
    p.set_defaults(handler=cmd_paper)


def cmd_paper(args: argparse.Namespace) -> int:
    from codecbench.config import roots
    from codecbench.engine import runner
    from codecbench.results import paper
    from codecbench.results.tables import build_tables
    from codecbench.util.csvfile import write_csv

    if args.table == "table5":  # a card per baseline codec, nothing to run
        import pandas as pd

        from codecbench.results.cards import table5

        print(pd.read_csv(table5()).to_markdown(index=False))
        return 0
    plan = paper.load(args.table, roots.parse(args.root), args.overrides, args.out)
    lines, ok = paper.dry_run(plan) if args.dry_run else ([], True)
    if args.dry_run:
        print("\n".join(lines))
        if args.bd:
            print("\n" + _bd_claim(plan, None))
        return 0 if ok else 1
    if plan.missing_roots:
        raise FileNotFoundError(f"codecbench paper {args.table}: data root(s) {plan.missing_roots} not configured; "
                                + "; ".join(roots.how_to_set(n) for n in plan.missing_roots)
                                + f" (codecbench paper {args.table} --dry-run lists everything missing)")
    config = plan.config
    outcome = runner.run_plan(config, progress=not args.no_progress)
    rendered = build_tables([config.output_dir], None, plan.published, plan.joins)
    name = args.table if plan.joins else next(iter(plan.section.get("show") or []), None)
    shown = [name] if name in rendered else sorted(rendered)
    for table in shown:
        print(f"## {table}\n\n{rendered[table].markdown}")
    if args.table == "table1":  # also as the paper lays it out, beside its values
        from codecbench.results import table1

        laid_out, markdown = table1.layout(config.output_dir, [c.label for c in config.codecs])
        write_csv(laid_out, config.output_dir / "table1.csv", index=False, float_format="%.4g")
        (config.output_dir / "table1.md").write_text(markdown)
        print(f"## Table 1 as published\n\n{markdown}")
    if plan.published is None:
        return 0
    import pandas as pd

    tolerance = {str(k): float(v) for k, v in (plan.section.get("tolerance") or {}).items()}
    cells = []
    for table in shown:
        cells.append(paper.compare_published(rendered[table], tolerance))
    deltas = pd.concat(cells, ignore_index=True) if cells else pd.DataFrame()
    summary = runner.summarize_run(outcome.plan, outcome.store)
    if deltas.empty:
        print("no cell has both our number and a published one (dataset names must match the paper's)")
    else:
        print(deltas.to_markdown(index=False, floatfmt=".3f"))
        write_csv(deltas, config.output_dir / "tables" / f"{args.table}_vs_paper.csv", index=False)
    if args.bd:
        print(_bd_claim(plan, config.output_dir / "tables"))
    print("\n".join(summary.lines()))
    if args.check:
        bad = deltas[deltas["ok"] == False] if not deltas.empty else deltas  # noqa: E712 - None = unchecked
        if not bad.empty:
            print(f"CHECK FAILED: {len(bad)} cells outside tolerance", file=sys.stderr)
            return 1
        print(f"check: {int((deltas['ok'] == True).sum()) if not deltas.empty else 0} cells within tolerance")  # noqa: E712
    return 1 if summary.failed else 0


def _bd_claim(plan: PaperTable, tables: Path | None) -> str:
    """The ``--bd`` view: writes ``bd_paper.csv`` beside the tables (after a run) and returns its Markdown."""
    import pandas as pd

    from codecbench.results import bd, paper_bd
    from codecbench.results.columns import output_specs
    from codecbench.results.tables import read_published
    from codecbench.util.csvfile import write_csv
    from codecbench.util.shipped import published

    if plan.published is None:
        raise ValueError(f"configs/paper/{plan.name}.yaml publishes no numbers: --bd has nothing to read")
    if not bd.available():
        raise ModuleNotFoundError("--bd needs the bjontegaard package: pip install 'codecbench[report]'")
    family, baselines = paper_bd.bd_claim(plan.section, plan.name)
    theirs = read_published(plan.published)
    config = plan.config
    names = list(dict.fromkeys([*(c.label for c in config.codecs), *theirs["codec"]]))
    families = {n: f for n in names if (f := bd.registered_family(n))}
    families.update({label: name for name, labels in config.families.items() for label in labels})
    ours = intervals = None
    if tables is not None:
        families.update(bd.declared_families([tables.parent]))
        if (tables / "summary.csv").is_file():
            ours = paper_bd.summary_cells(pd.read_csv(tables / "summary.csv"))
        if (tables / "bd.csv").is_file():
            intervals = pd.read_csv(tables / "bd.csv", keep_default_na=False, na_values=[""])
    higher = {name: spec.higher_is_better for name, spec in output_specs().items()}
    frame = paper_bd.paper_bd(paper_bd.published_cells(theirs, paper_bd.published_token_rates(published("table1.csv"))),
                              ours, intervals, families, family, baselines, higher)
    if tables is not None:
        write_csv(frame, tables / "bd_paper.csv", index=False, float_format="%.17g")
    return paper_bd.markdown(frame, family)
