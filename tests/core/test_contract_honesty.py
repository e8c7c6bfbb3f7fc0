"""The codec contract is honest and complete (issue 41, item 4): a codec that counts its padded last frame passes
the rate check (so none is pushed to under-report), a batching failure names the fix (GroupedCodec), and a codec
that declares ``batched=False`` is checked and run one item at a time."""

from __future__ import annotations

import math
from pathlib import Path

import torch

import codecbench
from codecbench.api import Capabilities, Codec, Tokens
from codecbench.api.contract import CHECKS, contract_failures


class PaddedFrames(Codec):
    """130 ms frames, the last partial frame zero-padded and counted: 3 s is 24 frames, 8.0 Hz measured against
    7.69 Hz declared (4 % over: more than 2 %, less than one frame)."""

    hop = 2080
    codebook_sizes = [256]
    nominal_frame_rate = 16000 / 2080

    def encode(self, wav: torch.Tensor, lengths: torch.Tensor) -> Tokens:
        frames = torch.tensor([math.ceil(int(n) / self.hop) for n in lengths])
        padded = torch.nn.functional.pad(wav, (0, int(frames.max()) * self.hop - wav.shape[1]))
        mean = padded.reshape(wav.shape[0], -1, self.hop).mean(-1)
        codes = torch.round((mean.clamp(-1, 1) + 1) / 2 * 255).long()[..., None]
        return Tokens(codes=codes, lengths=frames, num_samples=lengths.clone())

    def decode(self, tokens: Tokens) -> tuple[torch.Tensor, torch.Tensor]:
        level = tokens.codes[..., 0].float() / 255 * 2 - 1
        return level.repeat_interleave(self.hop, dim=1), tokens.num_samples.clone()


class Smoothing(Codec):
    """A 5-tap smoothing filter over the padded batch, edges reflected: a shorter item's last samples see the
    batch's zero padding instead of their own reflection."""

    codebook_sizes = [65536]
    nominal_frame_rate = 16000.0
    calls: list[int] = []

    def encode(self, wav: torch.Tensor, lengths: torch.Tensor) -> Tokens:
        Smoothing.calls.append(int(wav.shape[0]))
        edges = torch.nn.functional.pad(wav[:, None], (2, 2), mode="reflect")
        smooth = torch.nn.functional.avg_pool1d(edges, 5, stride=1)[:, 0]
        codes = torch.round((smooth.clamp(-1, 1) + 1) / 2 * 65535).long()[..., None]
        return Tokens(codes=codes, lengths=lengths.clone(), num_samples=lengths.clone())

    def decode(self, tokens: Tokens) -> tuple[torch.Tensor, torch.Tensor]:
        return tokens.codes[..., 0].float() / 65535 * 2 - 1, tokens.lengths.clone()


class OneAtATime(Smoothing):
    capabilities = Capabilities(batched=False)


def test_a_codec_counting_its_padded_last_frame_passes_the_rate_check() -> None:
    assert "Hz measured" in CHECKS["frame_rate"](PaddedFrames())
    assert contract_failures(PaddedFrames()) == []


def test_a_batching_failure_names_grouped_codec_and_batched_false_is_honoured(audio_dir: Path, tmp_path: Path
                                                                              ) -> None:
    failures = contract_failures(Smoothing())
    assert any(f.startswith("batching:") and "GroupedCodec" in f and "batched=False" in f for f in failures)
    assert contract_failures(OneAtATime()) == []
    Smoothing.calls.clear()
    results = codecbench.evaluate([OneAtATime()], audio_dir, tasks=["resynthesis"], metrics=[], profile="offline",
                                  out=tmp_path / "run", progress=False, batch_size=8)
    assert set(Smoothing.calls) == {1}  # the contract's clips and the run's utterances, one at a time
    assert results.outcome is not None and not results.outcome.failed
    assert results.rows["error"].isna().all() and len(results.rows) == 6  # 2 utterances x 3 rates
