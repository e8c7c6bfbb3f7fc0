"""The import graph of the core (``bench/``) and the layers it must respect.

Every ``import`` counts, at module level or inside a function (a deferred import is still a dependency).
``python scripts/import_graph.py [REPO]`` prints files, levels, arrows, arrows that go up, cycles and lines;
``tests/bench/test_layers.py`` fails on any cycle, any arrow up, any plugin import from above the layers
plugins may use, and any import of another module's private name.
"""

from __future__ import annotations

import ast
import sys
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

from bench.identity import import_statements

#: the core's layers, lowest first; a module imports modules of its own layer or of the layers below
LAYERS: tuple[tuple[str, tuple[str, ...]], ...] = (
    ("foundation", ("registry", "names", "paths", "keywords", "threads", "text", "audio", "identity", "roots",
                    "csvfile", "timing", "asset_checks", "prefetch", "knn", "cards", "parity", "rows", "resources",
                    "options", "yamlfile", "outdir")),
    ("storage", ("rowframe", "store")),
    ("assets", ("assets",)),
    ("api", ("codec", "contract", "datasets", "metric", "diskcache", "task", "synth")),
    ("config", ("config", "profiles", "plan")),
    ("engine", ("jobs", "executor", "runner")),
    ("results", ("columns", "intervals", "tables", "check", "report", "paper", "table1", "calibrate",
                 "listening", "outputs")),
    ("cli", ("cli", "__main__", "")),  # "" is the package itself; cli.* modules belong to "cli"
)
#: the highest layer plugins (``codecs/``, ``tasks/``, ``metrics/``, ``corpora/``) may import from
PLUGIN_CEILING = "api"
PLUGIN_DIRS = ("codecs", "tasks", "metrics", "corpora")


@dataclass
class Graph:
    """Modules of ``bench`` (dotted names), their files and the ``bench`` modules each imports."""

    files: dict[str, Path]
    edges: dict[str, set[str]]

    def cycles(self) -> list[list[str]]:
        """Strongly connected components of more than one module (Tarjan)."""
        index: dict[str, int] = {}
        low: dict[str, int] = {}
        stack: list[str] = []
        on_stack: set[str] = set()
        found: list[list[str]] = []

        def visit(v: str) -> None:
            index[v] = low[v] = len(index)
            stack.append(v)
            on_stack.add(v)
            for w in sorted(self.edges[v]):
                if w not in index:
                    visit(w)
                    low[v] = min(low[v], low[w])
                elif w in on_stack:
                    low[v] = min(low[v], index[w])
            if low[v] == index[v]:
                component = []
                while True:
                    w = stack.pop()
                    on_stack.discard(w)
                    component.append(w)
                    if w == v:
                        break
                if len(component) > 1:
                    found.append(sorted(component))

        for module in sorted(self.files):
            if module not in index:
                visit(module)
        return found

    def levels(self) -> int:
        """Length of the longest import chain (1 for a module that imports none), on an acyclic graph."""

        @lru_cache(maxsize=None)
        def depth(module: str) -> int:
            return 1 + max((depth(w) for w in self.edges[module]), default=0)

        return max(depth(m) for m in self.files) if not self.cycles() else -1


def layer_of(module: str) -> str | None:
    """The layer of a ``bench`` module by its declared name (``bench.cli.run`` is in ``cli``)."""
    short = module.removeprefix("bench").lstrip(".")
    head = short.split(".")[0] if short.startswith("cli") else short
    for name, members in LAYERS:
        if head in members:
            return name
    return None


def rank(layer: str | None) -> int:
    names = [name for name, _ in LAYERS]
    return names.index(layer) if layer in names else len(names)


def module_files(root: Path, package: str, folder: Path) -> dict[str, Path]:
    """``{dotted module name: file}`` of every ``.py`` under ``folder`` (the package ``package``)."""
    out = {}
    for file in sorted(folder.rglob("*.py")):
        parts = file.relative_to(folder).with_suffix("").parts
        name = ".".join((package, *parts))
        out[name.removesuffix(".__init__")] = file
    return out


def imports_of(module: str, file: Path) -> list[tuple[str, list[str], int]]:
    """``(imported module, names taken from it, line)`` of every import statement of a file
    (:func:`bench.identity.import_statements`, the reader code fingerprints follow imports with)."""
    tree = ast.parse(file.read_text(encoding="utf-8"))
    return import_statements(tree, module, file.name == "__init__.py")


def resolve(target: str, names: list[str], known: dict[str, Path]) -> set[str]:
    """The known modules an import reaches: ``from bench import store`` reaches ``bench.store``; imports of
    the plugin packages (``bench.codecs...``) and of other packages reach none."""
    if not (target == "bench" or target.startswith("bench.")) or target.startswith(
            tuple(f"bench.{d}" for d in PLUGIN_DIRS)):
        return set()
    reached = set()
    for candidate in [f"{target}.{n}" for n in names if f"{target}.{n}" in known] or [target]:
        while candidate and candidate not in known:
            candidate = candidate.rpartition(".")[0]
        if candidate:
            reached.add(candidate)
    return reached


def core_graph(root: Path) -> Graph:
    files = module_files(root, "bench", root / "bench")
    edges = {m: set() for m in files}
    for module, file in files.items():
        for target, names, _ in imports_of(module, file):
            edges[module] |= resolve(target, names, files) - {module}
    return Graph(files, edges)


def upward_arrows(graph: Graph) -> list[tuple[str, str]]:
    """``(importer, imported)`` where the imported module's layer is above the importer's."""
    return [(m, w) for m in sorted(graph.edges) for w in sorted(graph.edges[m])
            if rank(layer_of(w)) > rank(layer_of(m))]


def plugin_violations(root: Path) -> list[str]:
    """Plugin imports of core modules above :data:`PLUGIN_CEILING`, as ``file:line module``."""
    core = module_files(root, "bench", root / "bench")
    ceiling = rank(PLUGIN_CEILING)
    out = []
    for folder in PLUGIN_DIRS:
        for module, file in module_files(root, f"bench.{folder}", root / folder).items():
            for target, names, line in imports_of(module, file):
                for reached in resolve(target, names, core):
                    if rank(layer_of(reached)) > ceiling:
                        out.append(f"{file.relative_to(root)}:{line} {reached}")
    return out


def private_imports(root: Path) -> list[str]:
    """Imports of another module's private name (``from .tables import _marks``) and attribute reads of one
    on a project module (``runner._Lazy``), as ``file:line name``. A private module of one's own package
    (``tasks/_training.py``) is fine: its public names are for that package."""
    out = []
    for folder in ("bench", *PLUGIN_DIRS):
        package = "bench" if folder == "bench" else f"bench.{folder}"
        for module, file in module_files(root, package, root / folder).items():
            tree = ast.parse(file.read_text(encoding="utf-8"))
            project_aliases = set()
            for target, names, line in import_statements(tree, module, file.name == "__init__.py"):
                if target.startswith("bench"):
                    project_aliases |= {n for n in names if not n.startswith("_")}
                    out += [f"{file.relative_to(root)}:{line} {target}.{n}" for n in names
                            if n.startswith("_") and not n.startswith("__")]
            for node in ast.walk(tree):
                if (isinstance(node, ast.Attribute) and isinstance(node.value, ast.Name)
                        and node.value.id in project_aliases and node.attr.startswith("_")
                        and not node.attr.startswith("__")):
                    out.append(f"{file.relative_to(root)}:{node.lineno} {node.value.id}.{node.attr}")
    return out


def report(root: Path) -> str:
    graph = core_graph(root)
    lines = sum(len(f.read_text(encoding="utf-8").splitlines()) for f in graph.files.values())
    unassigned = sorted(m for m in graph.files if layer_of(m) is None)
    return "\n".join([
        f"core files: {len(graph.files)}, lines: {lines}",
        f"arrows: {sum(len(e) for e in graph.edges.values())}, levels: {graph.levels()}",
        f"arrows up: {len(upward_arrows(graph))} {upward_arrows(graph) or ''}",
        f"cycles: {len(graph.cycles())} {graph.cycles() or ''}",
        f"modules in no layer: {unassigned or 'none'}",
        f"plugin imports above {PLUGIN_CEILING!r}: {plugin_violations(root) or 'none'}",
        f"private names imported: {private_imports(root) or 'none'}",
    ])


if __name__ == "__main__":
    print(report(Path(sys.argv[1]) if len(sys.argv) > 1 else Path(__file__).resolve().parents[1]))
