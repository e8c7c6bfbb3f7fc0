"""Binary spherical quantizer: one integer token per frame, latent dim 0 = most significant bit."""

from __future__ import annotations

import math

import torch
from torch import nn


class BinarySphericalQuantizer(nn.Module):
    """Codes are ``sign(lat) / sqrt(d)`` (``lat > 0`` -> bit 1; 0, -0 and NaN -> bit 0)."""

    codebook_value: torch.Tensor  # buffers
    mask: torch.Tensor
    codebook: torch.Tensor

    def __init__(self, codebook_size: int = 4096) -> None:
        super().__init__()
        if codebook_size < 2:
            raise ValueError(f"codebook_size must be >= 2, got {codebook_size}")
        self.codebook_size = codebook_size
        self.dim = int(math.log2(codebook_size))
        self.register_buffer("codebook_value", torch.tensor(1 / math.sqrt(self.dim), dtype=torch.float32),
                             persistent=False)
        self.register_buffer("mask", 2 ** torch.arange(self.dim - 1, -1, -1), persistent=False)
        self.register_buffer("codebook", self.toks_to_codes(torch.arange(codebook_size)), persistent=False)

    def lats_to_codes(self, lats: torch.Tensor) -> torch.Tensor:
        return torch.where(lats > 0, self.codebook_value, -self.codebook_value)

    def codes_to_toks(self, codes: torch.Tensor) -> torch.Tensor:
        return ((codes > 0).long() * self.mask).sum(dim=-1)

    def lats_to_toks(self, lats: torch.Tensor) -> torch.Tensor:
        return self.codes_to_toks(lats)

    def toks_to_codes(self, toks: torch.Tensor) -> torch.Tensor:
        bits = (toks[..., None] // self.mask) % 2
        return (2 * bits.to(self.codebook_value.dtype) - 1) * self.codebook_value

    def forward(self, lats: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        toks = self.lats_to_toks(lats)
        return toks, self.toks_to_codes(toks)
