"""Focal-modulation blocks: FocalEncoder (compressor and heads), FocalDecoder; non-causal and causal.

Shared by DyCAST and FocalCodec. Attribute names match the official state_dict keys.
Layouts: blocks take and return ``[B, T, C]``. Causal blocks take and return a streaming state
(nested lists of cached left contexts); ``None`` starts a new stream.
"""

from __future__ import annotations

import math
from typing import Any, Sequence, cast

import torch
from torch import nn
from torch.nn import functional as F

from .streaming import causal_context


class DynamicTanh(nn.Module):
    """tanh(alpha x) with one learned scalar alpha (the causal models' normalisation)."""

    def __init__(self, dim: int, tanhscale_init: float = 0.5) -> None:
        super().__init__()
        self.alpha = nn.Parameter(torch.full((1,), tanhscale_init))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return torch.tanh(self.alpha * x)


def _norm(dim: int, causal: bool, tanhscale_init: float) -> nn.Module:
    return DynamicTanh(dim, tanhscale_init) if causal else nn.LayerNorm(dim)


class ChunkFeedForward(nn.Module):
    """MLP over chunks of ``chunk_size`` frames (counted from the start of each call), residual."""

    def __init__(self, chunk_size: int, dim: int, ffn_dim: int, dropout: float = 0.0) -> None:
        super().__init__()
        self.chunk_size, self.dim = chunk_size, dim
        self.in_proj = nn.Linear(chunk_size * dim, ffn_dim)
        self.activation = nn.GELU()
        self.dropout = nn.Dropout(dropout)
        self.out_proj = nn.Linear(ffn_dim, chunk_size * dim)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        shape = x.shape
        flat = x.flatten(start_dim=-2)
        width = self.chunk_size * self.dim
        total = flat.shape[-1]
        chunks = F.pad(flat, (0, width - total % width)).unflatten(-1, (-1, width))
        y = self.dropout(self.out_proj(self.dropout(self.activation(self.in_proj(chunks)))))
        return (y.flatten(start_dim=-2)[..., :total] + flat).reshape(shape)


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
        hidden = self.in_proj(x)
        if torch.is_grad_enabled():
            hidden = self.activation(hidden)
        else:  # inference: GELU in place, the same values without a second [B, T, ffn_dim] tensor
            gelu_(hidden)
        return self.dropout(self.out_proj(self.dropout(hidden)))


def gelu_(x: torch.Tensor) -> torch.Tensor:
    """Exact (erf) GELU in place (inference only: autograd needs the input)."""
    return torch.ops.aten.gelu_(x)


class FocalModulation(nn.Module):
    """Hierarchical depthwise context (kernels focal_factor*l + focal_window) gated into q.

    Non-causal: "same" padding and a global average context. Causal: left-padded convs and a
    depthwise conv of ``window_size`` frames in place of the global average.
    """

    def __init__(self, dim: int, focal_window: int = 14, focal_level: int = 2, focal_factor: int = 4,
                 dropout: float = 0.0, use_post_norm: bool = False, normalize_modulator: bool = False,
                 causal: bool = False, window_size: int = 512, tanhscale_init: float = 0.5) -> None:
        super().__init__()
        self.dim = dim
        self.focal_level = focal_level
        self.normalize_modulator = normalize_modulator
        self.causal = causal
        self.in_proj = nn.Linear(dim, 2 * dim + focal_level + 1)
        kernels = [focal_factor * level + focal_window for level in range(focal_level)]
        if causal:
            kernels.append(window_size)
        self.pads = [k - 1 for k in kernels]
        self.layers = nn.ModuleList(
            nn.Sequential(nn.Conv1d(dim, dim, k, groups=dim, padding=0 if causal else "same"), nn.GELU())
            for k in kernels
        )
        self.activation = nn.GELU()
        self.context_proj = nn.Conv1d(dim, dim, 1)
        self.out_proj = nn.Linear(dim, dim)
        self.dropout = nn.Dropout(dropout)
        self.norm = _norm(dim, causal, tanhscale_init) if use_post_norm else nn.Identity()

    def forward(self, x: torch.Tensor, state: list | None = None) -> tuple[torch.Tensor, list]:
        h = self.in_proj(x)  # [B, T, 2C + L + 1]
        q, ctx, gates = torch.split(h, [self.dim, self.dim, self.focal_level + 1], dim=-1)
        ctx, gates = ctx.transpose(1, 2), gates.transpose(1, 2)  # [B, C, T] for the depthwise convolutions
        agg = torch.zeros_like(ctx)
        new_state = []
        for level, layer in enumerate(self.layers):
            if self.causal:
                ctx, cache = causal_context(ctx, None if state is None else state[level], self.pads[level])
                new_state.append(cache)
            if torch.is_grad_enabled():
                ctx = layer(ctx)
                agg = agg + ctx * gates[:, level:level + 1]
            else:  # inference: the same values, fewer fresh tensors
                ctx = gelu_(cast(nn.Sequential, layer)[0](ctx))
                agg += ctx * gates[:, level:level + 1]
        if not self.causal:
            agg = agg + self.activation(ctx.mean(dim=2, keepdim=True)) * gates[:, self.focal_level:]
        if self.normalize_modulator:
            agg = agg / (self.focal_level + 1)
        # the 1x1 context convolution as a matrix product in [B, T, C]: no transposed copies around it
        out = q * F.linear(agg.transpose(1, 2), self.context_proj.weight[..., 0], self.context_proj.bias)
        return self.dropout(self.out_proj(self.norm(out))), new_state


class FocalBlock(nn.Module):
    """Pre-norm (default) or post-norm residual block: focal modulation, then a 4x FFN."""

    def __init__(self, dim: int, ffn_dim: int, focal_window: int = 14, focal_level: int = 2,
                 focal_factor: int = 4, dropout: float = 0.0, use_post_norm: bool = False,
                 use_layerscale: bool = False, layerscale_init: float = 1e-4,
                 normalize_modulator: bool = False, causal: bool = False, window_size: int = 512,
                 tanhscale_init: float = 0.5) -> None:
        super().__init__()
        self.use_post_norm = use_post_norm
        self.use_layerscale = use_layerscale
        if use_layerscale:
            self.modulation_gamma = nn.Parameter(torch.full((dim,), layerscale_init))
            self.feed_forward_gamma = nn.Parameter(torch.full((dim,), layerscale_init))
        self.modulation_norm = _norm(dim, causal, tanhscale_init)
        self.modulation = FocalModulation(dim, focal_window, focal_level, focal_factor, dropout, use_post_norm,
                                          normalize_modulator, causal, window_size, tanhscale_init)
        self.feed_forward_norm = _norm(dim, causal, tanhscale_init)
        self.feed_forward = FeedForward(dim, ffn_dim, dropout)

    def _scale(self, x: torch.Tensor, gamma: str) -> torch.Tensor:
        return x * getattr(self, gamma) if self.use_layerscale else x

    def forward(self, x: torch.Tensor, state: list | None = None) -> tuple[torch.Tensor, list]:
        if self.use_post_norm:
            mod, state = self.modulation(x, state)
            x = x + self._scale(self.modulation_norm(mod), "modulation_gamma")
            return x + self._scale(self.feed_forward_norm(self.feed_forward(x)), "feed_forward_gamma"), state
        mod, state = self.modulation(self.modulation_norm(x), state)
        x = x + self._scale(mod, "modulation_gamma")
        return x + self._scale(self.feed_forward(self.feed_forward_norm(x)), "feed_forward_gamma"), state


class DownScale(nn.Module):
    def __init__(self, input_dim: int, output_dim: int, factor: int, causal: bool = False) -> None:
        super().__init__()
        self.factor, self.causal = factor, causal
        self.downscale = nn.Conv1d(input_dim, output_dim, factor, stride=factor)
        self.activation = Snake1d(output_dim)

    def forward(self, x: torch.Tensor, cache: torch.Tensor | None = None) -> tuple[torch.Tensor, torch.Tensor | None]:
        x = x.transpose(1, 2)
        if self.causal:
            x, cache = causal_context(x, cache, self.factor - 1)
        else:
            pad = (x.shape[-1] - self.factor) % self.factor
            if pad > 0:
                x = F.pad(x, (0, pad))
        return self.activation(self.downscale(x).transpose(1, 2)), cache


class UpScale(nn.Module):
    def __init__(self, input_dim: int, output_dim: int, factor: int, causal: bool = False) -> None:
        super().__init__()
        self.factor, self.causal = factor, causal
        self.activation = Snake1d(input_dim)
        self.upscale = nn.ConvTranspose1d(input_dim, output_dim, factor, stride=factor)

    def forward(self, x: torch.Tensor, cache: torch.Tensor | None = None) -> tuple[torch.Tensor, torch.Tensor | None]:
        frames = x.shape[1]
        x = x.transpose(1, 2)
        if self.causal:
            x, cache = causal_context(x, cache, self.factor - 1)
        y = self.upscale(self.activation(x.transpose(1, 2)).transpose(1, 2))
        if self.causal:
            y = y[..., -frames * self.factor:]
        return y.transpose(1, 2), cache


class FocalDownScale(nn.Module):
    def __init__(self, input_dim: int, output_dim: int, factor: int, **block: object) -> None:
        super().__init__()
        self.downscale = DownScale(input_dim, output_dim, factor, bool(block.get("causal", False)))
        self.focal_block = FocalBlock(output_dim, 4 * output_dim, **block)  # type: ignore[arg-type]

    def forward(self, x: torch.Tensor, state: list | None = None) -> tuple[torch.Tensor, list]:
        x, first = self.downscale(x, None if state is None else state[0])
        x, rest = self.focal_block(x, None if state is None else state[1:])
        return x, [first] + rest


class FocalUpScale(nn.Module):
    def __init__(self, input_dim: int, output_dim: int, factor: int, **block: object) -> None:
        super().__init__()
        self.focal_block = FocalBlock(input_dim, 4 * input_dim, **block)  # type: ignore[arg-type]
        self.upscale = UpScale(input_dim, output_dim, factor, bool(block.get("causal", False)))

    def forward(self, x: torch.Tensor, state: list | None = None) -> tuple[torch.Tensor, list]:
        x, first = self.focal_block(x, None if state is None else state[:-1])
        x, last = self.upscale(x, None if state is None else state[-1])
        return x, first + [last]


def _block_kwargs(focal_window: int, focal_level: int, focal_factor: int, dropout: float,
                  use_post_norm: bool, use_layerscale: bool, layerscale_init: float,
                  normalize_modulator: bool, causal: bool, window_size: int, tanhscale_init: float) -> dict:
    return dict(focal_window=focal_window, focal_level=focal_level, focal_factor=focal_factor,
                dropout=dropout, use_post_norm=use_post_norm, use_layerscale=use_layerscale,
                layerscale_init=layerscale_init, normalize_modulator=normalize_modulator, causal=causal,
                window_size=window_size, tanhscale_init=tanhscale_init)


class FocalEncoder(nn.Module):
    """``[B, T, input_dim] -> [B, T / prod(downscale_factors), output_dim]``."""

    def __init__(self, input_dim: int = 1024, output_dim: int = 32,
                 hidden_dims: Sequence[int] = (1024, 1024, 1024), downscale_factors: Sequence[int] = (1, 1, 1),
                 focal_window: int = 14, focal_level: int = 2, focal_factor: int = 4, dropout: float = 0.0,
                 use_post_norm: bool = False, use_layerscale: bool = False, layerscale_init: float = 1e-4,
                 tanhscale_init: float = 0.5, normalize_modulator: bool = False, causal: bool = False,
                 window_size: int = 512) -> None:
        super().__init__()
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
                              use_layerscale, layerscale_init, normalize_modulator, causal, window_size,
                              tanhscale_init)
        dims = [input_dim] + self.hidden_dims
        self.layers = nn.ModuleList(
            FocalDownScale(dims[i], dims[i + 1], f, **block) for i, f in enumerate(self.downscale_factors)
        )
        self.dropout = nn.Dropout(dropout)
        self.out_proj = nn.Linear(dims[-1], output_dim)

    def forward(self, x: torch.Tensor, state: Sequence | None = ()) -> tuple[torch.Tensor, list]:
        states = list(state) if state else [None] * len(self.layers)
        new_state = []
        for layer, layer_state in zip(self.layers, states, strict=True):
            x, layer_state = layer(x, layer_state)
            new_state.append(layer_state)
        return self.out_proj(self.dropout(x)), new_state if self.causal else []


class FocalDecoder(nn.Module):
    """``[B, T, input_dim] -> [B, T * prod(upscale_factors), output_dim]``."""

    def __init__(self, input_dim: int = 32, output_dim: int = 1024,
                 hidden_dims: Sequence[int] = (1024, 1024, 1024), upscale_factors: Sequence[int] = (1, 1, 1),
                 focal_window: int = 14, focal_level: int = 2, focal_factor: int = 4, dropout: float = 0.0,
                 use_post_norm: bool = False, use_layerscale: bool = False, layerscale_init: float = 1e-4,
                 tanhscale_init: float = 0.5, normalize_modulator: bool = False, causal: bool = False,
                 window_size: int = 512, last_window_size: int = 512, lookahead_size: int = 3) -> None:
        super().__init__()
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
        self.in_proj = nn.Linear(input_dim, self.hidden_dims[0])
        self.dropout = nn.Dropout(dropout)
        outs = self.hidden_dims[1:] + [output_dim]
        last = len(outs) - 1
        self.layers = nn.ModuleList(
            FocalUpScale(d, e, f, **_block_kwargs(
                focal_window, focal_level, focal_factor, dropout, use_post_norm, use_layerscale, layerscale_init,
                normalize_modulator, causal, window_size if i < last else last_window_size, tanhscale_init))
            for i, (d, e, f) in enumerate(zip(self.hidden_dims, outs, self.upscale_factors, strict=True))
        )
        self.refiner: nn.Module = nn.Identity()
        if causal and lookahead_size > 0:
            self.refiner = ChunkFeedForward(self.chunk_size, output_dim, self.chunk_size * output_dim, dropout)

    def forward(self, x: torch.Tensor, state: Sequence | None = ()) -> tuple[torch.Tensor, list]:
        x = self.dropout(self.in_proj(x))
        states = list(state) if state else [None] * len(self.layers)
        new_state = []
        for layer, layer_state in zip(self.layers, states, strict=True):
            x, layer_state = layer(x, layer_state)
            new_state.append(layer_state)
        return self.refiner(x), new_state if self.causal else []


def scalar_head(owner: nn.Module, input_dim: int, hidden_dims: Sequence[int], downscale_factors: Sequence[int],
                focal_window: int, focal_level: int, focal_factor: int, dropout: float, use_post_norm: bool,
                use_layerscale: bool, layerscale_init: float, tanhscale_init: float, normalize_modulator: bool,
                causal: bool, window_size: int) -> FocalEncoder:
    """A one-output FocalEncoder head (hazard logits, NegBin means); its settings are also stored on
    ``owner`` under the constructor names, so configs can be written back from the module."""
    settings: dict[str, Any] = dict(
        input_dim=input_dim, hidden_dims=list(hidden_dims), downscale_factors=list(downscale_factors),
        focal_window=focal_window, focal_level=focal_level, focal_factor=focal_factor, dropout=dropout,
        use_post_norm=use_post_norm, use_layerscale=use_layerscale, layerscale_init=layerscale_init,
        tanhscale_init=tanhscale_init, normalize_modulator=normalize_modulator, causal=causal,
        window_size=window_size)
    for name, value in settings.items():
        setattr(owner, name, value)
    return FocalEncoder(output_dim=1, **settings)
