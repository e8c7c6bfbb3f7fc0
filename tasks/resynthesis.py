"""Speech resynthesis: encode -> decode -> metrics against the original (Table 1 of the paper).

Per utterance: load -> validate -> resample to the codec's rate -> encode (token cache)
-> decode -> resample to 16 kHz -> match the original's length (truncate, or repeat the
last sample, recorded in the row) -> metrics. Measured frame rate (frames / second) and
bitrate (bits actually needed / second) are rows too.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass

import numpy as np
import torch
from tqdm import tqdm

from bench.audio import METRIC_SAMPLE_RATE, AudioError, load_audio, match_length, resample, validate
from bench.codec import Codec, Tokens
from bench.datasets import Utterance
from bench.registry import register_task
from bench.store import Row
from bench.task import RATE_OUTPUTS, Task, TaskContext, cached_encode, score_batch

log = logging.getLogger(__name__)


@dataclass
class _Item:
    utt: Utterance
    original: np.ndarray  # 16 kHz, for metrics
    codec_input: np.ndarray  # at the codec's rate
    duration: float
    conversions: tuple[str, ...] = ()  # what loading changed (channels, clipping, sample rate): kept in rows


@register_task("resynthesis")
class Resynthesis(Task):
    """Encode -> decode -> metrics against the original; measured frame rate and bitrate."""

    name = "resynthesis"
    version = "1"
    outputs = RATE_OUTPUTS
    uses_metrics = True
    default = True
    shard_by_utterance = True

    def run(self, ctx: TaskContext) -> None:
        outputs = ctx.scored_outputs()
        pending = [u for u in ctx.utterances if ctx.missing(self.name, u.utt_id, outputs)]
        if not pending:
            return
        codec = ctx.get_codec()
        metrics = ctx.get_metrics()
        batch = ctx.batch_size if codec.capabilities.batched else 1
        bar = tqdm(total=len(pending), desc=f"{ctx.codec_label} / {ctx.dataset}",
                   unit="utt", disable=not ctx.progress, leave=False)
        for start in range(0, len(pending), batch):
            chunk = pending[start:start + batch]
            items = [item for item in (self._prepare(ctx, codec, u) for u in chunk) if item]
            if items:
                self._process(ctx, codec, metrics, items, outputs)
            bar.update(len(chunk))
        bar.close()

    def _error(self, ctx: TaskContext, utt: Utterance, stage: str, err: Exception) -> None:
        ctx.store.add([ctx.error_row(self.name, utt.utt_id, stage, err)])

    def _prepare(self, ctx: TaskContext, codec: Codec, utt: Utterance) -> _Item | None:
        try:
            audio = load_audio(utt.path)
            min_seconds = codec.min_samples / codec.sample_rate
            audio = validate(audio, min_seconds=min_seconds, max_seconds=ctx.max_seconds)
        except AudioError as err:
            self._error(ctx, utt, "load", err)
            return None
        conversions = audio.conversions + tuple(
            f"resampled {audio.sample_rate}->{rate} Hz ({use})"
            for rate, use in ((codec.sample_rate, "codec input"), (METRIC_SAMPLE_RATE, "metrics"))
            if rate != audio.sample_rate)
        if conversions:
            log.info("%s: %s", utt.utt_id, ", ".join(conversions))
        return _Item(
            utt=utt,
            original=resample(audio.samples, audio.sample_rate, METRIC_SAMPLE_RATE),
            codec_input=resample(audio.samples, audio.sample_rate, codec.sample_rate),
            duration=audio.duration,
            conversions=conversions,
        )

    def _codec_roundtrip(self, ctx: TaskContext, codec: Codec, items: list[_Item]
                         ) -> list[tuple[Tokens, np.ndarray] | Exception]:
        try:
            return list(self._roundtrip_batch(ctx, codec, items))
        except Exception as err:  # noqa: BLE001 - retry one by one to isolate the bad item
            if len(items) == 1:
                return [err]
        results: list[tuple[Tokens, np.ndarray] | Exception] = []
        for item in items:
            try:
                results.extend(self._roundtrip_batch(ctx, codec, [item]))
            except Exception as err:  # noqa: BLE001 - becomes an error row
                results.append(err)
        return results

    def _roundtrip_batch(self, ctx: TaskContext, codec: Codec, items: list[_Item]
                         ) -> list[tuple[Tokens, np.ndarray]]:
        tokens = cached_encode(codec, ctx.codec_key(codec), [i.codec_input for i in items],
                               ctx.token_cache, ctx.device)
        with torch.inference_mode():
            out_wav, lengths = codec.decode(Tokens.collate(tokens).to(ctx.device))
        wav = out_wav.float().cpu().numpy()
        decoded = []
        for j, item in enumerate(items):
            out = resample(wav[j, : int(lengths[j])], codec.output_sample_rate, METRIC_SAMPLE_RATE)
            if not np.all(np.isfinite(out)):
                raise ValueError(f"decoder produced NaN/inf for {item.utt.utt_id}")
            decoded.append(out)
        return list(zip(tokens, decoded, strict=True))

    def _process(self, ctx: TaskContext, codec: Codec, metrics: dict, items: list[_Item],
                 outputs: list[str]) -> None:
        results = self._codec_roundtrip(ctx, codec, items)
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
                if tokens.durations is not None:  # token boundaries for listening pages (variable-rate codecs)
                    length_info["token_durations"] = tokens.durations[0, : int(tokens.lengths[0])].tolist()
            ctx.store.add(ctx.rate_rows(self.name, item.utt.utt_id, codec, tokens, item.duration, length_info))
            ok.append((item, aligned))
        for name, metric in metrics.items():
            todo = [(i, a) for i, a in ok if ctx.missing(self.name, i.utt.utt_id, ctx.metric_outputs[name])]
            if not todo:
                continue
            scores = score_batch(metric, [a for _, a in todo], [i.original for i, _ in todo],
                                 [i.utt for i, _ in todo], ctx.score_cache)
            rows: list[Row] = []
            for (item, _), score in zip(todo, scores, strict=True):
                rows += ctx.score_rows(self.name, item.utt.utt_id, metric, score)
            ctx.store.add(rows)

