"""Finite scalar quantisation (Mentzer et al., 2023) as FlexiCodec's semantic quantizer uses it (key-compatible:
``semantic_vq.fsq.project_in`` / ``project_out``): project to one value per level set, bound it with tanh, round,
and read the rounded values as one mixed-radix index (levels ``[8, 8, 8, 8, 8]``: 32,768 codes)."""

from __future__ import annotations

import math
from collections.abc import Sequence

import torch
from torch import nn


class FSQ(nn.Module):
    _levels: torch.Tensor  # buffers
    _basis: torch.Tensor

    def __init__(self, levels: Sequence[int], dim: int) -> None:
        super().__init__()
        self.register_buffer("_levels", torch.tensor(list(levels), dtype=torch.int32), persistent=False)
        basis = torch.cumprod(torch.tensor([1, *levels[:-1]]), dim=0, dtype=torch.int32)
        self.register_buffer("_basis", basis, persistent=False)
        self.codebook_size = math.prod(levels)
        self.project_in = nn.Linear(dim, len(levels)) if dim != len(levels) else nn.Identity()
        self.project_out = nn.Linear(len(levels), dim) if dim != len(levels) else nn.Identity()

    def _bound(self, z: torch.Tensor, eps: float = 1e-3) -> torch.Tensor:
        half = (self._levels - 1) * (1 - eps) / 2
        offset = torch.where(self._levels % 2 == 0, 0.5, 0.0)
        return (z + (offset / half).tan()).tanh() * half - offset

    def forward(self, z: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """``[B, T, dim]`` -> the quantised ``[B, T, dim]`` and the indices ``[B, T]``."""
        half_width = self._levels // 2
        bounded = self._bound(self.project_in(z))
        codes = (bounded + (bounded.round() - bounded)) / half_width  # the reference's straight-through form
        indices = ((codes * half_width + half_width) * self._basis).sum(dim=-1).to(torch.int32)
        return self.project_out(codes), indices

    def indices_to_codes(self, indices: torch.Tensor) -> torch.Tensor:
        """Indices ``[B, T]`` -> ``[B, T, dim]``."""
        half_width = self._levels // 2
        codes = ((indices.unsqueeze(-1) // self._basis) % self._levels - half_width) / half_width
        return self.project_out(codes)


class FSQWrapper(nn.Module):
    """Channels-first: ``[B, dim, T]`` in and out, codes ``[B, 1, T]``."""

    def __init__(self, input_dim: int, levels: Sequence[int] = (8, 8, 8, 8, 8)) -> None:
        super().__init__()
        self.fsq = FSQ(levels, input_dim)

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        quantized, indices = self.fsq(x.transpose(1, 2))
        return quantized.transpose(1, 2), indices.unsqueeze(1)

    def from_codes(self, codes: torch.Tensor) -> torch.Tensor:
        return self.fsq.indices_to_codes(codes.squeeze(1)).transpose(1, 2)
