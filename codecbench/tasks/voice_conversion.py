"""Voice conversion (Table 2, VC columns; DyCAST paper appendix D.2).

One protocol per declared capability: single-codebook codecs with continuous features use kNN
(each pre-decoder frame of the source becomes the mean of its 4 cosine-nearest frames of the
target reference's encoder features); multi-codebook codecs keep the source's first codebook
and take the others from the reference (truncated, or circularly padded half before / half
after). Metrics, as the authors (lucadellalib/audiocodecs ``downstream/test_vc.py``, ``vocode``: the output is
padded or cut to ``out_sig``, the target's parallel utterance, and every metric compares with ``out_sig``):
quality on the output, dWER and Sim against the target speaker's parallel utterance (same sentence, so the
transcripts match). An identity codec (``reference``) yields the target's parallel utterance itself: the
paper's Reference row.

Task options (``task_options: {vc: {...}}``): ``pairing`` and ``reference_pool`` (see ``_vc_pairs``); ``codec_input``
(``16k``, the authors' path through 16 kHz, or ``native``: :func:`codecbench.util.audio.codec_input`); ``method``
(``auto``,
``knn``, ``swap``) and ``length_budget`` (``authors``: a codec that decodes to a length budget gets the one the
authors' code gives it, the target's parallel utterance for kNN; ``source``) (see :class:`VCOptions`);
``score_against: source`` scores content metrics (dWER) against the source utterance at the source's
length, speaker metrics against the target (this harness before the authors' code was read; not the paper's).
"""

from __future__ import annotations

import logging
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from typing import Literal

import numpy as np
import soundfile as sf
import torch
from tqdm import tqdm

from codecbench.api import (
    METRIC_SAMPLE_RATE,
    RATE_OUTPUTS,
    AudioError,
    Codec,
    CodecInput,
    Row,
    Task,
    TaskContext,
    Tokens,
    Utterance,
    cached_encode,
    checked_audio,
    checked_decode,
    codec_input,
    knn,
    load_audio,
    match_length,
    prefetch,
    register_task,
    resample,
    score_batch,
    scoring_window,
    validate_audio,
)

from ._vc_pairs import Pairing, ReferencePool, VCSample, select_vc_samples

TOPK = 4


@dataclass(frozen=True)
class VCOptions:
    """``task_options.vc``; the defaults are the authors' protocol."""

    pairing: Pairing = "consecutive"
    reference_pool: ReferencePool = "parallel"
    score_against: Literal["target", "source"] = "target"  # what dWER / Sim compare the conversion with
    codec_input: CodecInput = "16k"
    #: ``auto``: kNN for a single-codebook codec with continuous features (DyCAST, as the paper's D.2 says),
    #: codebook swap for a multi-codebook one; ``swap`` / ``knn`` force one (``swap`` for DyCAST is what the authors'
    #: ``test_vc.py`` does with ``hparams/codecs/dycast.yaml``'s ``num_codebooks: 32``: FSQ axis 0 of the source,
    #: axes 1-31 of the reference)
    method: Literal["auto", "knn", "swap"] = "auto"
    #: the length a codec that decodes to a budget (DyCAST ``tokens+length``) decodes the conversion at: ``authors``
    #: = the utterance the authors' code encoded last before decoding (their ``dycast.py`` budgets from it): the
    #: target's parallel utterance for kNN, the reference for a forced swap of a kNN codec (their DyCAST run);
    #: a codec whose own method is the swap keeps the source's length (as every other codec of their harness);
    #: ``source``: the source's own length always
    length_budget: Literal["authors", "source"] = "authors"


log = logging.getLogger(__name__)


def circular_fit(codes: torch.Tensor, length: int) -> torch.Tensor:
    """``codes [N, K]`` truncated to ``length``, or circularly padded (half before, rest after)."""
    n = codes.shape[0]
    if n >= length:
        return codes[:length]
    before = (length - n) // 2
    index = (torch.arange(length) - before) % n
    return codes[index]


def conversion_method(codec: Codec, method: str) -> str:
    """``knn`` or ``swap`` for a codec under the ``method`` option (``auto``: by its declared capabilities)."""
    if method != "auto":
        if method == "knn" and not codec.capabilities.has_features:
            raise ValueError(f"{type(codec).__name__} has no continuous features: kNN conversion does not apply")
        if method == "swap" and len(codec.codebook_sizes) < 2:
            raise ValueError(f"{type(codec).__name__} has one codebook: nothing to swap")
        return method
    if codec.capabilities.multi_codebook:
        return "swap"
    if codec.capabilities.has_features:
        return "knn"
    raise ValueError(f"{type(codec).__name__} declares neither several codebooks nor continuous features: "
                     "no voice-conversion method applies")


def convert(codec: Codec, source: np.ndarray, reference: np.ndarray, cache, codec_key: str, device: str,
            method: str = "auto", budget: int | None = None) -> tuple[torch.Tensor, Tokens]:
    """Converted waveform at the codec's output rate, and the source's tokens. ``budget``: the input samples (at the
    codec's rate) the conversion is decoded for, where the codec decodes to a length budget (default: the source's
    for kNN, the reference's for a swap)."""
    chosen = conversion_method(codec, method)
    if chosen == "swap":
        src, ref = cached_encode(codec, codec_key, [source, reference], cache, device)
        n = int(src.lengths[0])
        mixed = torch.cat([src.codes[0, :n, :1], circular_fit(ref.codes[0, : int(ref.lengths[0])], n)[:, 1:]], dim=-1)
        samples = src.num_samples.clone() if budget is None else torch.tensor([budget])
        tokens = Tokens(codes=mixed[None], lengths=src.lengths.clone(), num_samples=samples,
                        durations=src.durations, side_bits=src.side_bits)  # a variable-rate source keeps its timing
        with torch.inference_mode():
            wav, lengths = checked_decode(codec, tokens.to(device), exact_length=budget is None)
        return wav[0, : int(lengths[0])].float().cpu(), src
    (src,) = cached_encode(codec, codec_key, [source], cache, device)
    budgeted = src if budget is None else Tokens(
        codes=src.codes, lengths=src.lengths, num_samples=torch.tensor([budget]), durations=src.durations,
        side_bits=src.side_bits, extra=src.extra)
    with torch.inference_mode():
        feats = codec.features(budgeted.to(device))
        ref_wav = torch.from_numpy(reference)[None].to(device)
        matching = codec.encoder_features(ref_wav, torch.tensor([ref_wav.shape[1]], device=device))[0]
        converted = knn(feats, matching, topk=TOPK).mean(dim=-2)
        wav, lengths = checked_audio(codec, codec.decode_features(
            converted, torch.tensor([converted.shape[1]], device=device)), 1)
    return wav[0, : int(lengths[0])].float().cpu(), src


def _duration(utt: Utterance) -> float:
    try:
        info = sf.info(str(utt.path))
        return info.frames / info.samplerate
    except Exception:  # noqa: BLE001 - unreadable files are never chosen as references
        return -1.0


@register_task("vc")
class VoiceConversion(Task):
    """Voice conversion: kNN on continuous features or codebook swap; dWER vs source, Sim vs target."""

    name = "vc"
    version = "1"
    Options = VCOptions
    outputs = RATE_OUTPUTS
    uses_metrics = True
    accepts_recorded = True

    def count_samples(self, utterances: Sequence[Utterance], options: VCOptions, seed: int) -> int:
        """The (source, target, reference) triples of the dataset (durations only choose among references)."""
        return len(select_vc_samples(utterances, lambda _: 0.0, pairing=options.pairing,
                                     reference_pool=options.reference_pool, seed=seed))

    def run(self, ctx: TaskContext) -> None:
        opts: VCOptions = ctx.options
        to_target = opts.score_against == "target"
        samples = select_vc_samples(ctx.utterances, _duration, pairing=opts.pairing,
                                    reference_pool=opts.reference_pool, seed=ctx.seed)
        if not samples:
            log.warning("vc on %s: no source/parallel/reference triple (needs speakers and parallel_group)",
                        ctx.dataset)
            return
        outputs = ctx.scored_outputs()
        pending = [s for s in samples if ctx.missing(self.name, s.sample_id, outputs)]
        if not pending:
            return
        codec, metrics = ctx.get_codec(), ctx.get_metrics()
        window = scoring_window(ctx.batch_size, metrics)
        bar = tqdm(total=len(pending), desc=f"{ctx.codec_label} / {ctx.dataset} (vc)", unit="pair",
                   disable=not ctx.progress, leave=False)

        def converted() -> Iterator[_Converted | tuple[VCSample, Exception]]:
            """Conversions one after another (in the prefetch thread: no rows are written here)."""
            for sample in pending:
                try:
                    yield self._convert(ctx, codec, sample, opts)
                except (AudioError, ValueError, RuntimeError, NotImplementedError) as err:
                    yield sample, err

        scoring: list[_Converted] = []
        for item in prefetch(converted(), ctx.prefetch):
            if isinstance(item, tuple):
                ctx.add_rows([ctx.error_row(self.name, item[0].sample_id, "vc", item[1])])
            else:
                ctx.add_rows(item.rate_rows)
                scoring.append(item)
            if len(scoring) >= window:
                self._score(ctx, metrics, scoring, to_target)
                scoring = []
            bar.update(1)
        if scoring:
            self._score(ctx, metrics, scoring, to_target)
        bar.close()

    @staticmethod
    def _load(utt: Utterance, rate: int, max_seconds: float, via: str = "native") -> np.ndarray:
        audio = validate_audio(load_audio(utt.path, max_seconds), max_seconds=max_seconds)
        return codec_input(audio.samples, audio.sample_rate, rate, via)

    def _convert(self, ctx: TaskContext, codec: Codec, sample: VCSample, opts: VCOptions) -> _Converted:
        via, to_target = opts.codec_input, opts.score_against == "target"
        with ctx.timer.stage("load", 2):
            source16 = self._load(sample.source, METRIC_SAMPLE_RATE, ctx.max_seconds)
            target16 = self._load(sample.target_parallel, METRIC_SAMPLE_RATE, ctx.max_seconds)
            source = self._load(sample.source, codec.sample_rate, ctx.max_seconds, via)
        key = ctx.codec_key(codec)
        tokens: Tokens | None
        if codec.capabilities.recorded:  # a conversion made elsewhere: the item's file
            with ctx.timer.stage("load", 1):
                samples, rate = codec.recorded_output(str(sample.sample_id))
            wav, tokens = torch.from_numpy(resample(samples, rate, codec.output_sample_rate)), None
        elif codec.capabilities.identity:  # the ideal conversion: the target speaker saying the sentence
            (tokens,) = cached_encode(codec, key, [source], ctx.token_cache, ctx.device, ctx.timer)
            wav = torch.from_numpy(resample(target16, METRIC_SAMPLE_RATE, codec.output_sample_rate))
        else:
            reference = self._load(sample.reference, codec.sample_rate, ctx.max_seconds, via)
            budget = None
            if opts.length_budget == "authors":  # what the authors' DyCAST wrapper budgets: the last encode
                chosen = conversion_method(codec, opts.method)
                if chosen == "knn":
                    budget = len(self._load(sample.target_parallel, codec.sample_rate, ctx.max_seconds, via))
                elif conversion_method(codec, "auto") == "knn":  # a forced swap of a kNN codec (their DyCAST run)
                    budget = len(reference)
            with ctx.timer.stage("convert", 1):
                wav, tokens = convert(codec, source, reference, ctx.token_cache, key, ctx.device, opts.method,
                                      budget)
        length = len(target16) if to_target else len(source16)
        hyp = match_length(resample(wav.numpy(), codec.output_sample_rate, METRIC_SAMPLE_RATE), length)
        seconds = len(source16) / METRIC_SAMPLE_RATE
        extra: dict = {"reference": sample.reference.utt_id, "target": sample.target_parallel.utt_id}
        saved = ctx.saved_audio(self.name, sample.sample_id, hyp, METRIC_SAMPLE_RATE)
        if saved:
            extra["audio"] = saved
        rows = ctx.rate_rows(self.name, sample.sample_id, codec, tokens, seconds, extra) if tokens is not None else []
        return _Converted(sample, hyp, source16, target16, rows)

    def _score(self, ctx: TaskContext, metrics: dict, items: list[_Converted], to_target: bool) -> None:
        """Each metric over a group of conversions: every metric against the target speaker's parallel
        utterance (``score_against: source``: content metrics against the source utterance)."""
        for metric in metrics.values():
            todo = [i for i in items if ctx.missing(self.name, i.sample.sample_id, ctx.metric_outputs[metric.name])]
            if not todo:
                continue
            against_target = metric.reference == "target" or to_target
            refs = [i.target16 if against_target else i.source16 for i in todo]
            scores = score_batch(metric, [i.hyp for i in todo], refs, [i.sample.source for i in todo],
                                 ctx.score_cache, ctx.timer)
            rows: list[Row] = []
            for item, score in zip(todo, scores, strict=True):
                rows += ctx.score_rows(self.name, item.sample.sample_id, metric, score)
            ctx.add_rows(rows)


@dataclass
class _Converted:
    """One conversion, ready to score: the output and both references at 16 kHz, and its rate rows."""

    sample: VCSample
    hyp: np.ndarray
    source16: np.ndarray
    target16: np.ndarray
    rate_rows: list[Row]
