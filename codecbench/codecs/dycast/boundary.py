"""Hazard boundary predictor: per-frame logits, greedy decoding and sequential sampling."""

from __future__ import annotations

from typing import Sequence

import torch
from torch import nn

from .._blocks.focal import scalar_head


def absolute_length(length: torch.Tensor | None, frames: int, batch: int, device: torch.device) -> torch.Tensor:
    """Valid frames per item: ``ceil(length * T)`` clamped to [0, T], or T when no length."""
    if length is None:
        return torch.full((batch,), frames, dtype=torch.long, device=device)
    return torch.ceil(length.to(device) * frames).long().clamp(0, frames)


def boundaries_to_durations(boundary: torch.Tensor, abs_len: torch.Tensor) -> torch.Tensor:
    """Boolean chunk ends ``[B, T]`` -> chunk lengths ``[B, N]`` (zero-padded, rows sum to abs_len)."""
    batch, frames = boundary.shape
    pos = torch.arange(frames, device=boundary.device)[None, :]
    valid = pos < abs_len[:, None]
    boundary = (boundary.bool() | (pos == (abs_len[:, None] - 1))) & valid
    csum = boundary.long().cumsum(dim=1)
    chunk = (csum - 1).clamp_min(0)
    last = (abs_len - 1).clamp_min(0)
    counts = torch.gather(csum, 1, last[:, None])[:, 0]
    counts = torch.where(abs_len > 0, counts, torch.ones_like(counts))
    n_max = int(counts.max()) if batch else 0
    durs = torch.zeros(batch, max(n_max, 1), dtype=torch.long, device=boundary.device)
    durs.scatter_add_(1, torch.where(valid, chunk, torch.zeros_like(chunk)), valid.long())
    return durs[:, :n_max] if n_max else durs


class HazardModel(nn.Module):
    """Logits of P(a chunk ends at frame t | it has not ended since the last boundary)."""

    def __init__(self, input_dim: int = 1024, hidden_dims: Sequence[int] = (1024, 1024, 1024),
                 downscale_factors: Sequence[int] = (1, 1, 1), focal_window: int = 14, focal_level: int = 2,
                 focal_factor: int = 4, dropout: float = 0.0, use_post_norm: bool = False,
                 use_layerscale: bool = False, layerscale_init: float = 1e-4, tanhscale_init: float = 0.5,
                 normalize_modulator: bool = False, causal: bool = False, window_size: int = 512) -> None:
        super().__init__()
        self.head = scalar_head(self, input_dim, hidden_dims, downscale_factors, focal_window, focal_level,
                                focal_factor, dropout, use_post_norm, use_layerscale, layerscale_init, tanhscale_init,
                                normalize_modulator, causal, window_size)

    def forward(self, feats: torch.Tensor, state: Sequence = ()) -> tuple[torch.Tensor, list]:
        logits, new_state = self.head(feats, state)
        return logits[..., 0], new_state

    @torch.no_grad()
    def decode(self, logits: torch.Tensor, length: torch.Tensor | None = None, threshold: float = 0.5,
               min_gap: int = 1, max_gap: int | None = None) -> torch.Tensor:
        """Greedy boundaries: fire when h >= threshold at least ``min_gap`` frames after the last
        boundary, or (with ``max_gap``) when ``max_gap`` frames have passed. Loops over chunks, not frames."""
        batch, frames = logits.shape
        abs_len = absolute_length(length, frames, batch, logits.device)
        above = torch.sigmoid(logits) >= threshold
        pos = torch.arange(frames, device=logits.device)
        if min_gap <= 1 and max_gap is None:
            return boundaries_to_durations(above & (pos[None] < abs_len[:, None]), abs_len)
        # next_above[b, p]: first t >= p with h_t >= threshold (frames if none); one extra column.
        marks = torch.where(above, pos[None].expand(batch, -1), torch.full_like(above, frames, dtype=torch.long))
        marks = torch.cat([marks, marks.new_full((batch, 1), frames)], dim=1)
        next_above = marks.flip(1).cummin(dim=1).values.flip(1)
        boundary = torch.zeros(batch, frames + 1, dtype=torch.bool, device=logits.device)
        start = torch.zeros(batch, dtype=torch.long, device=logits.device)  # earliest allowed frame
        forced_base = torch.full((batch,), -1, dtype=torch.long, device=logits.device)
        active = abs_len > 0
        rows = torch.arange(batch, device=logits.device)
        while bool(active.any()):
            t = torch.gather(next_above, 1, start.clamp(max=frames)[:, None])[:, 0]
            if max_gap is not None:
                t = torch.minimum(t, torch.maximum(forced_base + max_gap, start))
            fire = active & (t < abs_len)
            boundary[rows[fire], t[fire]] = True
            active = fire
            start = torch.where(fire, t + min_gap, start)
            forced_base = torch.where(fire, t, forced_base)
        return boundaries_to_durations(boundary[:, :frames], abs_len)

    @torch.no_grad()
    def sample(self, logits: torch.Tensor, length: torch.Tensor | None = None, min_gap: int = 1,
               max_gap: int = 50, temperature: float = 1.0) -> torch.Tensor:
        """Sequential sampling: one ``torch.rand((B, max_gap))`` draw per chunk (global RNG)."""
        batch, frames = logits.shape
        abs_len = absolute_length(length, frames, batch, logits.device)
        hazard = torch.sigmoid(logits / temperature)
        boundary = torch.zeros(batch, frames, dtype=torch.bool, device=logits.device)
        pointer = torch.zeros(batch, dtype=torch.long, device=logits.device)
        offsets = torch.arange(max_gap, device=logits.device)
        rows = torch.arange(batch, device=logits.device)
        while bool((pointer < abs_len).any()):
            active = pointer < abs_len
            clen = torch.minimum(abs_len - pointer, torch.full_like(pointer, max_gap))
            draw = torch.rand((batch, max_gap), device=logits.device)
            idx = pointer[:, None] + offsets[None]
            ok = active[:, None] & (offsets[None] < clen[:, None]) & (idx < frames)
            prob = torch.where(ok, torch.gather(hazard, 1, idx.clamp(max=frames - 1)), torch.zeros_like(draw))
            hits = (draw < prob) & ok
            first = torch.where(hits.any(dim=1), hits.float().argmax(dim=1), clen - 1)
            at = pointer + first
            boundary[rows[active], at[active]] = True
            pointer = torch.where(active, at + min_gap, pointer)
        return boundaries_to_durations(boundary, abs_len)
