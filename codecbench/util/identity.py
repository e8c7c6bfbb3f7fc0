"""Code fingerprints: a digest of the source that computes a plugin's results, for every key that
persists them (token, score, transcript and embedding caches, rows, checkpoints).

:func:`code_fingerprint` of a plugin class hashes the module that defines it and every module of the
same plugin package it imports, transitively (a codec plugin brings the in-tree model package it builds and
the package's shared helper modules it uses; a metric brings its private backend modules), plus the class's
declared ``version`` (a plugin bumps it when something outside its source changes its numbers). The core
(``codecbench.*`` outside the plugin packages) is left out: it is versioned with the harness. Sources are compared
as syntax trees without docstrings, so comments, docstrings and formatting change nothing; any change to the
code does. Like joblib.Memory's function hashing, but over the plugin's whole in-tree closure.
"""

from __future__ import annotations

import ast
import hashlib
import importlib.util
import sys
from pathlib import Path

#: packages whose modules are plugins: a fingerprint follows imports within the plugin's own package
PLUGIN_PACKAGES = ("codecbench.codecs", "codecbench.tasks", "codecbench.metrics", "codecbench.corpora")
_FILE_DIGESTS: dict[tuple[str, int, int], tuple[str, tuple[str, ...]]] = {}


def _strip_docstrings(tree: ast.AST) -> ast.AST:
    for node in ast.walk(tree):
        if isinstance(node, (ast.Module, ast.ClassDef, ast.FunctionDef, ast.AsyncFunctionDef)):
            body = node.body
            first = body[0] if body else None
            docstring = isinstance(first, ast.Expr) and isinstance(first.value, ast.Constant) \
                and isinstance(first.value.value, str)
            if docstring:
                node.body = body[1:] or [ast.Pass()]
    return tree


def import_statements(tree: ast.AST, module: str, is_package: bool) -> list[tuple[str, list[str], int]]:
    """``(absolute module, names taken from it, line)`` of every import statement of a module's syntax tree,
    deferred (function-level) ones included; relative imports resolved against ``module``."""
    parts = module.split(".")
    base_parts = parts if is_package else parts[:-1]
    out: list[tuple[str, list[str], int]] = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            out += [(alias.name, [], node.lineno) for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                anchor = base_parts[: len(base_parts) - (node.level - 1)]
                target = ".".join([*anchor, node.module] if node.module else anchor)
            else:
                target = node.module or ""
            out.append((target, [alias.name for alias in node.names], node.lineno))
    return out


def _imports(tree: ast.AST, module: str, is_package: bool) -> list[str]:
    """Absolute names of the modules (and ``from x import name`` candidates) a module imports."""
    names: list[str] = []
    for target, taken, _ in import_statements(tree, module, is_package):
        names.append(target)
        names += [f"{target}.{name}" for name in taken]
    return names


def _file_of(module: str) -> tuple[Path, bool] | None:
    """The source file of a module and whether it is a package, without importing it anew."""
    loaded = sys.modules.get(module)
    path = getattr(loaded, "__file__", None) if loaded is not None else None
    if path is None:
        try:
            spec = importlib.util.find_spec(module)
        except (ImportError, ValueError, AttributeError):
            return None
        if spec is None or not spec.origin or not spec.has_location:
            return None
        path = spec.origin
    file = Path(path)
    if file.suffix != ".py" or not file.is_file():
        return None
    return file, file.name == "__init__.py"


def _digest_file(file: Path, module: str, is_package: bool) -> tuple[str, tuple[str, ...]]:
    """The digest of one source file's syntax tree and the modules it imports (cached by mtime and size)."""
    stat = file.stat()
    key = (str(file), stat.st_mtime_ns, stat.st_size)
    if key not in _FILE_DIGESTS:
        source = file.read_bytes()
        try:
            tree = ast.parse(source)
            imports = tuple(_imports(tree, module, is_package))
            digest = hashlib.sha256(ast.dump(_strip_docstrings(tree), annotate_fields=False).encode()).hexdigest()
        except SyntaxError:
            digest, imports = hashlib.sha256(source).hexdigest(), ()
        _FILE_DIGESTS[key] = (digest, imports)
    return _FILE_DIGESTS[key]


def plugin_root(module: str) -> str:
    """The package whose modules a fingerprint follows: the plugin package (``codecbench.codecs``, ...) for
    in-tree plugins, the top-level package for a third party's."""
    for package in PLUGIN_PACKAGES:
        if module == package or module.startswith(package + "."):
            return package
    return module.split(".")[0]


def source_closure(module: str) -> dict[str, str]:
    """``{module: digest}`` of ``module`` and every module of its plugin package it imports, transitively."""
    root = plugin_root(module)
    seen: dict[str, str] = {}
    todo = [module]
    while todo:
        name = todo.pop()
        if name in seen or not (name == root or name.startswith(root + ".")):
            continue
        found = _file_of(name)
        if found is None:
            continue
        file, is_package = found
        digest, imports = _digest_file(file, name, is_package)
        seen[name] = digest
        todo += [i for i in imports if i not in seen]
    return dict(sorted(seen.items()))


def code_fingerprint(obj: type | object) -> str:
    """A 12-hex digest of the code behind a plugin class (or instance): its module's in-tree closure
    (:func:`source_closure`), its qualified name and its declared ``version``."""
    cls = obj if isinstance(obj, type) else type(obj)
    closure = source_closure(cls.__module__)
    version = str(getattr(cls, "version", ""))
    blob = "\n".join([f"{cls.__module__}.{cls.__qualname__}", f"version={version}",
                      *(f"{m}={d}" for m, d in closure.items())])
    return hashlib.sha256(blob.encode()).hexdigest()[:12]
