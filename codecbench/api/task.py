"""The Task contract, the context a task runs in (one codec variant x one dataset), and the
plumbing every task shares: missing rows, rate / score / error rows, the token-cache key."""

from __future__ import annotations

import logging
import math
from abc import ABC, abstractmethod
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path
from typing import Any, ClassVar

import numpy as np
import torch

from codecbench.api.codec import Codec, Tokens, pad_batch
from codecbench.api.contract import check_tokens, token_problems
from codecbench.api.datasets import Utterance
from codecbench.api.diskcache import DiskCache, make_key
from codecbench.api.metric import Metric, MetricOutput, Score
from codecbench.api.rows import DATA, ENVIRONMENT, ERROR_METRIC, ItemId, Row, RowSink
from codecbench.plugins.registry import TASKS
from codecbench.util.audio import array_digest
from codecbench.util.identity import code_fingerprint
from codecbench.util.names import file_name
from codecbench.util.options import NoOptions, parse_options
from codecbench.util.timing import Stage, StageTimer

log = logging.getLogger(__name__)

#: measured from the tokens produced (frames or bits per second of audio), over every dataset
RATE_OUTPUTS = (
    MetricOutput("frame_rate", "Frame Rate (Hz)", None, "ratio", 1.0, 1, order=0, per_dataset=False),
    MetricOutput("bitrate", "Bitrate (kbps)", None, "ratio", 1e-3, 2, order=1, per_dataset=False),
    MetricOutput("token_rate", "Token Rate (tok/s)", None, "ratio", 1.0, 1, order=2, per_dataset=False),
)
RATE_NAMES = frozenset(o.name for o in RATE_OUTPUTS)


def kind_of(err: BaseException | str) -> str:
    """``environment`` for failures of this machine or setup (memory, disk, missing packages or weights),
    which the next run retries; ``data`` for failures of the utterance itself, which stay done."""
    if isinstance(err, str):
        return DATA
    declared = getattr(err, "kind", None)  # e.g. AudioUnavailable: a file this machine cannot open now
    if declared in (DATA, ENVIRONMENT):
        return str(declared)
    if isinstance(err, (MemoryError, ImportError, OSError)):
        return ENVIRONMENT
    if isinstance(err, RuntimeError) and "out of memory" in str(err).lower():
        return ENVIRONMENT
    return DATA


def codec_flags(codec: Codec) -> dict[str, Any]:
    """What tables need to know about the codec behind a row: random weights, identity, weights id."""
    flags: dict[str, Any] = {}
    if codec.capabilities.random_weights:
        flags["random_weights"] = True
    if codec.capabilities.identity:
        flags["identity"] = True
    if codec.weights_id:
        flags["weights_id"] = codec.weights_id
    return flags


@dataclass
class TaskContext:
    """Everything a task needs; the codec and metrics are built only when work remains."""

    codec_label: str
    dataset: str
    utterances: Sequence[Utterance]
    sink: RowSink  # where the rows go (the run's store)
    get_codec: Callable[[], Codec]
    get_metrics: Callable[[], dict[str, Metric]]
    metric_outputs: dict[str, tuple[str, ...]]  # metric name -> its output names
    token_cache: DiskCache
    score_cache: DiskCache | None = None  # metric scores by content (re-runs over the same audio are free)
    device: str = "cpu"
    batch_size: int = 8
    max_seconds: float = 60.0
    progress: bool = True
    options: Any = field(default_factory=NoOptions)  # this task's Options, parsed from the config's task_options
    seed: int = 0
    variant: str = ""  # the codec variant's id (part of every row's identity)
    get_metric: Callable[[str], Metric] | None = None  # any metric by name under the run's profile
    save_audio: int | None = 0  # decoded outputs as FLAC: the first N utterances of the dataset; None = all
    timer: StageTimer = field(default_factory=StageTimer)  # per-stage wall time of this job (timing.jsonl)
    prefetch: int = 1  # batches a task may decode ahead of the one being scored (0: one after the other)
    #: ``{source: "<task>/<source>/<hash>"}``, source a metric name or ``-`` (the task's own outputs):
    #: the setup part of each row's identity (see :func:`codecbench.engine.ids.job_setups`)
    setups: dict[str, str] = field(default_factory=dict)
    #: the token cache follows the variant id even where the codec's ``cache_id`` is declared complete (an
    #: in-memory codec: its state dict is in the variant, not in its ``cache_id``)
    tokens_follow_variant: bool = False
    rates: bool = True  # the codec's tokens have rates (False: recorded outputs, scored without tokens)

    @cached_property
    def speakers(self) -> dict[str, str]:
        """``{utterance id: speaker}`` of this job's utterances that name one."""
        return {u.utt_id: u.speaker for u in self.utterances if u.speaker}

    @property
    def run_dir(self) -> Path:
        """The run folder: a task's own files (checkpoints, saved audio) go under it."""
        return self.sink.run_dir

    def add_rows(self, rows: list[Row]) -> None:
        """Add rows to the store, timed as the ``store`` stage."""
        with self.timer.stage("store", len(rows)):
            self.sink.add(rows)

    def saved_audio(self, task: str, item: Utterance | ItemId, wav: np.ndarray, rate: int) -> str | None:
        """Write an output under ``RUN_DIR/audio/<task>/<codec>/<dataset>/`` when ``save_audio`` covers the
        item's source utterance (by its position in the dataset); returns the path relative to the run dir."""
        if isinstance(item, Utterance):
            item = ItemId(item.utt_id)
        utt_id, base_id = str(item), item.source
        if self.save_audio is not None:
            position = next((i for i, u in enumerate(self.utterances) if u.utt_id == base_id), None)
            if position is None or position >= self.save_audio:
                return None
        import soundfile as sf

        relative = saved_audio_path(task, self.codec_label, self.dataset, utt_id)
        target = self.run_dir / relative
        target.parent.mkdir(parents=True, exist_ok=True)
        tmp = target.with_name(target.name + ".tmp.flac")
        sf.write(tmp, np.clip(np.asarray(wav, np.float32), -1.0, 1.0), rate, subtype="PCM_16")
        tmp.replace(target)
        return str(relative)

    def metric(self, name: str) -> Metric:
        """A metric by name (the run's instance, or one built under the run's profile)."""
        if self.get_metric is None:
            return self.get_metrics()[name]
        return self.get_metric(name)

    def setup_of(self, metric: str) -> str:
        """The setup of a row of ``metric`` (an output name): its metric's setup, or the task's own."""
        for name, outs in self.metric_outputs.items():
            if metric in outs and name in self.setups:
                return self.setups[name]
        return self.setups.get("-", "")

    def stage_of(self, task: str, metric: str) -> str:
        """What computed an output, for error rows: ``metric:<name>``, ``codec`` (measured rates) or the task."""
        for name, outs in self.metric_outputs.items():
            if metric in outs:
                return f"metric:{name}"
        return "codec" if metric in RATE_NAMES else f"task:{task}"

    def row(self, task: str, item: ItemId | str, metric: str, **fields: Any) -> Row:
        """A row of this job about ``item`` (a plain string is an utterance id): its ``utt_id`` the item's string,
        its parts typed in ``extra`` (:meth:`ItemId.fields`). A value, numerator or denominator that is NaN or
        infinite makes it an error row naming the stage that produced it (a non-finite number is never a result)."""
        item = ItemId.of(item)
        parts = item.fields()
        speaker = self.speakers.get(item.source)
        if speaker:  # the speaker of the item's source utterance: cluster bootstraps resample speakers
            parts = {**parts, "speaker": speaker}
        if parts:
            fields = {**fields, "extra": {**(fields.get("extra") or {}), **parts}}
        utt_id = str(item)
        bad = {k: fields[k] for k in ("value", "num", "den") if not finite_or_none(fields.get(k))}
        if bad and metric != ERROR_METRIC:
            stage = self.stage_of(task, metric)
            log.warning("%s / %s / %s: %s gave a non-finite %s %s", self.codec_label, self.dataset, utt_id, stage,
                        metric, bad)
            extra = {**(fields.get("extra") or {}), "stage": stage, "kind": DATA}
            fields = {**fields, "value": None, "num": None, "den": None, "extra": extra,
                      "error": f"{stage}: non-finite {metric} " + ", ".join(f"{k}={v}" for k, v in bad.items())}
        return Row(codec=self.codec_label, task=task, dataset=self.dataset, utt_id=utt_id,
                   metric=metric, variant=self.variant, setup=self.setup_of(metric), **fields)

    def has(self, task: str, item: ItemId | str, metric: str) -> bool:
        return self.sink.has((self.codec_label, task, self.dataset, str(ItemId.of(item)), metric, self.variant,
                               self.setup_of(metric)))

    def missing(self, task: str, utt_id: ItemId | str, outputs: Sequence[str]) -> bool:
        """Whether an item still needs work: no error row and some of ``outputs`` absent. (Environment
        errors never reach this point: the runner drops them before a run, so they are retried.)"""
        if self.has(task, utt_id, ERROR_METRIC):
            return False
        return any(not self.has(task, utt_id, o) for o in outputs)

    def scored_outputs(self) -> list[str]:
        """Measured rates (when the codec has tokens) plus every output of the run's metrics (what a scoring task
        writes)."""
        rates = [o.name for o in RATE_OUTPUTS] if self.rates else []
        return rates + [o for outs in self.metric_outputs.values() for o in outs]

    def codec_key(self, codec: Codec) -> str:
        """The token-cache key of this codec variant: its behaviour (``cache_id``), the fingerprint of its
        code (:func:`codecbench.util.identity.code_fingerprint`), the device type it runs on and, unless the
        codec declares that its ``cache_id`` names everything its tokens depend on
        (:attr:`Codec.cache_id_complete`), the variant id (registry name, params, weights)."""
        key = f"{self.codec_label}|{codec.cache_id()}|code={code_fingerprint(codec)}|{torch.device(self.device).type}"
        if self.tokens_follow_variant or not type(codec).cache_id_complete:
            key += f"|variant={self.variant}"
        return key

    def error_row(self, task: str, utt_id: ItemId | str, stage: str, err: BaseException | str,
                  kind: str | None = None) -> Row:
        """An error row for one item (logged), of kind ``data`` or ``environment`` (:func:`kind_of`)."""
        text = err if isinstance(err, str) else f"{type(err).__name__}: {err}"
        log.warning("%s / %s / %s: %s failed: %s", self.codec_label, self.dataset, utt_id, stage, text)
        return self.row(task, utt_id, ERROR_METRIC, error=f"{stage}: {text}",
                        extra={"stage": stage, "kind": kind or kind_of(err)})

    def rate_rows(self, task: str, utt_id: ItemId | str, codec: Codec, tokens: Tokens, seconds: float,
                  extra: dict[str, Any] | None = None) -> list[Row]:
        """Measured frame rate, bitrate and token rate (frames x codebooks, per second) of one item's tokens (the
        frame-rate row carries the codec flags)."""
        frames = float(codec.measured_frames(tokens)[0])
        bits = float(codec.measured_bits(tokens)[0])
        tokens_sent = frames * len(codec.codebook_sizes)  # a token per codebook per frame
        return [
            self.row(task, utt_id, "frame_rate", value=frames / seconds, num=frames, den=seconds,
                     backend="measured", extra={**(extra or {}), **codec_flags(codec),
                                                "streams": len(codec.codebook_sizes)}),
            self.row(task, utt_id, "bitrate", value=bits / seconds, num=bits, den=seconds, backend="measured"),
            self.row(task, utt_id, "token_rate", value=tokens_sent / seconds, num=tokens_sent, den=seconds,
                     backend="measured"),
        ]

    def score_rows(self, task: str, utt_id: ItemId | str, metric: Metric,
                   score: dict[str, Score] | BaseException) -> list[Row]:
        """One row per output of ``metric`` for one item: its values, or the error for each."""
        rows = []
        for out in self.metric_outputs[metric.name]:
            if isinstance(score, BaseException):
                rows.append(self.row(task, utt_id, out, backend=metric.row_backend,
                                     error=f"{type(score).__name__}: {score}", extra={"kind": kind_of(score)}))
            else:
                s = score[out]
                extra = {**s.extra, "random_weights": True} if metric.random_weights else s.extra
                rows.append(self.row(task, utt_id, out, value=s.value, num=s.num, den=s.den,
                                     backend=metric.row_backend, extra=extra))
        return rows


def finite_or_none(value: Any) -> bool:
    """Whether a row's number is absent or a finite number."""
    return value is None or (isinstance(value, (int, float)) and math.isfinite(value))


class NonFiniteScore(ValueError):
    """A metric returned NaN or an infinite value for an utterance (never cached, recorded as an error)."""


def checked_score(metric: Metric, score: dict[str, Score]) -> dict[str, Score]:
    """``score`` unchanged when every value is finite; :class:`NonFiniteScore` naming the outputs otherwise."""
    bad = [f"{name}={getattr(s, k)}" for name, s in score.items() for k in ("value", "num", "den")
           if not finite_or_none(getattr(s, k))]
    if bad:
        raise NonFiniteScore(f"metric {metric.name} gave non-finite values: {', '.join(bad)}")
    return score


def saved_audio_path(task: str, codec: str, dataset: str, utt_id: str) -> Path:
    """``audio/<task>/<codec>/<dataset>/<utterance>.flac`` relative to the run dir, every part through
    :func:`codecbench.util.names.file_name` (injective: ``a/b`` and ``a_b`` never share a file; ``..`` stays inside)."""
    return Path("audio", file_name(task), file_name(codec), file_name(dataset), f"{file_name(utt_id)}.flac")


class Task(ABC):
    """A task plugin: runs one codec variant over one dataset and writes rows as it goes.

    Declarations: ``outputs`` (the columns the task itself writes, beside the run's metrics);
    ``uses_metrics`` (whether the run's metrics score its outputs); ``default`` (run when a
    config names no tasks); ``trains`` (a training run per codec variant and dataset); ``version``
    (bump when something outside the plugin's source changes its numbers: it is part of the task's code
    fingerprint, so of its rows' ``setup`` and its cache keys); ``Options`` (a dataclass of its
    ``task_options``; the context hands the task the parsed instance as ``ctx.options``).
    """

    name: ClassVar[str]
    version: ClassVar[str] = "1"
    #: the dataclass of this task's ``task_options`` (:func:`codecbench.util.options.parse_options` builds it)
    Options: ClassVar[type] = NoOptions
    outputs: ClassVar[tuple[MetricOutput, ...]] = ()
    uses_metrics: ClassVar[bool] = False
    default: ClassVar[bool] = False
    trains: ClassVar[bool] = False  # trains a model per codec variant x dataset (probes, TTS): the work estimate
    shard_by_utterance: ClassVar[bool] = False  # each utterance is independent: executors may split a job by utterance
    #: scores outputs alone, so it takes recorded outputs (a codec with ``Capabilities(recorded=True)``) as well
    accepts_recorded: ClassVar[bool] = False

    @abstractmethod
    def run(self, ctx: TaskContext) -> None:
        """Compute the missing rows of this (codec, dataset) and add them with ``ctx.add_rows``."""

    @classmethod
    def parse_options(cls, given: Mapping[str, Any] | None) -> Any:
        """This task's :attr:`Options` from its ``task_options`` mapping: unknown keys (with a did-you-mean),
        wrong types and values outside a field's choices are errors naming ``task_options.<task>.<key>``."""
        return parse_options(cls.Options, given, f"task_options.{cls.name}")

    def check_options(self, options: Any, metrics: set[str]) -> None:
        """Check what the parsed options name against the run (``metrics``: those of its metric profile), before
        any work; :class:`ValueError` naming the key. Nothing to check by default."""
        return None

    def training_runs(self, options: Any) -> int:
        """How many models this task trains per codec variant and dataset under ``options`` (the dry run's
        work estimate): one for a task that :attr:`trains`, none otherwise."""
        return 1 if self.trains else 0

    def count_samples(self, utterances: Sequence[Utterance], options: Any, seed: int) -> int:
        """How many samples this task makes of a dataset's utterances under ``options`` (its :attr:`Options`),
        without loading audio: what a dry run sets beside the count the paper states. One per utterance unless
        a task pairs them (voice conversion)."""
        return len(utterances)


def scoring_window(batch: int, metrics: dict[str, Metric]) -> int:
    """How many decoded items a task gathers before scoring them: its batch, or the largest metric batch."""
    return max([batch, *(int(getattr(m, "batch_size", 1)) for m in metrics.values())])


def cached_encode(codec: Codec, codec_key: str, wav: list[np.ndarray], cache: DiskCache,
                  device: str, timer: StageTimer | None = None) -> list[Tokens]:
    """Encode waveforms at the codec's rate, one cache entry per utterance (timed as ``encode``)."""
    with (timer or StageTimer()).stage("encode") as stage:
        return _cached_encode(codec, codec_key, wav, cache, device, stage)


def _cached_encode(codec: Codec, codec_key: str, wav: list[np.ndarray], cache: DiskCache,
                   device: str, stage: Stage) -> list[Tokens]:
    keys = [make_key("tokens", codec_key, array_digest(w)) for w in wav]
    found: list[Tokens | None] = [cache.get(k, Tokens) if codec.capabilities.deterministic else None
                                  for k in keys]
    for i, cached in enumerate(found):  # an entry that breaks the contract is recomputed (and refused again)
        if cached is not None and token_problems(codec, cached, torch.tensor([len(wav[i])])):
            found[i] = None
    todo = [i for i, t in enumerate(found) if t is None]
    stage.items, stage.cached = len(todo), len(wav) - len(todo)
    groups = [todo] if codec.capabilities.batched else [[i] for i in todo]  # batched=False: one at a time
    for group in groups if todo else []:
        batch, lengths = pad_batch([torch.from_numpy(wav[i]) for i in group])
        with torch.inference_mode():
            tokens = check_tokens(codec, codec.encode(batch.to(device), lengths.to(device)), lengths)
        for j, i in enumerate(group):
            item = tokens.item(j).to("cpu")
            found[i] = item
            if codec.capabilities.deterministic:
                cache.put(keys[i], item)
    return [t for t in found if t is not None]


def score_batch(metric: Metric, hyp: list[np.ndarray], ref: list[np.ndarray],
                meta: list[Utterance], cache: DiskCache | None = None,
                timer: StageTimer | None = None) -> list[dict[str, Score] | Exception]:
    """Scores per utterance; a failing batch is retried one by one so one bad item fails alone.

    With ``cache``, scores are looked up by (metric backend, hypothesis, reference, language), so a
    new run over the same audio and codecs recomputes nothing (failures are never cached). Timed as
    ``metric:<name>`` (items scored, and items found in the cache).
    """
    with (timer or StageTimer()).stage(f"metric:{metric.name}") as stage:
        return _score_cached(metric, hyp, ref, meta, cache, stage)


def _score_cached(metric: Metric, hyp: list[np.ndarray], ref: list[np.ndarray], meta: list[Utterance],
                  cache: DiskCache | None, stage: Stage) -> list[dict[str, Score] | Exception]:
    stage.items = len(hyp)
    if cache is None:
        return _score_uncached(metric, hyp, ref, meta)
    keys = [make_key("score", metric.backend, metric.code_id, array_digest(h), array_digest(r), m.language)
            for h, r, m in zip(hyp, ref, meta, strict=True)]
    found: list[dict[str, Score] | Exception | None] = [cache.get(k, dict) for k in keys]
    todo = [i for i, f in enumerate(found) if f is None]
    stage.items, stage.cached = len(todo), len(hyp) - len(todo)
    if todo:
        fresh = _score_uncached(metric, [hyp[i] for i in todo], [ref[i] for i in todo], [meta[i] for i in todo])
        for i, score in zip(todo, fresh, strict=True):  # a non-finite score is an error already: never cached
            found[i] = score
            if not isinstance(score, Exception):
                cache.put(keys[i], score)
    return [f for f in found if f is not None]


def _score_uncached(metric: Metric, hyp: list[np.ndarray], ref: list[np.ndarray],
                    meta: list[Utterance]) -> list[dict[str, Score] | Exception]:
    try:
        scores = list(metric.compute(hyp, ref, meta))
        if len(scores) != len(hyp):
            raise ValueError(f"metric {metric.name} returned {len(scores)} scores for {len(hyp)} inputs")
        return [_checked_or_error(metric, s) for s in scores]
    except Exception as batch_error:  # noqa: BLE001 - isolate the failing utterance below
        if len(hyp) == 1:
            return [batch_error]
    results: list[dict[str, Score] | Exception] = []
    for h, r, m in zip(hyp, ref, meta, strict=True):
        try:
            results.append(checked_score(metric, metric.compute([h], [r], [m])[0]))
        except Exception as err:  # noqa: BLE001 - recorded as an error row
            log.warning("metric %s failed on %s: %s", metric.name, m.utt_id, err)
            results.append(err)
    return results


def _checked_or_error(metric: Metric, score: dict[str, Score]) -> dict[str, Score] | Exception:
    try:
        return checked_score(metric, score)
    except NonFiniteScore as err:
        return err


TASKS.set_base(Task)  # the registry checks every task plugin against it
