"""Speech resynthesis: encode -> decode -> metrics against the original (Tables 1 and 2 of the paper).

Per utterance: load -> validate -> resample to the codec's rate -> encode (token cache)
-> decode -> resample to 16 kHz -> match the reference's length (truncate, or repeat the
last sample, recorded in the row) -> metrics. Measured frame rate (frames / second) and
bitrate (bits actually needed / second) are rows too.

The reference of the intrusive metrics (dWER, Sim, PESQ, STOI) is the utterance's clean recording when it
has one (``Utterance.reference_path``: VoiceBank's clean_testset_wav, Libri1Mix's s1), as the authors:
lucadellalib/audiocodecs ``downstream/test_sr.py`` encodes ``in_sig`` (the noisy mixture), pads or cuts the
output to ``out_sig`` (the clean recording) and scores every metric against ``out_sig``. Task option
``reference: input`` scores against the noisy input instead (codec fidelity to what it was given; not the
paper's). The codec hears the recording through 16 kHz, as the authors' (``codec_input: 16k``, see
:func:`codecbench.util.audio.codec_input`; ``native`` resamples straight from the file's rate).
"""

from __future__ import annotations

import logging
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Literal

import numpy as np
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
    checked_decode,
    codec_input,
    load_audio,
    match_length,
    prefetch,
    register_task,
    resample,
    score_batch,
    scoring_window,
    validate_audio,
)

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class ResynthesisOptions:
    """``task_options.resynthesis``; the defaults are the authors' protocol."""

    reference: Literal["clean", "input"] = "clean"  # what the intrusive metrics compare with
    codec_input: CodecInput = "16k"  # how the recording reaches the codec (codecbench.util.audio.codec_input)
    #: what the identity codec (the Reference row) reproduces on a noisy corpus: the clean recording, scored
    #: against itself (the paper's Reference row: DNSMOS of the clean files, dWER 0, Sim 100), or the noisy input
    #: (what the authors' ``compute_ref_metrics`` calls ``Orig*``: the mixture against the clean recording)
    reference_row: Literal["clean", "input"] = "clean"


@dataclass
class _Item:
    utt: Utterance
    original: np.ndarray  # 16 kHz, the intrusive metrics' reference (the clean recording of a noisy input)
    codec_input: np.ndarray  # at the codec's rate
    duration: float
    conversions: tuple[str, ...] = ()  # what loading changed (channels, clipping, sample rate): kept in rows


@register_task("resynthesis")
class Resynthesis(Task):
    """Encode -> decode -> metrics against the original; measured frame rate and bitrate."""

    name = "resynthesis"
    version = "1"
    Options = ResynthesisOptions
    outputs = RATE_OUTPUTS
    uses_metrics = True
    default = True
    shard_by_utterance = True
    accepts_recorded = True

    def run(self, ctx: TaskContext) -> None:
        opts: ResynthesisOptions = ctx.options
        outputs = ctx.scored_outputs()
        pending = [u for u in ctx.utterances if ctx.missing(self.name, u.utt_id, outputs)]
        if not pending:
            return
        codec = ctx.get_codec()
        metrics = ctx.get_metrics()
        batch = ctx.batch_size if codec.capabilities.batched else 1
        window = scoring_window(batch, metrics)
        bar = tqdm(total=len(pending), desc=f"{ctx.codec_label} / {ctx.dataset}",
                   unit="utt", disable=not ctx.progress, leave=False)

        def decoded() -> Iterator[tuple[list[_Item | tuple[Utterance, AudioError]], list]]:
            """Load and round-trip batch after batch (in the prefetch thread: no rows are written here)."""
            for start in range(0, len(pending), batch):
                prepared = [self._prepare(ctx, codec, u, opts) for u in pending[start:start + batch]]
                items = [p for p in prepared if isinstance(p, _Item)]
                yield prepared, self._codec_roundtrip(ctx, codec, items) if items else []

        scoring: list[tuple[_Item, np.ndarray]] = []
        for prepared, results in prefetch(decoded(), ctx.prefetch):
            for failed in prepared:
                if not isinstance(failed, _Item):
                    self._error(ctx, failed[0], "load", failed[1])
            scoring += self._record(ctx, codec, [p for p in prepared if isinstance(p, _Item)], results)
            if len(scoring) >= window:
                self._score(ctx, metrics, scoring, outputs)
                scoring = []
            bar.update(len(prepared))
        if scoring:
            self._score(ctx, metrics, scoring, outputs)
        bar.close()

    def _error(self, ctx: TaskContext, utt: Utterance, stage: str, err: Exception) -> None:
        ctx.add_rows([ctx.error_row(self.name, utt.utt_id, stage, err)])

    def _prepare(self, ctx: TaskContext, codec: Codec, utt: Utterance,
                 opts: ResynthesisOptions) -> _Item | tuple[Utterance, AudioError]:
        try:
            with ctx.timer.stage("load", 1):
                audio = load_audio(utt.path, ctx.max_seconds)
                min_seconds = codec.min_samples / codec.sample_rate
                audio = validate_audio(audio, min_seconds=min_seconds, max_seconds=ctx.max_seconds)
        except AudioError as err:
            return utt, err
        via = opts.codec_input
        path = [audio.sample_rate, *([METRIC_SAMPLE_RATE] if via == "16k" else []), codec.sample_rate]
        path = [r for i, r in enumerate(path) if i == 0 or r != path[i - 1]]
        conversions = audio.conversions + tuple(
            f"resampled {'->'.join(map(str, rates))} Hz ({use})"
            for rates, use in ((path, "codec input"), ([audio.sample_rate, METRIC_SAMPLE_RATE], "metrics"))
            if len(set(rates)) > 1)
        if conversions:
            log.info("%s: %s", utt.utt_id, ", ".join(conversions))
        if utt.reference_path is not None and opts.reference == "clean":
            try:
                with ctx.timer.stage("load", 1):
                    clean = validate_audio(load_audio(utt.reference_path, ctx.max_seconds), max_seconds=ctx.max_seconds)
            except AudioError as err:
                return utt, type(err)(f"clean reference {utt.reference_path}: {err}")
            conversions += tuple(f"reference {utt.reference_path.name}: {c}" for c in clean.conversions)
        else:
            clean = audio
        heard = audio  # every codec encodes the (noisy) input; the Reference row reproduces the clean recording
        if codec.capabilities.identity and opts.reference_row == "clean" and clean is not audio:
            heard = clean
            conversions += ("reference row: the clean recording (reference_row: clean)",)
        with ctx.timer.stage("resample", 1):
            original = resample(clean.samples, clean.sample_rate, METRIC_SAMPLE_RATE)
            at_codec_rate = codec_input(heard.samples, heard.sample_rate, codec.sample_rate, via)
        return _Item(utt=utt, original=original, codec_input=at_codec_rate, duration=audio.duration,
                     conversions=conversions)

    def _codec_roundtrip(self, ctx: TaskContext, codec: Codec, items: list[_Item]
                         ) -> list[tuple[Tokens | None, np.ndarray] | Exception]:
        try:
            return list(self._roundtrip_batch(ctx, codec, items))
        except Exception as err:  # noqa: BLE001 - retry one by one to isolate the bad item
            if len(items) == 1:
                return [err]
        results: list[tuple[Tokens | None, np.ndarray] | Exception] = []
        for item in items:
            try:
                results.extend(self._roundtrip_batch(ctx, codec, [item]))
            except Exception as err:  # noqa: BLE001 - becomes an error row
                results.append(err)
        return results

    def _roundtrip_batch(self, ctx: TaskContext, codec: Codec, items: list[_Item]
                         ) -> list[tuple[Tokens | None, np.ndarray]]:
        if codec.capabilities.recorded:  # audio made elsewhere: each item's file, no tokens
            recorded: list[tuple[Tokens | None, np.ndarray]] = []
            for item in items:
                with ctx.timer.stage("load", 1):
                    samples, rate = codec.recorded_output(item.utt.utt_id)
                with ctx.timer.stage("resample", 1):
                    recorded.append((None, resample(samples, rate, METRIC_SAMPLE_RATE)))
            return recorded
        tokens = cached_encode(codec, ctx.codec_key(codec), [i.codec_input for i in items],
                               ctx.token_cache, ctx.device, ctx.timer)
        with ctx.timer.stage("decode", len(items)), torch.inference_mode():
            out_wav, lengths = checked_decode(codec, Tokens.collate(tokens).to(ctx.device))
            wav = out_wav.float().cpu().numpy()
        decoded = []
        for j, item in enumerate(items):
            with ctx.timer.stage("resample", 1):
                out = resample(wav[j, : int(lengths[j])], codec.output_sample_rate, METRIC_SAMPLE_RATE)
            if not np.all(np.isfinite(out)):
                raise ValueError(f"resampling the decoded audio of {item.utt.utt_id} gave NaN/inf")
            decoded.append(out)
        return list(zip(tokens, decoded, strict=True))

    def _record(self, ctx: TaskContext, codec: Codec, items: list[_Item],
                results: list[tuple[Tokens | None, np.ndarray] | Exception]) -> list[tuple[_Item, np.ndarray]]:
        """Rate rows (none for recorded outputs) and saved audio of a decoded batch; returns the items to score."""
        ok: list[tuple[_Item, np.ndarray]] = []
        for item, result in zip(items, results, strict=True):
            if isinstance(result, Exception):
                self._error(ctx, item.utt, "codec", result)
                continue
            tokens, decoded = result
            aligned = match_length(decoded, len(item.original))
            length_info: dict = {"decoded_samples": len(decoded), "pad_or_trim": len(item.original) - len(decoded)}
            if item.conversions:
                length_info["conversions"] = list(item.conversions)
            saved = ctx.saved_audio(self.name, item.utt, aligned, METRIC_SAMPLE_RATE)
            if saved:
                length_info["audio"] = saved
                if tokens is not None and tokens.durations is not None:  # token boundaries for listening pages
                    length_info["token_durations"] = tokens.durations[0, : int(tokens.lengths[0])].tolist()
            if tokens is not None:
                ctx.add_rows(ctx.rate_rows(self.name, item.utt.utt_id, codec, tokens, item.duration, length_info))
            ok.append((item, aligned))
        return ok

    def _score(self, ctx: TaskContext, metrics: dict, ok: list[tuple[_Item, np.ndarray]],
               outputs: list[str]) -> None:
        for name, metric in metrics.items():
            todo = [(i, a) for i, a in ok if ctx.missing(self.name, i.utt.utt_id, ctx.metric_outputs[name])]
            if not todo:
                continue
            scores = score_batch(metric, [a for _, a in todo], [i.original for i, _ in todo],
                                 [i.utt for i, _ in todo], ctx.score_cache, ctx.timer)
            rows: list[Row] = []
            for (item, _), score in zip(todo, scores, strict=True):
                rows += ctx.score_rows(self.name, item.utt.utt_id, metric, score)
            ctx.add_rows(rows)
