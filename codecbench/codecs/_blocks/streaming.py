"""Left-context caching for causal convolutions (streaming)."""

from __future__ import annotations

import torch
from torch.nn import functional as F


def causal_context(x: torch.Tensor, cache: torch.Tensor | None, pad: int, mode: str = "replicate"
                   ) -> tuple[torch.Tensor, torch.Tensor]:
    """Prefix ``x [B, C, T]`` with ``pad`` frames of left context and return the next cache.

    The first chunk (``cache is None``) is padded (``replicate`` or zeros); later chunks are
    prefixed with the cached last ``pad`` input frames. With ``pad == 0`` nothing is added and a
    one-frame dummy cache keeps the state shape uniform.
    """
    if pad == 0:
        return x, x[..., -1:]
    if cache is None:
        x = F.pad(x, (pad, 0), mode=mode) if mode == "replicate" else F.pad(x, (pad, 0))
    else:
        x = torch.cat([cache, x], dim=-1)
    return x, x[..., -pad:]
