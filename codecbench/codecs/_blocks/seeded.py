"""Seeded weights defined by the parameters' names and shapes only, so two implementations of one architecture
(the official FlexiCodec in its own environment, the in-tree one here) can be given the very same weights without
storing them: parity fixtures carry a seed, not a 30 MB state dict.

Imports nothing but numpy and torch: the recording scripts (``scripts/flexicodec_record_fixtures.py``,
``scripts/baseline_record_fixtures.py``) load this file by path in the official package's environment. The values
come from PCG64's raw bit stream (stable across numpy versions, unlike
its distributions) turned into floats with exact arithmetic, so both sides compute them bit for bit."""

from __future__ import annotations

import hashlib

import numpy as np
import torch
from torch import nn


def seeded_values(name: str, shape: tuple[int, ...], seed: int) -> torch.Tensor:
    """Uniform values for the parameter ``name``: in ``[-s, s]`` with ``s = 1 / sqrt(fan_in)`` for a tensor of
    two or more dimensions; ``1 +- 0.1`` for a 1-D ``*.weight`` (norm gains), ``+- 0.1`` for other 1-D ones."""
    digest = hashlib.sha256(f"{seed}:{name}".encode()).digest()
    bits = np.random.PCG64(int.from_bytes(digest[:16], "little"))
    count = int(np.prod(shape, dtype=np.int64)) if shape else 1
    raw = bits.random_raw(count) if count else np.zeros(0, dtype=np.uint64)
    unit = (raw >> np.uint64(11)).astype(np.float64) * 2.0**-53  # [0, 1), exact
    symmetric = 2.0 * unit - 1.0
    if len(shape) >= 2:
        fan_in = count // shape[0] if shape[0] else 1
        values = symmetric / np.sqrt(max(fan_in, 1))
    elif name.endswith("weight"):
        values = 1.0 + 0.1 * symmetric
    else:
        values = 0.1 * symmetric
    return torch.from_numpy(values.astype(np.float32).reshape(shape))


@torch.no_grad()
def seed_parameters(module: nn.Module, seed: int) -> None:
    """Overwrite every parameter of ``module`` with :func:`seeded_values` of its name (buffers are left alone)."""
    for name, param in module.named_parameters():
        param.copy_(seeded_values(name, tuple(param.shape), seed).to(param.dtype))


def seeded_state(shapes: dict[str, list[int]], seed: int) -> dict[str, torch.Tensor]:
    """The state dict :func:`seed_parameters` gives a module whose parameters have these names and shapes (a parity
    manifest's record of the official module), without building it."""
    return {name: seeded_values(name, tuple(shape), seed) for name, shape in shapes.items()}
