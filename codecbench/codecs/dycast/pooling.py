"""Chunk pooling by durations: select the last frame of each chunk; repeat chunks back to frames."""

from __future__ import annotations

import torch
from torch import nn


class SelectLastPool(nn.Module):
    """``lats [B, T, D], durs [B, N] -> [B, N, D]``; padded chunks repeat the last real chunk."""

    def forward(self, lats: torch.Tensor, durs: torch.Tensor) -> torch.Tensor:
        durs = durs.to(lats.device)
        idx = (durs.cumsum(dim=1) - 1).clamp(0, lats.shape[1] - 1)
        return torch.gather(lats, 1, idx[..., None].expand(-1, -1, lats.shape[-1]))


class RepeatInterleaveUnpool(nn.Module):
    """``plats [B, N, D], durs [B, N] -> [B, max_b sum(durs), D]``; frames past a row's total are 0."""

    def forward(self, plats: torch.Tensor, durs: torch.Tensor) -> torch.Tensor:
        durs = durs.to(plats.device)
        batch, _, dim = plats.shape
        totals = durs.sum(dim=1)
        t_max = int(totals.max()) if batch else 0
        padded = torch.cat([plats, plats.new_zeros(batch, 1, dim)], dim=1)
        counts = torch.cat([durs, (t_max - totals)[:, None]], dim=1)
        frames = torch.repeat_interleave(padded.reshape(-1, dim), counts.reshape(-1), dim=0)
        return frames.reshape(batch, t_max, dim)
