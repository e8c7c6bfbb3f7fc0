"""Training losses defined by the DyCAST paper for its learned parts (the official release has none).

* :func:`hazard_nll`: negative log-likelihood of the next-boundary offsets under the hazard model
  (paper section 3, "maximising the likelihood of ground-truth next-boundary offsets");
* :func:`negbin_duration_loss`: eq. (7), negative-binomial NLL of d - d_min plus the normalised
  length penalty with lambda = 0.05;
* :func:`ssq_entropy_loss`: the factorised entropy regulariser of the quantizer (weight 0.1), per
  latent dimension over its K levels: mean per-sample entropy minus entropy of the batch mean.

Reductions are not given by the paper; each function documents its choice.
"""

from __future__ import annotations

import torch
from torch.nn import functional as F


def durations_to_boundaries(durs: torch.Tensor, frames: int) -> tuple[torch.Tensor, torch.Tensor]:
    """Chunk lengths ``[B, N]`` -> (boundary indicator ``[B, T]`` at each chunk's last frame, valid mask)."""
    ends = durs.cumsum(dim=1) - 1
    boundary = torch.zeros(durs.shape[0], frames, dtype=torch.bool, device=durs.device)
    ok = (durs > 0) & (ends < frames)
    rows = torch.arange(durs.shape[0], device=durs.device)[:, None].expand_as(ends)
    boundary[rows[ok], ends[ok]] = True
    valid = torch.arange(frames, device=durs.device)[None] < durs.sum(dim=1, keepdim=True)
    return boundary, valid


def hazard_nll(logits: torch.Tensor, durs: torch.Tensor) -> torch.Tensor:
    """-log P(segmentation) = -sum_t [b_t log h_t + (1 - b_t) log(1 - h_t)] over covered frames.

    For a fully observed segmentation this equals the sum over chunks of
    -log(prod_{i<k}(1 - h_{t+i}) h_{t+k}). Averaged per covered frame over the batch.
    """
    boundary, valid = durations_to_boundaries(durs, logits.shape[1])
    nll = F.binary_cross_entropy_with_logits(logits, boundary.to(logits.dtype), reduction="none")
    return (nll * valid).sum() / valid.sum().clamp_min(1)


def negbin_duration_loss(mu_free: torch.Tensor, alpha: torch.Tensor, durs: torch.Tensor, min_duration: int = 1,
                         length_weight: float = 0.05, eps: float = 1e-4) -> torch.Tensor:
    """Eq. (7): sum_i -log NB(d_i - d_min | mu_i, alpha) + lambda ((sum mu - T_free) / (T_free + eps))^2.

    ``durs [B, N]`` are the target durations (0 = padding). NB has mean mu and variance
    mu + alpha mu^2 (total_count = 1 / alpha). Averaged over the batch.
    """
    mask = durs > 0
    y = (durs - min_duration).clamp_min(0).to(mu_free.dtype)
    r = (1.0 / alpha.clamp_min(eps)).clamp_min(eps)
    logits = torch.log(mu_free.clamp_min(eps)) - torch.log(r)
    nll = -torch.distributions.NegativeBinomial(total_count=r, logits=logits).log_prob(y)
    nll = (nll * mask).sum(dim=1)
    t_free = (durs.sum(dim=1) - min_duration * mask.sum(dim=1)).to(mu_free.dtype)
    penalty = (((mu_free * mask).sum(dim=1) - t_free) / (t_free + eps)).pow(2)
    return (nll + length_weight * penalty).mean()


def ssq_entropy_loss(lats: torch.Tensor, codebook: torch.Tensor, temperature: float = 0.01,
                     mask: torch.Tensor | None = None) -> torch.Tensor:
    """Factorised entropy regulariser of SSQ latents ``[..., L]`` against levels ``[L, K]``.

    Soft assignments p = softmax(-(u - level)^2 / temperature) per dimension, with u the
    L2-normalised latent. Loss = mean_dims[ mean_samples H(p) - H(mean_samples p) ]: low per-sample
    entropy (confident codes) and high entropy of the average (all levels used).
    """
    u = F.normalize(lats, dim=-1)
    flat = u.reshape(-1, u.shape[-1])
    if mask is not None:
        flat = flat[mask.reshape(-1)]
    dist = (flat[..., None] - codebook.to(flat)[None]).pow(2)  # [S, L, K]
    probs = torch.softmax(-dist / temperature, dim=-1)
    per_sample = -(probs * torch.log(probs.clamp_min(1e-12))).sum(-1).mean(0)
    avg = probs.mean(0)
    codebook_usage = -(avg * torch.log(avg.clamp_min(1e-12))).sum(-1)
    return (per_sample - codebook_usage).mean()
