"""A content-addressed on-disk cache (tokens, metric scores, reference transcripts, speaker embeddings).

Nothing from the cache is ever unpickled or executed. An entry is an ``.npz`` archive read with
``np.load(allow_pickle=False)``: the value's arrays, and a JSON tree that names them. Only plain
data (None, bool, int, float, str, lists, tuples, str-keyed dicts), arrays, tensors and the
project's own result types (:data:`SAFE_TYPES`: ``Tokens``, ``Score``) are stored and rebuilt.
An entry that fails to load, decode or has the wrong type is deleted (recomputed by the caller)
with a warning; a write that fails (disk full, read-only) is skipped with a warning and the
value is still used.
"""

from __future__ import annotations

import dataclasses
import hashlib
import io
import json
import logging
import os
import tempfile
import zipfile
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import torch

log = logging.getLogger(__name__)
TREE = "__tree__"


def make_key(*parts: Any) -> str:
    """sha256 of the JSON form of ``parts`` (strings, numbers, lists, dicts)."""
    blob = json.dumps(parts, sort_keys=True, default=str).encode()
    return hashlib.sha256(blob).hexdigest()


def _safe_types() -> dict[str, type]:
    from codecbench.api.codec import Tokens
    from codecbench.api.metric import Score

    return {"Tokens": Tokens, "Score": Score}


def _encode(value: Any, arrays: dict[str, np.ndarray]) -> Any:
    if value is None or isinstance(value, (bool, int, float, str)):
        return value
    if isinstance(value, np.generic):
        return value.item()
    if isinstance(value, torch.Tensor):
        arrays[name := f"a{len(arrays)}"] = value.detach().cpu().numpy()
        return {"__tensor__": name}
    if isinstance(value, np.ndarray):
        if value.dtype == object:
            raise TypeError("object arrays cannot be cached")
        arrays[name := f"a{len(arrays)}"] = value
        return {"__ndarray__": name}
    if isinstance(value, (list, tuple)):
        items = [_encode(v, arrays) for v in value]
        return items if isinstance(value, list) else {"__tuple__": items}
    if isinstance(value, dict):
        if not all(isinstance(k, str) for k in value):
            raise TypeError("only str-keyed dicts can be cached")
        return {"__dict__": {k: _encode(v, arrays) for k, v in value.items()}}
    name = type(value).__name__
    if dataclasses.is_dataclass(value) and _safe_types().get(name) is type(value):
        fields = {f.name: _encode(getattr(value, f.name), arrays) for f in dataclasses.fields(value)}
        return {"__type__": name, "fields": fields}
    raise TypeError(f"{type(value).__qualname__} cannot be cached (not in the safe types)")


def _decode(node: Any, arrays: dict[str, np.ndarray]) -> Any:
    if isinstance(node, list):
        return [_decode(v, arrays) for v in node]
    if not isinstance(node, dict):
        return node
    if "__tensor__" in node:
        return torch.from_numpy(np.array(arrays[node["__tensor__"]]))
    if "__ndarray__" in node:
        return np.array(arrays[node["__ndarray__"]])
    if "__tuple__" in node:
        return tuple(_decode(v, arrays) for v in node["__tuple__"])
    if "__dict__" in node:
        return {k: _decode(v, arrays) for k, v in node["__dict__"].items()}
    if "__type__" in node:
        cls = _safe_types().get(node["__type__"])
        if cls is None:
            raise ValueError(f"cache entry names a type outside the safe types: {node['__type__']!r}")
        return cls(**{k: _decode(v, arrays) for k, v in node["fields"].items()})
    raise ValueError(f"unknown cache node {sorted(node)}")


def dumps(value: Any) -> bytes:
    """The ``.npz`` bytes of a value (:class:`TypeError` for values outside the safe set)."""
    arrays: dict[str, np.ndarray] = {}
    tree = json.dumps(_encode(value, arrays))
    buffer = io.BytesIO()
    members = {TREE: np.frombuffer(tree.encode("utf-8"), dtype=np.uint8), **arrays}
    np.savez(buffer, **members)  # type: ignore[arg-type]
    return buffer.getvalue()


def loads(data: bytes | Path) -> Any:
    """The value of ``.npz`` bytes (or a file) written by :func:`dumps`; never unpickles."""
    source = io.BytesIO(data) if isinstance(data, bytes) else data
    with np.load(source, allow_pickle=False) as archive:
        arrays = {name: archive[name] for name in archive.files}
    tree = json.loads(arrays.pop(TREE).tobytes().decode("utf-8"))
    return _decode(tree, arrays)


class DiskCache:
    """Values under ``root/namespace/ab/<key>.npz``; atomic writes, safe reads."""

    def __init__(self, root: str | Path, namespace: str) -> None:
        self.root = Path(root) / namespace

    def _path(self, key: str) -> Path:
        return self.root / key[:2] / f"{key}.npz"

    def get(self, key: str, expect: type | tuple[type, ...] | None = None) -> Any | None:
        """The cached value, or None (absent, unreadable, or not of type ``expect``: then deleted)."""
        path = self._path(key)
        if not path.is_file():
            return None
        try:
            value = loads(path)
            if expect is not None and not isinstance(value, expect):
                raise TypeError(f"holds {type(value).__name__}, expected {expect}")
            return value
        except (OSError, ValueError, TypeError, KeyError, zipfile.BadZipFile, json.JSONDecodeError) as err:
            log.warning("cache entry %s is unusable (%s: %s): deleted, recomputing", path, type(err).__name__, err)
            path.unlink(missing_ok=True)
            return None

    def get_or_compute(self, key: str, compute: Callable[[], Any], expect: type | tuple[type, ...] | None = None
                       ) -> Any:
        """The cached value, or ``compute()`` stored under ``key``."""
        value = self.get(key, expect)
        if value is None:
            value = compute()
            self.put(key, value)
        return value

    def put(self, key: str, value: Any) -> None:
        """Store ``value``; a failed write (disk full, read-only cache) is a warning, not an error."""
        path = self._path(key)
        tmp = None
        try:
            data = dumps(value)
            path.parent.mkdir(parents=True, exist_ok=True)
            fd, tmp = tempfile.mkstemp(dir=path.parent, suffix=".tmp")
            with os.fdopen(fd, "wb") as handle:
                handle.write(data)
            os.replace(tmp, path)
        except (OSError, TypeError) as err:
            log.warning("could not cache %s under %s (%s: %s); going on without caching it",
                        type(value).__name__, self.root, type(err).__name__, err)
            if tmp is not None:
                Path(tmp).unlink(missing_ok=True)
