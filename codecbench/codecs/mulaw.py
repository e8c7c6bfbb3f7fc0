"""8-bit mu-law companding (ITU-T G.711 style, mu = 255) at the input rate."""

from __future__ import annotations

import math
from typing import Annotated

import torch

from codecbench.api import Capabilities, Codec, Range, SampleRate, Tokens, register_codec


@register_codec("mulaw-8bit")
class MuLawCodec(Codec):
    """One 256-level code per sample: 8 bits x 16 kHz = 128 kbps."""

    codebook_sizes = [256]
    capabilities = Capabilities()

    def __init__(self, sample_rate: SampleRate = 16000, mu: Annotated[int, Range(1, 65535)] = 255) -> None:
        super().__init__()
        if mu < 1:
            raise ValueError(f"mu must be >= 1, got {mu}")
        self.mu = mu
        self.sample_rate = self.output_sample_rate = sample_rate
        self.nominal_frame_rate = float(sample_rate)
        self.nominal_bitrate = 8.0 * sample_rate

    def encode(self, wav: torch.Tensor, lengths: torch.Tensor) -> Tokens:
        x = wav.clamp(-1, 1).double()
        y = torch.sign(x) * torch.log1p(self.mu * x.abs()) / math.log1p(self.mu)
        codes = torch.round((y + 1) / 2 * self.mu).long().clamp(0, self.mu)
        return Tokens(codes=codes.unsqueeze(-1), lengths=lengths.clone(), num_samples=lengths.clone())

    def decode(self, tokens: Tokens) -> tuple[torch.Tensor, torch.Tensor]:
        y = tokens.codes[..., 0].double() / self.mu * 2 - 1
        x = torch.sign(y) * (torch.pow(1.0 + self.mu, y.abs()) - 1) / self.mu
        return x.float(), tokens.lengths.clone()
