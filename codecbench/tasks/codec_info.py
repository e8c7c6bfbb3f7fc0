"""Codec properties (Table 1 of the paper): frame rate and bitrate measured on real audio, sample rates,
codebooks and parameter counts.

Per utterance: load -> validate -> resample to the codec's rate -> encode (token cache) -> measured
frame rate and bitrate rows. Once per codec variant (utterance ``*``): sample rates, parameters and
parameters + buffers (some codecs keep their codebooks in buffers), with the codebook layout in
``extra``. ``codecbench table1`` and ``codecbench paper table1`` run this task; :mod:`codecbench.results.table1` lays
its rows out
as the paper does, beside the published values.
"""

from __future__ import annotations

import math

import torch
from tqdm import tqdm

from codecbench.api import (
    RATE_OUTPUTS,
    WHOLE,
    AudioError,
    Codec,
    MetricOutput,
    Row,
    Task,
    TaskContext,
    Tokens,
    cached_encode,
    codec_flags,
    load_audio,
    register_task,
    resample,
    validate_audio,
)

CARD = WHOLE  # the item of the per-codec rows


def codebooks(sizes: list[int]) -> str:
    """``2x1024`` for equal streams, ``4+8+...`` otherwise."""
    if len(set(sizes)) == 1:
        return f"{len(sizes)}x{sizes[0]}"
    return "+".join(str(v) for v in sizes)


@register_task("codec_info")
class CodecInfo(Task):
    """Measured frame rate and bitrate, sample rates, codebooks and parameter counts (Table 1)."""

    name = "codec_info"
    version = "1"
    outputs = RATE_OUTPUTS + (
        MetricOutput("sample_rate_khz", "SR (kHz)", None, decimals=1, order=2, per_dataset=False),
        MetricOutput("output_sample_rate_khz", "SR out (kHz)", None, decimals=1, order=3, per_dataset=False),
        MetricOutput("params_m", "Params (M)", None, decimals=2, order=4, per_dataset=False),
        MetricOutput("state_m", "Params + buffers (M)", None, decimals=2, order=5, per_dataset=False),
        MetricOutput("codebook_usage", "Codebook usage (%)", None, scale=100.0, decimals=1, order=6,
                     per_dataset=False),
        MetricOutput("entropy_bitrate", "Entropy bitrate (kbps)", None, "ratio", 1e-3, 2, order=7, per_dataset=False),
    )

    def run(self, ctx: TaskContext) -> None:
        rates = [o.name for o in RATE_OUTPUTS]
        pending = [u for u in ctx.utterances if ctx.missing(self.name, u.utt_id, rates)]
        card = ctx.missing(self.name, CARD, ["params_m"])
        usage = ctx.missing(self.name, CARD, ["codebook_usage"])
        if not pending and not card and not usage:
            return
        codec = ctx.get_codec()
        if card:
            ctx.add_rows(self._card(ctx, codec))
        key = ctx.codec_key(codec)
        collected: list[tuple[Tokens, float]] = []
        fresh = {u.utt_id for u in pending}
        todo = ctx.utterances if usage else pending  # usage needs every utterance's tokens (cache hits)
        for utt in tqdm(todo, desc=f"{ctx.codec_label} / {ctx.dataset} (codec info)", unit="utt",
                        disable=not ctx.progress, leave=False):
            if utt.utt_id not in fresh and not ctx.has(self.name, utt.utt_id, "frame_rate"):
                continue  # an utterance that failed before
            try:
                audio = validate_audio(load_audio(utt.path, ctx.max_seconds),
                                 min_seconds=codec.min_samples / codec.sample_rate, max_seconds=ctx.max_seconds)
                wav = resample(audio.samples, audio.sample_rate, codec.sample_rate)
                (tokens,) = cached_encode(codec, key, [wav], ctx.token_cache, ctx.device, ctx.timer)
            except (AudioError, RuntimeError, ValueError) as err:
                ctx.add_rows([ctx.error_row(self.name, utt.utt_id, "encode", err)])
                continue
            if utt.utt_id in fresh:
                ctx.add_rows(ctx.rate_rows(self.name, utt.utt_id, codec, tokens, audio.duration))
            collected.append((tokens, audio.duration))
        if usage and collected:
            ctx.add_rows(self._usage(ctx, codec, collected))

    def _usage(self, ctx: TaskContext, codec: Codec, items: list[tuple[Tokens, float]]) -> list[Row]:
        """Share of each codebook's codes used, and the entropy-coded bitrate: the sum over streams of
        the empirical code entropy (bits per token) times tokens per second, over the dataset."""
        # exactly rounded sums: the same in any utterance order (a sharded run meets them in another)
        frames = math.fsum(float(t.lengths[0]) for t, _ in items)  # tokens (code vectors), not e.g. Opus packets
        seconds = math.fsum(d for _, d in items)
        used, bits = [], 0.0
        for k, vocab in enumerate(codec.codebook_sizes):
            codes = torch.cat([t.codes[0, : int(t.lengths[0]), k] for t, _ in items]).long()
            counts = torch.bincount(codes.clamp(0, vocab - 1), minlength=vocab).double()
            p = counts[counts > 0] / counts.sum()
            used.append(float((counts > 0).sum()) / vocab)
            bits += float(-(p * p.log2()).sum())
        extra = {"per_stream_usage": [round(u, 4) for u in used], **codec_flags(codec)}
        return [ctx.row(self.name, CARD, "codebook_usage", value=sum(used) / len(used), backend="counted", extra=extra),
                ctx.row(self.name, CARD, "entropy_bitrate", value=bits * frames / seconds, num=bits * frames,
                        den=seconds, backend="counted")]

    def _card(self, ctx: TaskContext, codec: Codec) -> list[Row]:
        modules = codec.counted_modules()
        params = sum(p.numel() for m in modules for p in m.parameters())
        state = sum(t.numel() for m in modules for t in m.state_dict().values())
        extra = {"codebooks": codebooks(list(codec.codebook_sizes)), **codec_flags(codec)}
        values = {"sample_rate_khz": codec.sample_rate / 1000,
                  "output_sample_rate_khz": codec.output_sample_rate / 1000,
                  "params_m": params / 1e6 if params else None, "state_m": state / 1e6 if state else None}
        return [ctx.row(self.name, CARD, name, value=value, backend="counted", extra=extra)
                for name, value in values.items()]
