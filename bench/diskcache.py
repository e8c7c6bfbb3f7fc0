"""A content-addressed on-disk cache (tokens, reference transcripts, speaker embeddings)."""

from __future__ import annotations

import hashlib
import io
import json
import os
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import Any

import torch


def make_key(*parts: Any) -> str:
    """sha256 of the JSON form of ``parts`` (strings, numbers, lists, dicts)."""
    blob = json.dumps(parts, sort_keys=True, default=str).encode()
    return hashlib.sha256(blob).hexdigest()


class DiskCache:
    """Objects saved with ``torch.save`` under ``root/namespace/ab/<key>.pt``; writes are atomic."""

    def __init__(self, root: str | Path, namespace: str) -> None:
        self.root = Path(root) / namespace

    def _path(self, key: str) -> Path:
        return self.root / key[:2] / f"{key}.pt"

    def get(self, key: str) -> Any | None:
        path = self._path(key)
        if not path.is_file():
            return None
        try:
            return torch.load(path, map_location="cpu", weights_only=False)
        except Exception:  # a corrupt entry is recomputed, never trusted
            path.unlink(missing_ok=True)
            return None

    def get_or_compute(self, key: str, compute: Callable[[], Any]) -> Any:
        """The cached value, or ``compute()`` stored under ``key``."""
        value = self.get(key)
        if value is None:
            value = compute()
            self.put(key, value)
        return value

    def put(self, key: str, value: Any) -> None:
        path = self._path(key)
        path.parent.mkdir(parents=True, exist_ok=True)
        buffer = io.BytesIO()
        torch.save(value, buffer)
        fd, tmp = tempfile.mkstemp(dir=path.parent, suffix=".tmp")
        try:
            with os.fdopen(fd, "wb") as handle:
                handle.write(buffer.getvalue())
            os.replace(tmp, path)
        except BaseException:
            Path(tmp).unlink(missing_ok=True)
            raise
