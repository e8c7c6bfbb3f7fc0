"""The one way a name (codec label, dataset, task, utterance id, shard) becomes a file or folder name.

:func:`file_name` is injective: a name made only of ``[A-Za-z0-9._-]`` (not ``.``/``..``, not starting
with ``-`` or ``.``, at most :data:`MAX_READABLE` characters) is kept as it is, so ordinary names stay
readable; any other name becomes a readable slug plus ``~`` and a hash of the exact name. ``~`` never
occurs in a kept name, so a kept name never equals a hashed one, and two different hashed names differ
in their hash. ``a/b``, ``a b`` and ``a_b`` get three different file names; ``..`` cannot leave its folder.
"""

from __future__ import annotations

import hashlib
import re

MAX_READABLE = 80
_SAFE = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]*")
_UNSAFE_RUN = re.compile(r"[^A-Za-z0-9._-]+")


def name_hash(name: str, length: int = 8) -> str:
    """A short, stable hash of the exact name (sha256 of its UTF-8 bytes)."""
    return hashlib.sha256(name.encode("utf-8", "surrogatepass")).hexdigest()[:length]


def file_name(name: str) -> str:
    """The file-system name of ``name``: itself when plainly safe, else ``<slug>~<hash>`` (injective)."""
    if not isinstance(name, str):
        raise TypeError(f"names are strings, got {type(name).__name__}")
    if len(name) <= MAX_READABLE and _SAFE.fullmatch(name):
        return name
    slug = _UNSAFE_RUN.sub("_", name).strip("._-")[:MAX_READABLE - 10] or "x"
    return f"{slug}~{name_hash(name)}"
