"""MkDocs hook: a page per codec (``codecs/<module>.md``), made at build time from what the installed plugins
declare (variants and their params, constructor parameters with their types and ranges, assets with licence and
size, the paper's codec card, a parity replay), so the pages never drift from the code. ``codec_pages()`` is
also what ``tests/core/test_docs.py`` checks."""

from __future__ import annotations

import inspect
from collections import defaultdict
from typing import Any


def _params_table(cls: type) -> list[str]:
    from codecbench.util.keywords import parameter_hints
    from codecbench.util.options import describe

    hints = parameter_hints(cls.__init__)  # type: ignore[misc]
    rows = []
    for name, param in inspect.signature(cls.__init__).parameters.items():  # type: ignore[misc]
        if name == "self" or param.kind in (param.VAR_KEYWORD, param.VAR_POSITIONAL):
            continue
        default = "required" if param.default is inspect.Parameter.empty else f"`{param.default!r}`"
        accepted = describe(hints[name]) if name in hints else "any"
        rows.append(f"| `{name}` | {accepted.replace('|', '/')} | {default} |")
    return ["| parameter | accepts | default |", "|---|---|---|", *rows] if rows else ["No parameters."]


def codec_pages() -> dict[str, str]:
    """``{page path: Markdown}``: one page per codec plugin module, and the list of them
    (``codecs/installed.md``)."""
    from codecbench.plugins.registry import CODECS, PARITY, discover
    from codecbench.results.cards import card_line

    discover()
    by_module: dict[str, list[tuple[str, Any]]] = defaultdict(list)
    for name, variant in CODECS.items():
        by_module[variant.cls.__module__].append((name, variant))
    parity = {family: fn.__module__.rsplit(".", 1)[0] for family, fn in PARITY.items()}
    pages: dict[str, str] = {}
    listing = ["# Installed codecs", "",
               "Generated from the plugins' declarations when the docs were built (`codecbench list codecs` prints "
               "the same for your installation).", "", "| codec | variants |", "|---|---|"]
    for module, entries in sorted(by_module.items()):
        cls = entries[0][1].cls
        slug = module.removeprefix("codecbench.codecs.").removesuffix(".plugin").replace(".", "-")
        doc = inspect.getdoc(cls) or ""
        lines = [f"# {cls.__name__}", "", f"`{module}.{cls.__qualname__}`", "", doc, "", "## Variants", "",
                 "| name | params | codec card (the paper's Table 5) |", "|---|---|---|"]
        for name, variant in entries:
            params = ", ".join(f"`{k}={v!r}`" for k, v in variant.params.items()) or "as the class defaults"
            lines.append(f"| `{name}` | {params} | {card_line(name) or '-'} |")
        lines += ["", "## Parameters", "", *_params_table(cls), ""]
        assets = getattr(cls, "assets", ())
        lines += ["## Weights", ""]
        if assets:
            lines += ["| asset | what | licence | size | source |", "|---|---|---|---|---|"]
            lines += [f"| `{a.name}` | {a.description} | {a.licence or '-'} | {a.size or '-'} | {a.source} |"
                      for a in assets]
            lines += ["", "Without them the real architecture runs with random weights: its rows are flagged † and "
                          "never ranked. `codecbench assets` shows where each resolves."]
        else:
            lines.append("None: the codec has no pretrained weights.")
        families = sorted(f for f, package in parity.items() if module.startswith(package))
        lines += ["", "## Parity with the official code", ""]
        lines.append(", ".join(f"`codecbench parity {f} FIXTURES`" for f in families)
                     + " replays tensors recorded from the official implementation." if families
                     else "No replay of official fixtures ships for this codec; see [the protocol table]"
                          "(../protocol.md) for how it was checked.")
        pages[f"codecs/{slug}.md"] = "\n".join(lines) + "\n"
        listing.append(f"| [{cls.__name__}]({slug}.md) | {', '.join(f'`{n}`' for n, _ in entries)} |")
    missing = CODECS.unavailable()
    if missing:
        listing += ["", "Known here but not installed (their extra or environment installs them):", ""]
        listing += [f"- `{name}`: {info.hint}" for name, info in missing.items()]
    pages["codecs/installed.md"] = "\n".join(listing) + "\n"
    return pages


def on_files(files: Any, config: Any) -> Any:
    """Add the generated pages to the site."""
    from mkdocs.structure.files import File

    for path, content in codec_pages().items():
        files.append(File.generated(config, path, content=content))
    return files
