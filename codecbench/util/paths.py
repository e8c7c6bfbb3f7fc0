"""Where the harness keeps caches and run output (overridable by environment variables)."""

from __future__ import annotations

import os
from pathlib import Path


def cache_dir() -> Path:
    """Token / transcript / model caches: ``$CODECBENCH_CACHE`` or ``~/.cache/codecbench``."""
    root = os.environ.get("CODECBENCH_CACHE")
    path = Path(root) if root else Path.home() / ".cache" / "codecbench"
    path.mkdir(parents=True, exist_ok=True)
    return path


def shared_data_dir() -> Path | None:
    """The real clips beside the project (``$CODECBENCH_SHARED_DATA`` or ``../shared/data``), if present."""
    env = os.environ.get("CODECBENCH_SHARED_DATA")
    candidates = [Path(env)] if env else []
    here = Path(__file__).resolve().parent.parent
    candidates += [here.parent / "shared" / "data", Path.cwd().parent / "shared" / "data"]
    for cand in candidates:
        if (cand / "manifest.csv").is_file():
            return cand
    return None
