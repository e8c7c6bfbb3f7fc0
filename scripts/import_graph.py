"""The import graph of the core (``codecbench/``) and the layers it must respect.

Every ``import`` counts, at module level or inside a function (a deferred import is still a dependency).
``python scripts/import_graph.py [REPO]`` prints files, levels, arrows, arrows that go up, cycles and lines;
``tests/core/test_layers.py`` fails on any cycle, any arrow up, any plugin import of the core other than
``codecbench.api``, and any import of another module's private name.
"""

from __future__ import annotations

import ast
import sys
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

from codecbench.util.identity import import_statements

#: the core's layers, lowest first: each is a sub-package of ``codecbench`` (the folder list is the floor plan);
#: a module imports modules of its own layer or of the layers below. ``python_api`` is the package itself and
#: its front door (``codecbench.evaluation``); ``entry`` is ``python -m codecbench``.
LAYERS: tuple[str, ...] = ("util", "plugins", "assets", "api", "config", "engine", "results", "python_api", "cli",
                           "entry")
#: top-level modules of ``codecbench`` and their layer
TOP_MODULES = {"codecbench": "python_api", "codecbench.evaluation": "python_api", "codecbench.__main__": "entry"}
#: the one package plugins (``codecbench/codecs``, ``tasks``, ``metrics``, ``corpora``) import from the core
PLUGIN_API = "codecbench.api"
PLUGIN_DIRS = ("codecs", "tasks", "metrics", "corpora")


@dataclass
class Graph:
    """Modules of ``codecbench`` (dotted names), their files and the ``codecbench`` modules each imports."""

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
    """The layer of a core module: its sub-package (``codecbench.engine.jobs`` is in ``engine``), or
    :data:`TOP_MODULES`."""
    if module in TOP_MODULES:
        return TOP_MODULES[module]
    head = module.removeprefix("codecbench.").split(".")[0]
    return head if head in LAYERS else None


def rank(layer: str | None) -> int:
    return LAYERS.index(layer) if layer in LAYERS else len(LAYERS)


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
    (:func:`codecbench.util.identity.import_statements`, the reader code fingerprints follow imports with)."""
    tree = ast.parse(file.read_text(encoding="utf-8"))
    return import_statements(tree, module, file.name == "__init__.py")


def resolve(target: str, names: list[str], known: dict[str, Path]) -> set[str]:
    """The known modules an import reaches: ``from codecbench import store`` reaches ``codecbench.engine.store``;
    imports of
    the plugin packages (``codecbench.codecs...``) and of other packages reach none."""
    if not (target == "codecbench" or target.startswith("codecbench.")) or _is_plugin(target):
        return set()
    reached = set()
    for candidate in [f"{target}.{n}" for n in names if f"{target}.{n}" in known] or [target]:
        while candidate and candidate not in known:
            candidate = candidate.rpartition(".")[0]
        if candidate:
            reached.add(candidate)
    return reached


def _is_plugin(module: str) -> bool:
    return module.startswith(tuple(f"codecbench.{d}" for d in PLUGIN_DIRS))


def core_graph(root: Path) -> Graph:
    files = {m: f for m, f in module_files(root, "codecbench", root / "codecbench").items() if not _is_plugin(m)}
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
    """Plugin imports of the core other than :data:`PLUGIN_API` itself, as ``file:line module``."""
    out = []
    for folder in PLUGIN_DIRS:
        for module, file in module_files(root, f"codecbench.{folder}", root / "codecbench" / folder).items():
            for target, _, line in imports_of(module, file):
                if target.startswith("codecbench") and not _is_plugin(target) and target != PLUGIN_API:
                    out.append(f"{file.relative_to(root)}:{line} {target}")
    return out


def private_imports(root: Path) -> list[str]:
    """Imports of another module's private name (``from .tables import _marks``) and attribute reads of one
    on a project module (``runner._Lazy``), as ``file:line name``. A private module of one's own package
    (``codecbench/tasks/_training.py``) is fine: its public names are for that package."""
    out = []
    for module, file in module_files(root, "codecbench", root / "codecbench").items():
        tree = ast.parse(file.read_text(encoding="utf-8"))
        project_aliases = set()
        for target, names, line in import_statements(tree, module, file.name == "__init__.py"):
            if target.startswith("codecbench"):
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
        f"plugin imports of the core other than {PLUGIN_API}: {plugin_violations(root) or 'none'}",
        f"private names imported: {private_imports(root) or 'none'}",
    ])


if __name__ == "__main__":
    print(report(Path(sys.argv[1]) if len(sys.argv) > 1 else Path(__file__).resolve().parents[1]))
