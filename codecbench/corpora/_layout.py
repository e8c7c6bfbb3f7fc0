"""Root validation shared by the corpus adapters: a missing expected sub-folder is one clear error."""

from __future__ import annotations

from pathlib import Path


class CorpusLayoutError(FileNotFoundError):
    """A corpus root that does not have the layout of the distributed corpus."""


def require_dirs(root: Path, corpus: str, *names: str, hint: str = "") -> None:
    """Every one of ``names`` (relative paths) must be a folder under ``root``."""
    missing = [n for n in names if not (root / n).is_dir()]
    if missing:
        raise CorpusLayoutError(f"{corpus} root {root} lacks the expected sub-folder(s) {missing}"
                                f"{'; ' + hint if hint else ''}")


def require_any(root: Path, corpus: str, candidates: list[str], hint: str = "") -> Path:
    """The first of ``candidates`` that is a folder under ``root``."""
    for name in candidates:
        if (root / name).is_dir():
            return root / name
    raise CorpusLayoutError(f"{corpus} root {root} has none of the expected sub-folders {candidates}"
                            f"{'; ' + hint if hint else ''}")
