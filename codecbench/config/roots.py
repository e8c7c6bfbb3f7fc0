"""Data roots, configured once: ``{root:NAME}`` in a dataset's ``root`` or options (or a codec's params)
is replaced by the directory of corpus NAME, from (first match) ``--root NAME=DIR``, the config's
``roots: {NAME: DIR}``, or the environment variable ``CODECBENCH_ROOT_<NAME>``."""

from __future__ import annotations

import os
import re
from typing import Any

PLACEHOLDER = re.compile(r"\{root:([A-Za-z0-9_.-]+)\}")


def env_var(name: str) -> str:
    return "CODECBENCH_ROOT_" + re.sub(r"[-.]", "_", name.upper())


def root_of(name: str, roots: dict[str, str]) -> str | None:
    return roots.get(name) or os.environ.get(env_var(name)) or None


def how_to_set(name: str) -> str:
    return f"--root {name}=DIR, roots: {{{name}: DIR}} in the config, or {env_var(name)}=DIR"


def resolve(data: dict[str, Any], given: dict[str, str] | None = None) -> list[str]:
    """Substitute the placeholders of ``data["datasets"]`` and ``data["codecs"]`` in place; returns the names
    left unresolved."""
    roots = {**{str(k): str(v) for k, v in (data.get("roots") or {}).items()}, **(given or {})}
    missing: list[str] = []

    def sub(value: Any) -> Any:
        if isinstance(value, str):
            def one(match: re.Match) -> str:
                found = root_of(match.group(1), roots)
                if found is None:
                    missing.append(match.group(1))
                    return match.group(0)
                return found.rstrip("/")
            return PLACEHOLDER.sub(one, value)
        if isinstance(value, dict):
            return {k: sub(v) for k, v in value.items()}
        if isinstance(value, list):
            return [sub(v) for v in value]
        return value

    data["datasets"] = sub(data.get("datasets") or {})
    if "codecs" in data:
        data["codecs"] = sub(data["codecs"])  # e.g. a retrieval index under a data root
    return sorted(set(missing))


def parse(pairs: list[str]) -> dict[str, str]:
    """``["librispeech=/data/LibriSpeech"]`` -> ``{"librispeech": "/data/LibriSpeech"}``."""
    out = {}
    for pair in pairs:
        name, sep, path = pair.partition("=")
        if not sep or not name or not path:
            raise ValueError(f"--root takes NAME=DIR, got {pair!r}")
        out[name] = path
    return out
