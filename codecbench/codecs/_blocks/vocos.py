"""Vocos decoder with its own ISTFT (irfft + periodic Hann + overlap-add; causal: last hop of each frame).

The ConvNeXt backbone is shared with WaveNeXt; causal backbones left-pad their convolutions
(replicate for Vocos, zeros for WaveNeXt) and cache the left context between calls.
"""

from __future__ import annotations

import warnings
from typing import Any, Sequence

import torch
from torch import nn
from torch.nn import functional as F

from .focal import gelu_
from .streaming import causal_context


class ISTFT(nn.Module):
    """Inverse STFT with "same" padding, as in Vocos (not ``torch.istft``)."""

    window: torch.Tensor  # buffers
    window_sq: torch.Tensor

    def __init__(self, n_fft: int, hop_length: int, win_length: int) -> None:
        super().__init__()
        self.n_fft, self.hop_length, self.win_length = n_fft, hop_length, win_length
        window = torch.hann_window(win_length)
        self.register_buffer("window", window, persistent=False)
        self.register_buffer("window_sq", window.square(), persistent=False)

    def forward(self, spec: torch.Tensor, causal: bool = False) -> torch.Tensor:  # [B, F, T] complex -> [B, T * hop]
        if causal:
            frames = torch.fft.irfft(spec, n=self.n_fft, dim=1, norm="backward")[:, -self.hop_length:]
            return frames.transpose(1, 2).reshape(spec.shape[0], -1)
        pad = (self.win_length - self.hop_length) // 2
        frames = spec.shape[-1]
        ifft = torch.fft.irfft(spec, n=self.n_fft, dim=1, norm="backward") * self.window[None, :, None]
        size = (frames - 1) * self.hop_length + self.win_length
        y = F.fold(ifft, output_size=(1, size), kernel_size=(1, self.win_length),
                   stride=(1, self.hop_length))[:, 0, 0, pad:-pad]
        env = F.fold(self.window_sq.expand(1, frames, -1).transpose(1, 2), output_size=(1, size),
                     kernel_size=(1, self.win_length), stride=(1, self.hop_length)).squeeze()[pad:-pad]
        return y / env


class ISTFTHead(nn.Module):
    def __init__(self, dim: int, n_fft: int, hop_length: int, causal: bool = False) -> None:
        super().__init__()
        self.causal = causal
        self.proj = nn.Linear(dim, n_fft + 2)
        self.istft = ISTFT(n_fft, hop_length, n_fft)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        mag, phase = self.proj(x).transpose(1, 2).chunk(2, dim=1)
        mag = torch.exp(mag).clamp(max=100.0)
        return self.istft(mag * (torch.cos(phase) + 1j * torch.sin(phase)), self.causal)


class ConvNeXtBlock(nn.Module):
    def __init__(self, dim: int, ffn_dim: int, kernel_size: int, layerscale_init: float, causal: bool = False,
                 pad_mode: str = "replicate") -> None:
        super().__init__()
        self.causal, self.pad, self.pad_mode = causal, kernel_size - 1, pad_mode
        self.dwconv = nn.Conv1d(dim, dim, kernel_size, groups=dim, padding=0 if causal else "same")
        self.norm = nn.LayerNorm(dim, eps=1e-6)
        self.pwconv1 = nn.Linear(dim, ffn_dim)
        self.activation = nn.GELU()
        self.pwconv2 = nn.Linear(ffn_dim, dim)
        self.gamma = nn.Parameter(torch.full((dim,), layerscale_init))

    def forward(self, x: torch.Tensor, cache: torch.Tensor | None = None
                ) -> tuple[torch.Tensor, torch.Tensor | None]:  # [B, C, T]
        inp = x
        if self.causal:
            inp, cache = causal_context(x, cache, self.pad, self.pad_mode)
        y = self.norm(self.dwconv(inp).transpose(1, 2))
        hidden = self.pwconv1(y)
        hidden = self.activation(hidden) if torch.is_grad_enabled() else gelu_(hidden)
        y = self.gamma * self.pwconv2(hidden)
        return x + y.transpose(1, 2), cache


class VocosBackbone(nn.Module):
    def __init__(self, input_dim: int, dim: int, ffn_dim: int, num_layers: int, kernel_size: int,
                 layerscale_init: float, causal: bool = False, pad_mode: str = "replicate") -> None:
        super().__init__()
        self.causal, self.pad, self.pad_mode = causal, kernel_size - 1, pad_mode
        self.embedding = nn.Conv1d(input_dim, dim, kernel_size, padding=0 if causal else "same")
        self.input_norm = nn.LayerNorm(dim, eps=1e-6)
        self.layers = nn.ModuleList(ConvNeXtBlock(dim, ffn_dim, kernel_size, layerscale_init, causal, pad_mode)
                                    for _ in range(num_layers))
        self.output_norm = nn.LayerNorm(dim, eps=1e-6)

    def forward(self, x: torch.Tensor, state: list | None = None) -> tuple[torch.Tensor, list]:
        """``[B, T, C_in] -> [B, T, dim]``; ``state``: the causal convolutions' left contexts."""
        x = x.transpose(1, 2)
        caches = state or [None] * (len(self.layers) + 1)
        new: list[torch.Tensor | None] = [None]
        if self.causal:
            x, new[0] = causal_context(x, caches[0], self.pad, self.pad_mode)
        x = self.input_norm(self.embedding(x).transpose(1, 2)).transpose(1, 2)
        for layer, cache in zip(self.layers, caches[1:], strict=True):
            x, cache = layer(x, cache)
            new.append(cache)
        return self.output_norm(x.transpose(1, 2)), new if self.causal else []


class Vocos(nn.Module):
    """``feats [B, T, input_dim] -> sig [B, T * hop_length]``."""

    def __init__(self, input_dim: int = 1024, num_layers: int = 8, dim: int = 512, ffn_dim: int = 1536,
                 kernel_size: int = 7, layerscale_init: float | None = None, n_fft: int = 1024,
                 hop_length: int = 320, causal: bool = False, **kwargs: Any) -> None:
        super().__init__()
        if "input_channels" in kwargs:
            warnings.warn("Vocos: 'input_channels' is deprecated, use 'input_dim'", DeprecationWarning, stacklevel=2)
            input_dim = int(kwargs.pop("input_channels"))
        if "padding" in kwargs:
            warnings.warn("Vocos: 'padding' is ignored", UserWarning, stacklevel=2)
            kwargs.pop("padding")
        if kwargs:
            raise TypeError(f"Vocos: unexpected arguments {sorted(kwargs)}")
        self.input_dim, self.num_layers, self.dim, self.ffn_dim = input_dim, num_layers, dim, ffn_dim
        self.kernel_size, self.layerscale_init = kernel_size, layerscale_init
        self.n_fft, self.hop_length, self.causal = n_fft, hop_length, causal
        self.upsample_factor, self.chunk_size = hop_length, 1
        scale = layerscale_init if layerscale_init is not None else 1.0 / num_layers
        self.backbone = VocosBackbone(input_dim, dim, ffn_dim, num_layers, kernel_size, scale, causal, "replicate")
        self.head = ISTFTHead(dim, n_fft, hop_length, causal)

    def forward(self, feats: torch.Tensor, state: Sequence | None = ()) -> tuple[torch.Tensor, list]:
        x, new_state = self.backbone(feats, list(state) if state else None)
        return self.head(x), new_state
