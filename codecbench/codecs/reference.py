"""The ``reference`` row: 16-bit PCM, i.e. the original audio through the whole pipeline.

Samples map to codes as the usual 16-bit PCM convention does (``x * 32768``, as soundfile reads and
writes them), so 16-bit audio comes back bit for bit: its output is the original, whose transcripts
and embeddings the caches already hold."""

from __future__ import annotations

import torch

from codecbench.api import Capabilities, Codec, SampleRate, Tokens, register_codec


@register_codec("reference")
class ReferenceCodec(Codec):
    """Identity codec: codes are the 16-bit PCM samples (65536 levels, 16 bits per sample)."""

    codebook_sizes = [65536]
    capabilities = Capabilities(identity=True)

    def __init__(self, sample_rate: SampleRate = 16000) -> None:
        super().__init__()
        self.sample_rate = self.output_sample_rate = sample_rate
        self.nominal_frame_rate = float(sample_rate)
        self.nominal_bitrate = 16.0 * sample_rate

    def encode(self, wav: torch.Tensor, lengths: torch.Tensor) -> Tokens:
        pcm = torch.round(wav * 32768).clamp(-32768, 32767).long() + 32768
        return Tokens(codes=pcm.unsqueeze(-1), lengths=lengths.clone(), num_samples=lengths.clone())

    def decode(self, tokens: Tokens) -> tuple[torch.Tensor, torch.Tensor]:
        wav = (tokens.codes[..., 0].float() - 32768) / 32768
        return wav, tokens.lengths.clone()
