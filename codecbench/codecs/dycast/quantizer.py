"""Scalar spherical quantizer: L dims x K levels, one token = L parallel streams of K values."""

from __future__ import annotations

import math

import torch
from torch import nn
from torch.nn import functional as F


class ScalarSphericalQuantizer(nn.Module):
    """Project onto the sphere, quantise each dim to K levels in [-1/sqrt(L), 1/sqrt(L)], renormalise."""

    inv_sqrtD: torch.Tensor  # buffers
    step: torch.Tensor
    scale: torch.Tensor
    bias: torch.Tensor

    def __init__(self, dim: int = 32, n_levels: int = 4) -> None:
        super().__init__()
        if n_levels < 2:
            raise ValueError(f"n_levels must be >= 2, got {n_levels}")
        self.dim, self.n_levels = dim, n_levels
        inv = torch.tensor(1.0 / math.sqrt(dim))
        self.register_buffer("inv_sqrtD", inv, persistent=False)
        self.register_buffer("step", torch.tensor(2.0 / (n_levels - 1)), persistent=False)
        self.register_buffer("scale", (n_levels - 1) / (2 * inv), persistent=False)
        self.register_buffer("bias", torch.tensor((n_levels - 1) / 2.0), persistent=False)

    @property
    def codebook(self) -> torch.Tensor:
        """Levels per dimension, ``[dim, n_levels]`` (before renormalisation)."""
        levels = (torch.arange(self.n_levels, device=self.step.device) * self.step - 1) * self.inv_sqrtD
        return levels.expand(self.dim, self.n_levels)

    def codes_to_toks(self, codes: torch.Tensor) -> torch.Tensor:
        u = torch.clamp(codes, -self.inv_sqrtD, self.inv_sqrtD)
        return torch.clamp(torch.round(u * self.scale + self.bias), 0, self.n_levels - 1).long()

    def lats_to_toks(self, lats: torch.Tensor) -> torch.Tensor:
        return self.codes_to_toks(lats / lats.norm(dim=-1, keepdim=True).clamp_min(1e-12))

    def toks_to_codes(self, toks: torch.Tensor) -> torch.Tensor:
        return F.normalize((-1 + self.step * toks) * self.inv_sqrtD, dim=-1)

    def lats_to_codes(self, lats: torch.Tensor) -> torch.Tensor:
        return self.toks_to_codes(self.lats_to_toks(lats))

    def forward(self, lats: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        toks = self.lats_to_toks(lats)
        return toks, self.toks_to_codes(toks)
