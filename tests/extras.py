"""Which optional extras of the project are installed here (read from the installed package's metadata),
so that a test marked ``@pytest.mark.extra("NAME")`` skips, naming the extra, where it is absent."""

from __future__ import annotations

import re
from functools import cache
from importlib import metadata

PROJECT = "codecbench"
_EXTRA = re.compile(r"""extra\s*==\s*["']([^"']+)["']""")
_NAME = re.compile(r"\s*([A-Za-z0-9][A-Za-z0-9._-]*)(\[([^\]]*)\])?")


def _normal(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()


@cache
def requirements(extra: str) -> tuple[tuple[str, tuple[str, ...]], ...]:
    """``(distribution, extras)`` of each requirement the extra adds (an unknown extra: ValueError)."""
    declared = metadata.metadata(PROJECT).get_all("Provides-Extra") or []
    if _normal(extra) not in {_normal(e) for e in declared}:
        raise ValueError(f"{PROJECT} declares no extra {extra!r} (it has {sorted(declared)})")
    found = []
    for line in metadata.requires(PROJECT) or []:
        requirement, _, marker = line.partition(";")
        match = _EXTRA.search(marker)
        if match and _normal(match.group(1)) == _normal(extra):
            name = _NAME.match(requirement)
            if name:
                inner = tuple(e.strip() for e in (name.group(3) or "").split(",") if e.strip())
                found.append((name.group(1), inner))
    return tuple(found)


@cache
def missing(extra: str) -> tuple[str, ...]:
    """The distributions of ``extra`` (and of the project's own extras it names) not installed here."""
    absent: list[str] = []
    for name, inner in requirements(extra):
        if _normal(name) == PROJECT:
            for sub in inner:
                absent += [m for m in missing(sub) if m not in absent]
            continue
        try:
            metadata.distribution(name)
        except metadata.PackageNotFoundError:
            absent.append(name)
    return tuple(absent)


def skip_reason(extra: str) -> str | None:
    """Why a test that needs ``extra`` cannot run here, or None when it can."""
    absent = missing(extra)
    if not absent:
        return None
    return (f"needs the optional extra '{extra}' ({', '.join(absent)} not installed): "
            f"pip install -c constraints.txt -e '.[{extra}]'")
