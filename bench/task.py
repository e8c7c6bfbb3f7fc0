"""The Task contract and the context a task runs in (one codec variant x one dataset)."""

from __future__ import annotations

import logging
from abc import ABC, abstractmethod
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import ClassVar

import numpy as np
import torch

from .audio import array_digest
from .codec import Codec, Tokens, pad_batch
from .datasets import Utterance
from .diskcache import DiskCache, make_key
from .metrics.base import Metric, Score
from .store import ResultStore, Row

log = logging.getLogger(__name__)


@dataclass
class TaskContext:
    """Everything a task needs; the codec and metrics are built only when work remains."""

    codec_label: str
    dataset: str
    utterances: Sequence[Utterance]
    store: ResultStore
    get_codec: Callable[[], Codec]
    get_metrics: Callable[[], dict[str, Metric]]
    metric_outputs: dict[str, tuple[str, ...]]  # metric name -> its output names
    token_cache: DiskCache
    score_cache: DiskCache | None = None  # metric scores by content (re-runs over the same audio are free)
    device: str = "cpu"
    batch_size: int = 8
    max_seconds: float = 60.0
    progress: bool = True
    options: dict = field(default_factory=dict)  # this task's settings from the config's task_options
    seed: int = 0

    def row(self, task: str, utt_id: str, metric: str, **fields: object) -> Row:
        return Row(codec=self.codec_label, task=task, dataset=self.dataset, utt_id=utt_id,
                   metric=metric, **fields)  # type: ignore[arg-type]


class Task(ABC):
    """A task plugin: runs one codec variant over one dataset and writes rows as it goes."""

    name: ClassVar[str]
    version: ClassVar[str] = "1"

    @abstractmethod
    def run(self, ctx: TaskContext) -> None:
        """Compute the missing rows of this (codec, dataset) and add them to ``ctx.store``."""


def cached_encode(codec: Codec, codec_key: str, wav: list[np.ndarray], cache: DiskCache,
                  device: str) -> list[Tokens]:
    """Encode waveforms at the codec's rate, one cache entry per utterance."""
    keys = [make_key("tokens", codec_key, array_digest(w)) for w in wav]
    found: list[Tokens | None] = [cache.get(k) if codec.capabilities.deterministic else None
                                  for k in keys]
    todo = [i for i, t in enumerate(found) if t is None]
    if todo:
        batch, lengths = pad_batch([torch.from_numpy(wav[i]) for i in todo])
        with torch.inference_mode():
            tokens = codec.encode(batch.to(device), lengths.to(device))
        for j, i in enumerate(todo):
            item = tokens.item(j).to("cpu")
            found[i] = item
            if codec.capabilities.deterministic:
                cache.put(keys[i], item)
    return [t for t in found if t is not None]


def score_batch(metric: Metric, hyp: list[np.ndarray], ref: list[np.ndarray],
                meta: list[Utterance], cache: DiskCache | None = None) -> list[dict[str, Score] | Exception]:
    """Scores per utterance; a failing batch is retried one by one so one bad item fails alone.

    With ``cache``, scores are looked up by (metric backend, hypothesis, reference, language), so a
    new run over the same audio and codecs recomputes nothing (failures are never cached).
    """
    if cache is None:
        return _score_uncached(metric, hyp, ref, meta)
    keys = [make_key("score", metric.backend, array_digest(h), array_digest(r), m.language)
            for h, r, m in zip(hyp, ref, meta)]
    found: list[dict[str, Score] | Exception | None] = [cache.get(k) for k in keys]
    todo = [i for i, f in enumerate(found) if f is None]
    if todo:
        fresh = _score_uncached(metric, [hyp[i] for i in todo], [ref[i] for i in todo], [meta[i] for i in todo])
        for i, score in zip(todo, fresh):
            found[i] = score
            if not isinstance(score, Exception):
                cache.put(keys[i], score)
    return [f for f in found if f is not None]


def _score_uncached(metric: Metric, hyp: list[np.ndarray], ref: list[np.ndarray],
                    meta: list[Utterance]) -> list[dict[str, Score] | Exception]:
    try:
        return list(metric.compute(hyp, ref, meta))
    except Exception as batch_error:  # noqa: BLE001 - isolate the failing utterance below
        if len(hyp) == 1:
            return [batch_error]
    results: list[dict[str, Score] | Exception] = []
    for h, r, m in zip(hyp, ref, meta):
        try:
            results.append(metric.compute([h], [r], [m])[0])
        except Exception as err:  # noqa: BLE001 - recorded as an error row
            log.warning("metric %s failed on %s: %s", metric.name, m.utt_id, err)
            results.append(err)
    return results
