"""The code of an earlier commit beside the current one in one process (benchmarks that alternate old and new).

``export(rev, folder)`` writes the commit's tree in the installed layout (``codecbench``, ``codecbench.metrics``,
``codecbench.codecs``, ...); ``Versions(folder)`` imports both and ``use("old" | "new")`` swaps ``sys.modules``.

    python benchmarks/_old_code.py 17d8d74 .device/old   # export once; pass --old .device/old/pkg later
"""

from __future__ import annotations

import contextlib
import importlib
import shutil
import subprocess
import sys
import tarfile
from collections.abc import Iterator
from pathlib import Path
from types import ModuleType

ROOT = Path(__file__).resolve().parents[1]
#: the installed layout of a revision's tree (revisions before the rename to ``codecbench`` held a package ``bench``
#: and plugin folders at the top: this helper compares revisions from the rename on)
LAYOUT = {"codecbench": "codecbench"}


def export(rev: str, out: Path) -> Path:
    """``rev``'s tree under ``out`` in the installed layout (so ``import codecbench`` finds it). ``rev`` may
    also be a folder exported before (``python benchmarks/_old_code.py REV DIR``), for a machine
    without the git history: it is used as it is."""
    if (Path(rev) / "codecbench" / "__init__.py").is_file():
        return Path(rev).resolve()
    archive = out / "tree.tar"
    subprocess.run(["git", "-C", str(ROOT), "archive", "-o", str(archive), rev], check=True)
    tree = out / "tree"
    with tarfile.open(archive) as tar:
        tar.extractall(tree, filter="data")
    pkg = out / "pkg"
    for src, dst in LAYOUT.items():
        shutil.copytree(tree / src, pkg / dst, dirs_exist_ok=True)
    return pkg


def _bench_modules() -> dict[str, ModuleType]:
    return {name: mod for name, mod in sys.modules.items() if name == "codecbench" or name.startswith("codecbench.")}


class Versions:
    """Two versions of the ``codecbench`` package in one process; ``use(name)`` installs one in ``sys.modules``."""

    def __init__(self, old_pkg: Path) -> None:
        self.modules: dict[str, dict[str, ModuleType]] = {}
        for name in _bench_modules():
            del sys.modules[name]
        editable = [f for f in sys.meta_path if "__editable__" in getattr(f, "__module__", "")
                    or "__editable__" in repr(f)]  # an editable install maps `codecbench` to this checkout first
        for finder in editable:
            sys.meta_path.remove(finder)
        sys.path.insert(0, str(old_pkg))
        importlib.invalidate_caches()
        importlib.import_module("codecbench.plugins.registry").discover()
        self.modules["old"] = _bench_modules()
        for name in self.modules["old"]:
            del sys.modules[name]
        sys.path.remove(str(old_pkg))
        sys.meta_path[:0] = editable
        importlib.invalidate_caches()
        importlib.import_module("codecbench.plugins.registry").discover()
        self.modules["new"] = _bench_modules()
        assert self.modules["old"]["codecbench"].__file__ != self.modules["new"]["codecbench"].__file__

    @contextlib.contextmanager
    def use(self, version: str) -> Iterator[dict[str, ModuleType]]:
        for name in _bench_modules():
            del sys.modules[name]
        sys.modules.update(self.modules[version])
        yield self.modules[version]


if __name__ == "__main__":
    if len(sys.argv) != 3:
        raise SystemExit("usage: python benchmarks/_old_code.py REV DIR  (writes DIR/pkg, usable as --old DIR/pkg)")
    target = Path(sys.argv[2])
    target.mkdir(parents=True, exist_ok=True)
    print(export(sys.argv[1], target))
