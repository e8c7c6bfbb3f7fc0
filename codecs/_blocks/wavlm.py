"""WavLM encoder truncated to its first layers (non-causal path), key-compatible with DyCAST.

No waveform normalisation, no final LayerNorm: the output of the last kept layer is the
feature. The relative-position bias is always derived from the loaded weights.
"""

from __future__ import annotations

import math
from typing import Sequence

import torch
from torch import nn
from torch.nn import functional as F


class ConvBlock(nn.Module):
    def __init__(self, in_dim: int, out_dim: int, kernel_size: int, stride: int, dropout: float) -> None:
        super().__init__()
        self.kernel_size = kernel_size
        self.conv = nn.Conv1d(in_dim, out_dim, kernel_size, stride=stride, bias=False)
        self.dropout = nn.Dropout(dropout)
        self.norm = nn.LayerNorm(out_dim)
        self.activation = nn.GELU()

    def forward(self, x: torch.Tensor) -> torch.Tensor:  # [B, C, T] -> [B, C', T']
        if x.shape[-1] < self.kernel_size:
            x = F.pad(x, (0, self.kernel_size - x.shape[-1]))
        x = self.dropout(self.conv(x))
        return self.activation(self.norm(x.transpose(1, 2))).transpose(1, 2)


class FeatureExtractor(nn.Module):
    def __init__(self, hidden_dims: Sequence[int], kernel_sizes: Sequence[int], strides: Sequence[int],
                 dropout: float) -> None:
        super().__init__()
        dims = [1] + list(hidden_dims)
        self.layers = nn.ModuleList(
            ConvBlock(dims[i], dims[i + 1], k, s, dropout)
            for i, (k, s) in enumerate(zip(kernel_sizes, strides))
        )

    def forward(self, sig: torch.Tensor) -> torch.Tensor:  # [B, S] -> [B, T, C]
        x = sig.unsqueeze(1)
        for layer in self.layers:
            x = layer(x)
        return x.transpose(1, 2)


class PositionalEmbedding(nn.Module):
    def __init__(self, dim: int, kernel_size: int, groups: int) -> None:
        super().__init__()
        self.conv = nn.Conv1d(dim, dim, kernel_size, padding=kernel_size // 2, groups=groups)
        self.remove = 1 if kernel_size % 2 == 0 else 0

    def forward(self, x: torch.Tensor) -> torch.Tensor:  # [B, T, C]
        y = self.conv(x.transpose(1, 2))
        if self.remove:
            y = y[..., : -self.remove]
        return F.gelu(y).transpose(1, 2)


class MultiHeadAttention(nn.Module):
    """Self-attention with WavLM's gated relative-position bias."""

    def __init__(self, dim: int, num_heads: int, dropout: float) -> None:
        super().__init__()
        self.num_heads, self.head_dim = num_heads, dim // num_heads
        self.qkv_proj = nn.Linear(dim, 3 * dim)
        self.out_proj = nn.Linear(dim, dim)
        self.gru_rel_pos_linear = nn.Linear(self.head_dim, 8)
        self.gru_rel_pos_const = nn.Parameter(torch.ones(1, num_heads, 1, 1))
        self.dropout = dropout

    def forward(self, x: torch.Tensor, position_bias: torch.Tensor,
                key_mask: torch.Tensor | None) -> torch.Tensor:
        batch, frames, _ = x.shape
        heads = x.view(batch, frames, self.num_heads, self.head_dim).transpose(1, 2)
        gates = torch.sigmoid(self.gru_rel_pos_linear(heads).view(batch, self.num_heads, frames, 2, 4).sum(-1))
        gate_a, gate_b = gates.chunk(2, dim=-1)
        gate = gate_a * (gate_b * self.gru_rel_pos_const - 1.0) + 2.0
        bias = gate * position_bias.unsqueeze(0)
        if key_mask is not None:
            bias = bias + key_mask
        qkv = self.qkv_proj(x).view(batch, frames, 3 * self.num_heads, self.head_dim).transpose(1, 2)
        q, k, v = qkv.split(self.num_heads, dim=1)
        out = F.scaled_dot_product_attention(q, k, v, attn_mask=bias,
                                             dropout_p=self.dropout if self.training else 0.0,
                                             scale=1.0 / math.sqrt(self.head_dim))
        return self.out_proj(out.transpose(1, 2).reshape(batch, frames, -1))


class TransformerLayer(nn.Module):
    def __init__(self, dim: int, ffn_dim: int, num_heads: int, dropout: float) -> None:
        super().__init__()
        from .focal import FeedForward

        self.attention_norm = nn.LayerNorm(dim)
        self.attention = MultiHeadAttention(dim, num_heads, dropout)
        self.dropout = nn.Dropout(dropout)
        self.feed_forward_norm = nn.LayerNorm(dim)
        self.feed_forward = FeedForward(dim, ffn_dim, dropout)

    def forward(self, x: torch.Tensor, position_bias: torch.Tensor, key_mask: torch.Tensor | None) -> torch.Tensor:
        x = x + self.dropout(self.attention(self.attention_norm(x), position_bias, key_mask))
        return x + self.feed_forward(self.feed_forward_norm(x))


def relative_buckets(frames: int, num_buckets: int, max_distance: int, device: torch.device) -> torch.Tensor:
    """WavLM's bidirectional log-bucketed relative positions ``[T, T]`` (key minus query)."""
    pos = torch.arange(frames, device=device)
    rel = pos[None, :] - pos[:, None]
    half = num_buckets // 2
    exact = half // 2
    buckets = (rel > 0).long() * half
    rel = rel.abs()
    large = exact + (torch.log(rel.float() / exact) / math.log(max_distance / exact) * (half - exact)).long()
    large = torch.clamp(large, max=half - 1)
    return buckets + torch.where(rel < exact, rel, large)


class TransformerEncoder(nn.Module):
    def __init__(self, dim: int, ffn_dim: int, num_layers: int, num_heads: int, num_buckets: int,
                 max_distance: int, conv_pos: int, conv_pos_groups: int, dropout: float) -> None:
        super().__init__()
        self.num_buckets, self.max_distance = num_buckets, max_distance
        self.positional_embedding = PositionalEmbedding(dim, conv_pos, conv_pos_groups)
        self.relative_embedding = nn.Embedding(num_buckets, num_heads)
        self.layers = nn.ModuleList(TransformerLayer(dim, ffn_dim, num_heads, dropout) for _ in range(num_layers))
        self.dropout = nn.Dropout(dropout)

    def position_bias(self, frames: int) -> torch.Tensor:
        buckets = relative_buckets(frames, self.num_buckets, self.max_distance, self.relative_embedding.weight.device)
        return self.relative_embedding(buckets).permute(2, 0, 1)  # [H, T, T]

    def forward(self, x: torch.Tensor, valid: torch.Tensor | None) -> torch.Tensor:
        key_mask = None
        if valid is not None:
            frame_ok = torch.arange(x.shape[1], device=x.device)[None, :] < valid[:, None]
            x = x * frame_ok[..., None]
            key_mask = torch.zeros(frame_ok.shape, dtype=x.dtype, device=x.device)
            key_mask = key_mask.masked_fill(~frame_ok, float("-inf"))[:, None, None, :]
        x = self.dropout(x + self.positional_embedding(x))
        bias = self.position_bias(x.shape[1]).to(x.dtype)
        for layer in self.layers:
            x = layer(x, bias, key_mask)
        return x


class WavLM(nn.Module):
    """``sig [B, S] (16 kHz) -> feats [B, T, dim]`` at 50 Hz."""

    sample_rate = 16000

    def __init__(self, hidden_dims: Sequence[int] = (512,) * 7, kernel_sizes: Sequence[int] = (10, 3, 3, 3, 3, 2, 2),
                 strides: Sequence[int] = (5, 2, 2, 2, 2, 2, 2), num_layers: int = 6, dim: int = 1024,
                 ffn_dim: int = 4096, num_heads: int = 16, num_buckets: int = 320, max_distance: int = 800,
                 max_cached_steps: int = 2048, dropout: float = 0.0, conv_pos: int = 128,
                 conv_pos_groups: int = 16, causal: bool = False, window_size: int = 512,
                 lookahead_size: int = 3, use_flex_attention: bool = False) -> None:
        super().__init__()
        if causal:
            raise NotImplementedError("WavLM: the causal (streaming) variant is not implemented yet")
        if max_cached_steps and max_cached_steps < window_size:
            raise ValueError(f"max_cached_steps must be 0 or >= window_size ({window_size}), got {max_cached_steps}")
        self.hidden_dims, self.kernel_sizes, self.strides = list(hidden_dims), list(kernel_sizes), list(strides)
        self.num_layers, self.dim, self.ffn_dim, self.num_heads = num_layers, dim, ffn_dim, num_heads
        self.num_buckets, self.max_distance, self.max_cached_steps = num_buckets, max_distance, max_cached_steps
        self.dropout_, self.conv_pos, self.conv_pos_groups = dropout, conv_pos, conv_pos_groups
        self.causal, self.window_size, self.lookahead_size = causal, window_size, lookahead_size
        self.use_flex_attention = use_flex_attention
        self.downsample_factor = int(math.prod(self.strides))
        self.chunk_size = self.downsample_factor * (1 + lookahead_size)
        self.feature_extractor = FeatureExtractor(hidden_dims, kernel_sizes, strides, dropout)
        self.norm = nn.LayerNorm(self.hidden_dims[-1])
        self.feature_proj = nn.Linear(self.hidden_dims[-1], dim)
        self.dropout = nn.Dropout(dropout)
        self.encoder = TransformerEncoder(dim, ffn_dim, num_layers, num_heads, num_buckets, max_distance,
                                          conv_pos, conv_pos_groups, dropout)

    def num_frames(self, num_samples: int) -> int:
        """Output frames for an input of ``num_samples`` samples."""
        length = max(num_samples, self.kernel_sizes[0])
        for k, s in zip(self.kernel_sizes, self.strides):
            length = (max(length, k) - k) // s + 1
        return length

    def forward(self, sig: torch.Tensor, state: Sequence = (), length: torch.Tensor | None = None
                ) -> tuple[torch.Tensor, list]:
        x = self.dropout(self.feature_proj(self.norm(self.feature_extractor(sig))))
        valid = None
        if length is not None:
            valid = torch.ceil(length.to(x.device) * x.shape[1]).long().clamp(max=x.shape[1])
        return self.encoder(x, valid), []
