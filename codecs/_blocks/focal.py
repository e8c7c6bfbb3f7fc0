"""Focal-modulation blocks (non-causal): FocalEncoder (compressor and heads), FocalDecoder.

Shared by DyCAST and FocalCodec. Attribute names match the official state_dict keys.
Layouts: blocks take and return ``[B, T, C]``.
"""

from __future__ import annotations

import math
from typing import Sequence

import torch
from torch import nn
from torch.nn import functional as F


def _require_non_causal(causal: bool, name: str) -> None:
    if causal:
        raise NotImplementedError(f"{name}: the causal (streaming) variant is not implemented yet")


class Snake1d(nn.Module):
    """y = x + sin^2(alpha x) / (alpha + 1e-9), per channel; input ``[B, T, C]``."""

    def __init__(self, channels: int) -> None:
        super().__init__()
        self.alpha = nn.Parameter(torch.ones(channels, 1))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        alpha = self.alpha.T
        return x + (alpha + 1e-9).reciprocal() * torch.sin(alpha * x).pow(2)


class FeedForward(nn.Module):
    def __init__(self, dim: int, ffn_dim: int, dropout: float = 0.0) -> None:
        super().__init__()
        self.in_proj = nn.Linear(dim, ffn_dim)
        self.activation = nn.GELU()
        self.dropout = nn.Dropout(dropout)
        self.out_proj = nn.Linear(ffn_dim, dim)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.dropout(self.out_proj(self.dropout(self.activation(self.in_proj(x)))))


class FocalModulation(nn.Module):
    """Hierarchical depthwise context (kernels focal_factor*l + focal_window) gated into q."""

    def __init__(self, dim: int, focal_window: int = 14, focal_level: int = 2, focal_factor: int = 4,
                 dropout: float = 0.0, use_post_norm: bool = False, normalize_modulator: bool = False) -> None:
        super().__init__()
        self.dim = dim
        self.focal_level = focal_level
        self.normalize_modulator = normalize_modulator
        self.in_proj = nn.Linear(dim, 2 * dim + focal_level + 1)
        self.layers = nn.ModuleList(
            nn.Sequential(nn.Conv1d(dim, dim, focal_factor * level + focal_window, groups=dim,
                                    padding="same"), nn.GELU())
            for level in range(focal_level)
        )
        self.activation = nn.GELU()
        self.context_proj = nn.Conv1d(dim, dim, 1)
        self.out_proj = nn.Linear(dim, dim)
        self.dropout = nn.Dropout(dropout)
        self.norm = nn.LayerNorm(dim) if use_post_norm else nn.Identity()

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        h = self.in_proj(x).transpose(1, 2)
        q, ctx, gates = torch.split(h, [self.dim, self.dim, self.focal_level + 1], dim=1)
        agg = torch.zeros_like(ctx)
        for level, layer in enumerate(self.layers):
            ctx = layer(ctx)
            agg = agg + ctx * gates[:, level:level + 1]
        agg = agg + self.activation(ctx.mean(dim=2, keepdim=True)) * gates[:, self.focal_level:]
        if self.normalize_modulator:
            agg = agg / (self.focal_level + 1)
        out = (q * self.context_proj(agg)).transpose(1, 2)
        return self.dropout(self.out_proj(self.norm(out)))


class FocalBlock(nn.Module):
    """Pre-norm (default) or post-norm residual block: focal modulation, then a 4x FFN."""

    def __init__(self, dim: int, ffn_dim: int, focal_window: int = 14, focal_level: int = 2,
                 focal_factor: int = 4, dropout: float = 0.0, use_post_norm: bool = False,
                 use_layerscale: bool = False, layerscale_init: float = 1e-4,
                 normalize_modulator: bool = False) -> None:
        super().__init__()
        self.use_post_norm = use_post_norm
        self.use_layerscale = use_layerscale
        if use_layerscale:
            self.modulation_gamma = nn.Parameter(torch.full((dim,), layerscale_init))
            self.feed_forward_gamma = nn.Parameter(torch.full((dim,), layerscale_init))
        self.modulation_norm = nn.LayerNorm(dim)
        self.modulation = FocalModulation(dim, focal_window, focal_level, focal_factor, dropout,
                                          use_post_norm, normalize_modulator)
        self.feed_forward_norm = nn.LayerNorm(dim)
        self.feed_forward = FeedForward(dim, ffn_dim, dropout)

    def _scale(self, x: torch.Tensor, gamma: str) -> torch.Tensor:
        return x * getattr(self, gamma) if self.use_layerscale else x

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if self.use_post_norm:
            x = x + self._scale(self.modulation_norm(self.modulation(x)), "modulation_gamma")
            return x + self._scale(self.feed_forward_norm(self.feed_forward(x)), "feed_forward_gamma")
        x = x + self._scale(self.modulation(self.modulation_norm(x)), "modulation_gamma")
        return x + self._scale(self.feed_forward(self.feed_forward_norm(x)), "feed_forward_gamma")


class DownScale(nn.Module):
    def __init__(self, input_dim: int, output_dim: int, factor: int) -> None:
        super().__init__()
        self.factor = factor
        self.downscale = nn.Conv1d(input_dim, output_dim, factor, stride=factor)
        self.activation = Snake1d(output_dim)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = x.transpose(1, 2)
        pad = (x.shape[-1] - self.factor) % self.factor
        if pad > 0:
            x = F.pad(x, (0, pad))
        return self.activation(self.downscale(x).transpose(1, 2))


class UpScale(nn.Module):
    def __init__(self, input_dim: int, output_dim: int, factor: int) -> None:
        super().__init__()
        self.activation = Snake1d(input_dim)
        self.upscale = nn.ConvTranspose1d(input_dim, output_dim, factor, stride=factor)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.upscale(self.activation(x).transpose(1, 2)).transpose(1, 2)


class FocalDownScale(nn.Module):
    def __init__(self, input_dim: int, output_dim: int, factor: int, **block: object) -> None:
        super().__init__()
        self.downscale = DownScale(input_dim, output_dim, factor)
        self.focal_block = FocalBlock(output_dim, 4 * output_dim, **block)  # type: ignore[arg-type]

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.focal_block(self.downscale(x))


class FocalUpScale(nn.Module):
    def __init__(self, input_dim: int, output_dim: int, factor: int, **block: object) -> None:
        super().__init__()
        self.focal_block = FocalBlock(input_dim, 4 * input_dim, **block)  # type: ignore[arg-type]
        self.upscale = UpScale(input_dim, output_dim, factor)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.upscale(self.focal_block(x))


def _block_kwargs(focal_window: int, focal_level: int, focal_factor: int, dropout: float,
                  use_post_norm: bool, use_layerscale: bool, layerscale_init: float,
                  normalize_modulator: bool) -> dict:
    return dict(focal_window=focal_window, focal_level=focal_level, focal_factor=focal_factor,
                dropout=dropout, use_post_norm=use_post_norm, use_layerscale=use_layerscale,
                layerscale_init=layerscale_init, normalize_modulator=normalize_modulator)


class FocalEncoder(nn.Module):
    """``[B, T, input_dim] -> [B, T / prod(downscale_factors), output_dim]``."""

    def __init__(self, input_dim: int = 1024, output_dim: int = 32,
                 hidden_dims: Sequence[int] = (1024, 1024, 1024), downscale_factors: Sequence[int] = (1, 1, 1),
                 focal_window: int = 14, focal_level: int = 2, focal_factor: int = 4, dropout: float = 0.0,
                 use_post_norm: bool = False, use_layerscale: bool = False, layerscale_init: float = 1e-4,
                 tanhscale_init: float = 0.5, normalize_modulator: bool = False, causal: bool = False,
                 window_size: int = 512) -> None:
        super().__init__()
        _require_non_causal(causal, "FocalEncoder")
        if len(hidden_dims) != len(downscale_factors):
            raise ValueError("hidden_dims and downscale_factors must have the same length")
        self.input_dim, self.output_dim = input_dim, output_dim
        self.hidden_dims, self.downscale_factors = list(hidden_dims), list(downscale_factors)
        self.focal_window, self.focal_level, self.focal_factor = focal_window, focal_level, focal_factor
        self.dropout_ = dropout
        self.use_post_norm, self.use_layerscale = use_post_norm, use_layerscale
        self.layerscale_init, self.tanhscale_init = layerscale_init, tanhscale_init
        self.normalize_modulator, self.causal, self.window_size = normalize_modulator, causal, window_size
        self.downsample_factor = math.prod(self.downscale_factors)
        self.chunk_size = self.downsample_factor
        block = _block_kwargs(focal_window, focal_level, focal_factor, dropout, use_post_norm,
                              use_layerscale, layerscale_init, normalize_modulator)
        dims = [input_dim] + self.hidden_dims
        self.layers = nn.ModuleList(
            FocalDownScale(dims[i], dims[i + 1], f, **block) for i, f in enumerate(self.downscale_factors)
        )
        self.dropout = nn.Dropout(dropout)
        self.out_proj = nn.Linear(dims[-1], output_dim)

    def forward(self, x: torch.Tensor, state: Sequence = ()) -> tuple[torch.Tensor, list]:
        for layer in self.layers:
            x = layer(x)
        return self.out_proj(self.dropout(x)), []


class FocalDecoder(nn.Module):
    """``[B, T, input_dim] -> [B, T * prod(upscale_factors), output_dim]``."""

    def __init__(self, input_dim: int = 32, output_dim: int = 1024,
                 hidden_dims: Sequence[int] = (1024, 1024, 1024), upscale_factors: Sequence[int] = (1, 1, 1),
                 focal_window: int = 14, focal_level: int = 2, focal_factor: int = 4, dropout: float = 0.0,
                 use_post_norm: bool = False, use_layerscale: bool = False, layerscale_init: float = 1e-4,
                 tanhscale_init: float = 0.5, normalize_modulator: bool = False, causal: bool = False,
                 window_size: int = 512, last_window_size: int = 512, lookahead_size: int = 3) -> None:
        super().__init__()
        _require_non_causal(causal, "FocalDecoder")
        if len(hidden_dims) != len(upscale_factors):
            raise ValueError("hidden_dims and upscale_factors must have the same length")
        self.input_dim, self.output_dim = input_dim, output_dim
        self.hidden_dims, self.upscale_factors = list(hidden_dims), list(upscale_factors)
        self.focal_window, self.focal_level, self.focal_factor = focal_window, focal_level, focal_factor
        self.dropout_ = dropout
        self.use_post_norm, self.use_layerscale = use_post_norm, use_layerscale
        self.layerscale_init, self.tanhscale_init = layerscale_init, tanhscale_init
        self.normalize_modulator, self.causal, self.window_size = normalize_modulator, causal, window_size
        self.last_window_size, self.lookahead_size = last_window_size, lookahead_size
        self.upsample_factor = math.prod(self.upscale_factors)
        self.chunk_size = 1 + lookahead_size
        block = _block_kwargs(focal_window, focal_level, focal_factor, dropout, use_post_norm,
                              use_layerscale, layerscale_init, normalize_modulator)
        self.in_proj = nn.Linear(input_dim, self.hidden_dims[0])
        self.dropout = nn.Dropout(dropout)
        outs = self.hidden_dims[1:] + [output_dim]
        self.layers = nn.ModuleList(
            FocalUpScale(d, e, f, **block) for d, e, f in zip(self.hidden_dims, outs, self.upscale_factors)
        )
        self.refiner = nn.Identity()

    def forward(self, x: torch.Tensor, state: Sequence = ()) -> tuple[torch.Tensor, list]:
        x = self.dropout(self.in_proj(x))
        for layer in self.layers:
            x = layer(x)
        return self.refiner(x), []
