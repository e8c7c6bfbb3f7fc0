"""Datasets as plugins see them: :class:`Utterance`, :class:`DatasetSpec` (one entry of a run config) and
:func:`load_dataset`, which calls the adapter registered for the spec's format
(:data:`codecbench.plugins.registry.DATASETS`).

Every adapter is a plugin in ``corpora/`` (``codecbench.corpora.*``): ``folder``, ``manifest``, ``librispeech``,
``iemocap``, ``quickstart`` and the paper's other corpora (MLS, VoiceBank-DEMAND, Libri1Mix, VCTK, LibriTTS).
"""

from __future__ import annotations

import inspect
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from codecbench.util.keywords import check_arguments


@dataclass(frozen=True)
class Utterance:
    """One utterance of a dataset manifest."""

    utt_id: str
    path: Path
    speaker: str | None = None
    text: str | None = None
    language: str = "en"
    condition: str = "clean"
    parallel_group: str | None = None
    labels: dict[str, str] = field(default_factory=dict)
    # The clean recording intrusive metrics compare with when ``path`` is a noisy mixture (VoiceBank's
    # clean_testset_wav, Libri1Mix's s1); None: the input itself.
    reference_path: Path | None = None


@dataclass(frozen=True)
class Download:
    """Where a corpus comes from and how its root is laid out: what ``codecbench paper --dry-run`` prints for a
    dataset whatever the state of its path. An adapter's module declares it as ``DOWNLOAD`` (or ``DOWNLOADS``, one
    per format it registers)."""

    source: str  # the page or repository to download from
    files: str  # what to download there, with sizes
    layout: str  # what the root must hold
    size_gb: float | None = None  # the download, in GB (None: not stated here)
    hours: float | None = None  # audio hours of what the paper reads (None: counted from the files once read)
    note: str = ""


@dataclass(frozen=True)
class DatasetSpec:
    """Which dataset to load and how to filter it (one entry of a run config)."""

    name: str
    format: str
    root: str | None = None
    ids: tuple[str, ...] | None = None
    limit: int | None = None
    options: dict = field(default_factory=dict)


Loader = Callable[..., list[Utterance]]


def load_dataset(spec: DatasetSpec) -> list[Utterance]:
    """Load and filter a dataset; a missing root is a clear error naming the config key."""
    from codecbench.plugins.registry import DATASETS, discover

    discover()
    loader: Loader = DATASETS.get(spec.format)
    root = inspect.signature(loader).parameters.get("root")
    if root is None or root.default is inspect.Parameter.empty:  # an adapter with a default root needs none
        if not spec.root:
            raise ValueError(f"dataset {spec.name!r} (format {spec.format}) needs a 'root'")
        if not Path(spec.root).exists():
            raise FileNotFoundError(
                f"dataset {spec.name!r}: root {spec.root!r} does not exist; set "
                f"datasets.{spec.name}.root in the config or pass datasets.{spec.name}.root=PATH"
            )
    check_arguments(loader, spec.options, f"datasets.{spec.name}.options", skip=("root",))
    utts = loader(spec.root, **spec.options)
    if spec.ids is not None:
        twice = sorted({i for i in spec.ids if list(spec.ids).count(i) > 1})
        if twice:
            raise ValueError(f"datasets.{spec.name}.ids lists {twice} more than once; each id once")
        by_id = {u.utt_id: u for u in utts}
        missing = [i for i in spec.ids if i not in by_id]
        if missing:
            example = ", ".join(repr(u.utt_id) for u in utts[:3])
            raise KeyError(f"datasets.{spec.name}.ids: {missing} are not utterances of the dataset at {spec.root!r} "
                           f"({len(utts)} utterances, e.g. {example})")
        utts = [by_id[i] for i in spec.ids]
    if spec.limit is not None:
        utts = utts[: spec.limit]
    if not utts:
        raise ValueError(f"dataset {spec.name!r} at {spec.root!r} has no utterances")
    seen: dict[str, Utterance] = {}
    for utt in utts:
        if utt.utt_id in seen:
            raise ValueError(f"dataset {spec.name!r}: utterance id {utt.utt_id!r} is used by both "
                             f"{seen[utt.utt_id].path} and {utt.path}; ids must be unique")
        seen[utt.utt_id] = utt
    return utts


def _stat(path: Path | None) -> list[object]:
    if path is None:
        return []
    try:
        info = path.stat()
    except OSError as err:
        return [str(path), f"unreadable: {err.strerror}"]
    return [str(path), info.st_size, info.st_mtime_ns]


def dataset_fingerprint(spec: DatasetSpec, utterances: list[Utterance]) -> str:
    """What identifies a dataset's content in every row made of it: the spec (format, root, options, ids, limit)
    and each utterance's id, text, speaker, files, their sizes and modification times (a changed root, a file
    edited in place, a new transcript each give another fingerprint, so their rows are made again; the token and
    score caches, keyed by audio content, keep unchanged audio free)."""
    import hashlib
    import json

    parts = [spec.format, spec.root, spec.options, spec.ids, spec.limit,
             [[u.utt_id, u.text, u.speaker, u.language, u.parallel_group, sorted(u.labels.items()),
               _stat(u.path), _stat(u.reference_path)] for u in sorted(utterances, key=lambda u: u.utt_id)]]
    blob = json.dumps(parts, sort_keys=True, default=str).encode("utf-8")
    return hashlib.sha256(blob).hexdigest()[:12]
