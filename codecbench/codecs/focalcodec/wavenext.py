"""WaveNeXt decoder: a Vocos-style ConvNeXt backbone with a linear waveform head."""

from __future__ import annotations

from typing import Sequence

import torch
from torch import nn

from .._blocks.vocos import VocosBackbone


class WaveNeXtHead(nn.Module):
    """Linear projection of each frame to ``hop_length`` samples, concatenated and clamped to [-1, 1]."""

    def __init__(self, dim: int, hop_length: int) -> None:
        super().__init__()
        self.proj = nn.Linear(dim, hop_length)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        y = self.proj(x)
        return y.reshape(y.shape[0], -1).clamp(-1.0, 1.0)


class WaveNeXt(nn.Module):
    """``feats [B, T, input_dim] -> sig [B, T * hop_length]`` (24 kHz for hop 480 at 50 Hz)."""

    def __init__(self, input_dim: int = 1024, num_layers: int = 8, dim: int = 1024, ffn_dim: int = 2048,
                 kernel_size: int = 7, layerscale_init: float | None = None, hop_length: int = 480,
                 causal: bool = False) -> None:
        super().__init__()
        self.input_dim, self.num_layers, self.dim, self.ffn_dim = input_dim, num_layers, dim, ffn_dim
        self.kernel_size, self.hop_length, self.causal = kernel_size, hop_length, causal
        self.layerscale_init = layerscale_init or 1.0 / num_layers
        self.upsample_factor, self.chunk_size = hop_length, 1
        self.backbone = VocosBackbone(input_dim, dim, ffn_dim, num_layers, kernel_size, self.layerscale_init,
                                      causal, "constant")
        self.head = WaveNeXtHead(dim, hop_length)

    def forward(self, feats: torch.Tensor, state: Sequence | None = ()) -> tuple[torch.Tensor, list]:
        x, new_state = self.backbone(feats, list(state) if state else None)
        return self.head(x), new_state
