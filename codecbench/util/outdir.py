"""Where commands write: an output folder never overlaps what the command reads, is never a folder of someone
else's files, and every file goes in whole (written beside, then renamed over) or not at all.

- :func:`check_disjoint`: the output may not be, contain, or sit inside any input path it reads.
- :class:`OutputDir`: a folder a command owns. It must be new, empty, or one this kind of command made before (its
  marker file says so): a command never writes over files it did not make. Files are written atomically.
- :func:`atomic_write_text` / :func:`atomic_write_bytes` / :func:`atomic_copy`: the one way a result file is written.
"""

from __future__ import annotations

import json
import os
import shutil
import tempfile
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any

#: the file that marks a folder as made by a command of this harness: ``{"kind": ...}``
MARKER = ".codecbench-output.json"


class OutputConflict(ValueError):
    """An output folder that overlaps the command's inputs, or holds files the command did not make."""


def _resolved(path: Path) -> Path:
    return Path(os.path.realpath(path.expanduser()))


def check_disjoint(out: str | Path, inputs: Iterable[str | Path], what: str) -> None:
    """Raise :class:`OutputConflict` when ``out`` is, contains, or sits inside one of ``inputs`` (paths the command
    reads: files or folders; links resolved)."""
    target = _resolved(Path(out))
    for given in inputs:
        source = _resolved(Path(given))
        if target == source or source.is_relative_to(target) or target.is_relative_to(source):
            relation = ("is" if target == source else "contains" if source.is_relative_to(target)
                        else "sits inside")
            raise OutputConflict(f"{what} {out} {relation} {given}, which this command reads; choose a folder apart "
                                 "from its inputs")


def _temporary(path: Path) -> tuple[int, str]:
    path.parent.mkdir(parents=True, exist_ok=True)
    return tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")


def atomic_write(path: str | Path, write: Callable[[Path], Any]) -> None:
    """Call ``write(tmp)`` on a temporary file beside ``path``, then rename it over ``path`` (a reader sees the old
    file or the new one, never half of one; the temporary file is removed on failure)."""
    path = Path(path)
    fd, tmp = _temporary(path)
    os.close(fd)
    try:
        write(Path(tmp))
        os.chmod(tmp, 0o644)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def atomic_write_bytes(path: str | Path, data: bytes) -> None:
    atomic_write(path, lambda tmp: tmp.write_bytes(data))


def atomic_write_text(path: str | Path, text: str) -> None:
    atomic_write(path, lambda tmp: tmp.write_text(text, encoding="utf-8"))


def atomic_write_json(path: str | Path, data: Any) -> None:
    atomic_write_text(path, json.dumps(data, indent=2) + "\n")


def atomic_copy(source: str | Path, target: str | Path) -> None:
    atomic_write(target, lambda tmp: shutil.copyfile(source, tmp))


class OutputDir:
    """A folder a command writes its results into (``kind``: ``report``, ``tables``, ``listening-test``...).

    Made when missing; an existing folder must be empty or marked as made by the same kind of command (a re-run
    replaces its own files). Anything else is refused before a file is written."""

    def __init__(self, path: str | Path, kind: str, inputs: Iterable[str | Path] = (), what: str = "--out",
                 owned: bool = False) -> None:
        """``owned``: a folder of the harness's own layout (a run folder's ``tables/``), never someone else's."""
        self.path, self.kind = Path(path), kind
        check_disjoint(self.path, inputs, what)
        if self.path.exists() and not self.path.is_dir():
            raise OutputConflict(f"{what} {self.path} is a file, not a folder")
        if not owned and self.path.is_dir() and any(self.path.iterdir()):
            made_by = self.marked_kind(self.path)
            if made_by != kind:
                owner = f"made by `codecbench {made_by}`" if made_by else "not made by this harness"
                raise OutputConflict(f"{what} {self.path} holds files {owner}; this command writes only into a new or "
                                     f"empty folder, or one a `codecbench {kind}` made before")
        if self.path.is_symlink() and not self.path.exists():
            raise OutputConflict(f"{what} {self.path} is a link to nothing ({os.readlink(self.path)}); name a folder")
        blocked = next((p for p in self.path.parents if p.exists() and not p.is_dir()), None)
        if blocked is not None:
            raise OutputConflict(f"{what} {self.path}: {blocked} is a file, so no folder can be made inside it")
        try:
            self.path.mkdir(parents=True, exist_ok=True)
        except OSError as err:
            raise OutputConflict(f"{what} {self.path}: the folder cannot be made ({err.strerror or err})") from None
        atomic_write_json(self.path / MARKER, {"kind": kind})

    @staticmethod
    def marked_kind(path: Path) -> str | None:
        """The kind of command that made a folder (its marker), or None."""
        try:
            data = json.loads((path / MARKER).read_text(encoding="utf-8"))
        except (OSError, ValueError):
            return None
        return str(data.get("kind")) if isinstance(data, dict) and data.get("kind") else None

    def file(self, relative: str | Path) -> Path:
        """The path of a file inside the folder (``..`` and absolute paths refused)."""
        path = self.path / relative
        if not _resolved(path).is_relative_to(_resolved(self.path)):
            raise OutputConflict(f"{relative} is outside the output folder {self.path}")
        return path

    def write_text(self, relative: str | Path, text: str) -> Path:
        path = self.file(relative)
        atomic_write_text(path, text)
        return path

    def write_json(self, relative: str | Path, data: Any) -> Path:
        path = self.file(relative)
        atomic_write_json(path, data)
        return path
