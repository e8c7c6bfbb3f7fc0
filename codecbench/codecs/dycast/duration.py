"""Negative-binomial duration model: free decoding, budget decoding with exact integer sums, sampling."""

from __future__ import annotations

from typing import Sequence

import torch
from torch import nn
from torch.nn import functional as F

from .._blocks.focal import scalar_head


def valid_mask(length: torch.Tensor | None, batch: int, chunks: int, device: torch.device) -> torch.Tensor:
    """``[B, N]`` mask of valid chunks from relative lengths (``ceil(length * N)``)."""
    if length is None:
        return torch.ones(batch, chunks, dtype=torch.bool, device=device)
    n_valid = torch.ceil(length.to(device) * chunks).long().clamp(0, chunks)
    return torch.arange(chunks, device=device)[None, :] < n_valid[:, None]


def renormalize_mu_to_budget(mu: torch.Tensor, budget: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
    """Scale valid means so that each row sums to ``budget`` (uniform when the row sums to ~0)."""
    mu = torch.where(mask, mu, torch.zeros_like(mu))
    total = mu.sum(dim=1, keepdim=True)
    safe = total.clamp_min(1e-12)
    budget = budget.to(mu.dtype)[:, None]
    scaled = mu * (budget / safe)
    n_valid = mask.sum(dim=1, keepdim=True).clamp_min(1).to(mu.dtype)
    uniform = (budget / n_valid).expand_as(mu)
    scaled = torch.where(total <= 1e-11, uniform, scaled)
    return torch.where(mask, scaled, torch.zeros_like(scaled))


def exact_sum_rounding(scaled: torch.Tensor, budget: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
    """Floor, then give +1 to the largest fractional parts until each row sums to ``budget``."""
    base = torch.floor(scaled).long()
    base = torch.where(mask, base, torch.zeros_like(base))
    frac = torch.where(mask, scaled - torch.floor(scaled), torch.full_like(scaled, float("-inf")))
    n_valid = mask.sum(dim=1)
    rem = torch.minimum((budget.long() - base.sum(dim=1)).clamp_min(0), n_valid)
    k = int(rem.max()) if rem.numel() else 0
    if k > 0:
        idx = torch.topk(frac, k, dim=1).indices
        add = (torch.arange(k, device=scaled.device)[None, :] < rem[:, None]).long()
        base = base.scatter_add(1, idx, add)
    return base


class NegBinModel(nn.Module):
    """Chunk durations d = d_min + y, y ~ NegBin(mean mu_free, dispersion alpha)."""

    def __init__(self, input_dim: int = 32, hidden_dims: Sequence[int] = (1024, 1024, 1024),
                 downscale_factors: Sequence[int] = (1, 1, 1), focal_window: int = 14, focal_level: int = 2,
                 focal_factor: int = 4, dropout: float = 0.0, use_post_norm: bool = False,
                 use_layerscale: bool = False, layerscale_init: float = 1e-4, tanhscale_init: float = 0.5,
                 normalize_modulator: bool = False, causal: bool = False, window_size: int = 512,
                 min_duration: int = 1, eps: float = 1e-4) -> None:
        super().__init__()
        self.min_duration, self.eps = min_duration, eps
        self._alpha_unconstrained = nn.Parameter(torch.tensor(0.0))
        self.mu_head = scalar_head(self, input_dim, hidden_dims, downscale_factors, focal_window, focal_level,
                                focal_factor, dropout, use_post_norm, use_layerscale, layerscale_init, tanhscale_init,
                                normalize_modulator, causal, window_size)

    def alpha(self) -> torch.Tensor:
        return F.softplus(self._alpha_unconstrained) + self.eps

    def forward(self, pcodes: torch.Tensor, state: Sequence = ()) -> tuple[torch.Tensor, list]:
        raw, new_state = self.mu_head(pcodes, state)
        return F.softplus(raw[..., 0]) + self.eps, new_state

    def _budget(self, values: torch.Tensor, num_frames: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
        n_valid = mask.sum(dim=1)
        free = (num_frames.to(values.device).long() - self.min_duration * n_valid).clamp_min(0)
        rounded = exact_sum_rounding(renormalize_mu_to_budget(values, free, mask), free, mask)
        return rounded + self.min_duration

    @torch.no_grad()
    def decode(self, mu_free: torch.Tensor, length: torch.Tensor | None = None,
               num_frames: torch.Tensor | None = None) -> torch.Tensor:
        """Free: ``max(round(mu + d_min), d_min)``; budget: durations summing exactly to ``num_frames``."""
        mask = valid_mask(length, mu_free.shape[0], mu_free.shape[1], mu_free.device)
        if num_frames is None:
            durs = torch.round(mu_free + self.min_duration).clamp_min(self.min_duration).long()
        else:
            durs = self._budget(mu_free, num_frames, mask)
        return torch.where(mask, durs, torch.zeros_like(durs))

    @torch.no_grad()
    def sample(self, mu_free: torch.Tensor, length: torch.Tensor | None = None,
               num_frames: torch.Tensor | None = None) -> torch.Tensor:
        """One NegativeBinomial draw over ``[B, N]`` (global RNG), then free or budget decoding."""
        mask = valid_mask(length, mu_free.shape[0], mu_free.shape[1], mu_free.device)
        alpha = self.alpha().clamp_min(self.eps)
        mu = mu_free.clamp_min(self.eps)
        r = (1.0 / alpha).clamp_min(self.eps)
        logits = (torch.log(mu) - torch.log(r)).clamp(-30, 30)
        y = torch.distributions.NegativeBinomial(total_count=r, logits=logits).sample().long()
        y = torch.where(mask, y, torch.zeros_like(y))
        durs = y + self.min_duration if num_frames is None else self._budget(y.to(mu_free.dtype), num_frames, mask)
        return torch.where(mask, durs, torch.zeros_like(durs))
