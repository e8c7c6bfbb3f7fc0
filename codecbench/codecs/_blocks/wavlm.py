"""WavLM encoder truncated to its first layers, key-compatible with DyCAST and FocalCodec.

No waveform normalisation, no final LayerNorm: the output of the last kept layer is the
feature. The relative-position bias is always derived from the loaded weights. The causal
variant (FocalCodec-Stream) uses left-padded convolutions, chunked windowed attention with a
rolling key/value cache, and clamped positions, so chunk-by-chunk calls equal one full call.
"""

from __future__ import annotations

import math
from typing import Sequence, cast

import torch
from torch import nn
from torch.nn import functional as F

from .focal import gelu_
from .streaming import causal_context


class ConvBlock(nn.Module):
    def __init__(self, in_dim: int, out_dim: int, kernel_size: int, stride: int, dropout: float,
                 causal: bool = False) -> None:
        super().__init__()
        self.kernel_size, self.causal = kernel_size, causal
        self.conv = nn.Conv1d(in_dim, out_dim, kernel_size, stride=stride, bias=False)
        self.dropout = nn.Dropout(dropout)
        self.norm = nn.LayerNorm(out_dim)
        self.activation = nn.GELU()

    def forward(self, x: torch.Tensor, cache: torch.Tensor | None = None
                ) -> tuple[torch.Tensor, torch.Tensor | None]:  # [B, C, T] -> [B, C', T']
        if self.causal:
            x, cache = causal_context(x, cache, self.kernel_size - 1)
        elif x.shape[-1] < self.kernel_size:
            x = F.pad(x, (0, self.kernel_size - x.shape[-1]))
        x = self.dropout(self.conv(x))
        return self.activation(self.norm(x.transpose(1, 2))).transpose(1, 2), cache

    def forward_channels_last(self, x: torch.Tensor) -> torch.Tensor:
        """Non-causal ``[B, C, 1, T]`` in channels-last memory (``[B, T, C]`` underneath) -> the same layout.

        The convolution reads and writes channels-last, so the LayerNorm over channels needs no copy
        and neither does the next convolution (the plain path copies twice per layer)."""
        if x.shape[-1] < self.kernel_size:
            x = F.pad(x, (0, self.kernel_size - x.shape[-1])).contiguous(memory_format=torch.channels_last)
        stride = self.conv.stride[0]
        if x.shape[1] == 1:  # the waveform: frames x kernel as one matrix product, written [B, T, C]
            frames = x[:, 0, 0].unfold(-1, self.kernel_size, stride)
            y = self.dropout(F.linear(frames, self.conv.weight[:, 0]))
        else:
            weight = self.conv.weight.unsqueeze(2).contiguous(memory_format=torch.channels_last)  # output too
            y = self.dropout(F.conv2d(x, weight, stride=(1, stride))).squeeze(2).transpose(1, 2)
        y = self.norm(y)  # [B, T, C], contiguous
        y = self.activation(y) if torch.is_grad_enabled() else gelu_(y)
        return y.transpose(1, 2).unsqueeze(2)


class FeatureExtractor(nn.Module):
    def __init__(self, hidden_dims: Sequence[int], kernel_sizes: Sequence[int], strides: Sequence[int],
                 dropout: float, causal: bool = False) -> None:
        super().__init__()
        dims = [1] + list(hidden_dims)
        self.layers = nn.ModuleList(
            ConvBlock(dims[i], dims[i + 1], k, s, dropout, causal)
            for i, (k, s) in enumerate(zip(kernel_sizes, strides, strict=True))
        )

    def forward(self, sig: torch.Tensor, caches: list | None = None) -> tuple[torch.Tensor, list]:
        if caches is None and not any(layer.causal for layer in self.layers):
            x4 = sig[:, None, None, :]  # [B, 1, 1, S]: channels-last and contiguous are one layout for 1 channel
            for block in cast("list[ConvBlock]", self.layers):
                x4 = block.forward_channels_last(x4)
            return x4.squeeze(2).transpose(1, 2), [None] * len(self.layers)  # [B, T, C]
        x = sig.unsqueeze(1)  # [B, S] -> [B, T, C]
        new = []
        for i, layer in enumerate(self.layers):
            x, cache = layer(x, None if caches is None else caches[i])
            new.append(cache)
        return x.transpose(1, 2), new


class PositionalEmbedding(nn.Module):
    def __init__(self, dim: int, kernel_size: int, groups: int, causal: bool = False) -> None:
        super().__init__()
        self.kernel_size, self.causal = kernel_size, causal
        self.conv = nn.Conv1d(dim, dim, kernel_size, padding=0 if causal else kernel_size // 2, groups=groups)
        self.remove = 1 if kernel_size % 2 == 0 and not causal else 0

    def forward(self, x: torch.Tensor, cache: torch.Tensor | None = None
                ) -> tuple[torch.Tensor, torch.Tensor | None]:  # [B, T, C]
        x = x.transpose(1, 2)
        if self.causal:
            x, cache = causal_context(x, cache, self.kernel_size - 1)
        y = self.conv(x)
        if self.remove:
            y = y[..., : -self.remove]
        return F.gelu(y).transpose(1, 2), cache


class MultiHeadAttention(nn.Module):
    """Self-attention with WavLM's gated relative-position bias (and a key/value cache when causal)."""

    MIN_CACHE = 512  # frames allocated for a new key/value cache (as the reference)

    def __init__(self, dim: int, num_heads: int, dropout: float) -> None:
        super().__init__()
        self.num_heads, self.head_dim = num_heads, dim // num_heads
        self.qkv_proj = nn.Linear(dim, 3 * dim)
        self.out_proj = nn.Linear(dim, dim)
        self.gru_rel_pos_linear = nn.Linear(self.head_dim, 8)
        self.gru_rel_pos_const = nn.Parameter(torch.ones(1, num_heads, 1, 1))
        self.dropout = dropout

    def forward(self, x: torch.Tensor, position_bias: torch.Tensor, key_mask: torch.Tensor | None,
                curr_pos: int | None = None, kv_cache: torch.Tensor | None = None,
                bias_buffer: torch.Tensor | None = None) -> tuple[torch.Tensor, torch.Tensor | None]:
        """``curr_pos`` set (causal): keys/values of this call are written into ``kv_cache
        [B, L, H, hd, 2]`` at ``curr_pos`` and attention runs over the first ``curr_pos + T``.
        ``bias_buffer`` (inference): the ``[B, H, T, T]`` bias is written there, reused by every layer
        (a fresh tensor of that size per layer costs more in page faults than the multiplication)."""
        batch, frames, _ = x.shape
        heads = x.view(batch, frames, self.num_heads, self.head_dim).transpose(1, 2)
        gates = torch.sigmoid(self.gru_rel_pos_linear(heads).view(batch, self.num_heads, frames, 2, 4).sum(-1))
        gate_a, gate_b = gates.chunk(2, dim=-1)
        gate = gate_a * (gate_b * self.gru_rel_pos_const - 1.0) + 2.0
        if bias_buffer is not None and not torch.is_grad_enabled():
            bias = torch.mul(gate, position_bias.unsqueeze(0), out=bias_buffer)
            if key_mask is not None:
                bias.add_(key_mask)
        else:
            bias = gate * position_bias.unsqueeze(0)
            if key_mask is not None:
                bias = bias + key_mask
        qkv = self.qkv_proj(x).view(batch, frames, 3 * self.num_heads, self.head_dim)
        q, k, v = qkv.split(self.num_heads, dim=2)
        if curr_pos is not None:
            end = curr_pos + frames
            if kv_cache is None:
                kv_cache = x.new_zeros(batch, max(self.MIN_CACHE, frames), self.num_heads, self.head_dim, 2)
            elif end > kv_cache.shape[1]:
                kv_cache = F.pad(kv_cache, (0, 0, 0, 0, 0, 0, 0, end - kv_cache.shape[1]))
            kv_cache = kv_cache.clone()
            kv_cache[:, curr_pos:end, ..., 0] = k
            kv_cache[:, curr_pos:end, ..., 1] = v
            k, v = kv_cache[:, :end, ..., 0], kv_cache[:, :end, ..., 1]
        out = F.scaled_dot_product_attention(q.transpose(1, 2), k.transpose(1, 2), v.transpose(1, 2),
                                             attn_mask=bias, dropout_p=self.dropout if self.training else 0.0,
                                             scale=1.0 / math.sqrt(self.head_dim))
        return self.out_proj(out.transpose(1, 2).reshape(batch, frames, -1)), kv_cache


class TransformerLayer(nn.Module):
    def __init__(self, dim: int, ffn_dim: int, num_heads: int, dropout: float) -> None:
        super().__init__()
        from .focal import FeedForward

        self.attention_norm = nn.LayerNorm(dim)
        self.attention = MultiHeadAttention(dim, num_heads, dropout)
        self.dropout = nn.Dropout(dropout)
        self.feed_forward_norm = nn.LayerNorm(dim)
        self.feed_forward = FeedForward(dim, ffn_dim, dropout)

    def forward(self, x: torch.Tensor, position_bias: torch.Tensor, key_mask: torch.Tensor | None,
                curr_pos: int | None = None, kv_cache: torch.Tensor | None = None,
                bias_buffer: torch.Tensor | None = None) -> tuple[torch.Tensor, torch.Tensor | None]:
        attended, kv_cache = self.attention(self.attention_norm(x), position_bias, key_mask, curr_pos, kv_cache,
                                            bias_buffer)
        x = x + self.dropout(attended)
        return x + self.feed_forward(self.feed_forward_norm(x)), kv_cache


def relative_buckets(pos_q: torch.Tensor, pos_k: torch.Tensor, num_buckets: int, max_distance: int) -> torch.Tensor:
    """WavLM's bidirectional log-bucketed relative positions ``[Tq, Tk]`` (key minus query)."""
    rel = pos_k[None, :] - pos_q[:, None]
    half = num_buckets // 2
    exact = half // 2
    buckets = (rel > 0).long() * half
    rel = rel.abs()
    large = exact + (torch.log(rel.float() / exact) / math.log(max_distance / exact) * (half - exact)).long()
    large = torch.clamp(large, max=half - 1)
    return buckets + torch.where(rel < exact, rel, large)


class TransformerEncoder(nn.Module):
    def __init__(self, dim: int, ffn_dim: int, num_layers: int, num_heads: int, num_buckets: int,
                 max_distance: int, conv_pos: int, conv_pos_groups: int, dropout: float, causal: bool = False,
                 window_size: int = 512, lookahead_size: int = 3, max_cached_steps: int = 2048) -> None:
        super().__init__()
        self.num_buckets, self.max_distance = num_buckets, max_distance
        self.causal, self.window_size, self.chunk = causal, window_size, 1 + lookahead_size
        self.max_cached_steps = max_cached_steps
        self.positional_embedding = PositionalEmbedding(dim, conv_pos, conv_pos_groups, causal)
        self.relative_embedding = nn.Embedding(num_buckets, num_heads)
        self.layers = nn.ModuleList(TransformerLayer(dim, ffn_dim, num_heads, dropout) for _ in range(num_layers))
        self.dropout = nn.Dropout(dropout)

    def position_bias(self, queries: int, keys: int | None = None) -> torch.Tensor:
        """``[H, queries, keys]`` bias for positions 0..queries-1 against 0..keys-1."""
        keys = queries if keys is None else keys
        pos_q = torch.arange(queries, device=self.relative_embedding.weight.device)
        pos_k = torch.arange(keys, device=self.relative_embedding.weight.device)
        buckets = relative_buckets(pos_q, pos_k, self.num_buckets, self.max_distance)
        return self.relative_embedding(buckets).permute(2, 0, 1)

    def forward(self, x: torch.Tensor, valid: torch.Tensor | None) -> torch.Tensor:
        key_mask = None
        if valid is not None:
            frame_ok = torch.arange(x.shape[1], device=x.device)[None, :] < valid[:, None]
            x = x * frame_ok[..., None]
            key_mask = torch.zeros(frame_ok.shape, dtype=x.dtype, device=x.device)
            key_mask = key_mask.masked_fill(~frame_ok, float("-inf"))[:, None, None, :]
        x = self.dropout(x + self.positional_embedding(x)[0])
        bias = self.position_bias(x.shape[1]).to(x.dtype)
        buffer = None
        if not torch.is_grad_enabled():
            buffer = x.new_empty((x.shape[0], *bias.shape))
        for layer in self.layers:
            x, _ = layer(x, bias, key_mask, bias_buffer=buffer)
        return x

    def forward_causal(self, x: torch.Tensor, state: list | None) -> tuple[torch.Tensor, list]:
        """Chunked windowed attention: a frame sees ``window_size`` frames up to the end of its
        ``1 + lookahead`` chunk. State: [position, positional-conv cache, key/value caches]."""
        curr_pos, pos_cache, kv_caches = state if state else (0, None, [None] * len(self.layers))
        frames = x.shape[1]
        next_pos = curr_pos + frames
        mask = None
        if frames > self.chunk:
            ends = torch.arange(curr_pos + self.chunk, next_pos + self.chunk, device=x.device)
            if self.chunk > 1:
                ends = ((ends // self.chunk) * self.chunk).clamp(max=next_pos)
            starts = (ends - self.window_size).clamp(min=0)
            keys = torch.arange(int(starts[0]), next_pos, device=x.device)
            allowed = (keys[None, :] >= starts[:, None]) & (keys[None, :] < ends[:, None])
            mask = torch.zeros(allowed.shape, dtype=x.dtype, device=x.device).masked_fill(~allowed, float("-inf"))
        emb, pos_cache = self.positional_embedding(x, pos_cache)
        x = self.dropout(x + emb)
        cached = self.max_cached_steps
        if frames > cached:
            full = self.position_bias(next_pos)
        else:
            full = self.position_bias(cached, max(cached, self.window_size))
        end = min(next_pos, full.shape[1])
        bias = full[:, end - frames:end, :next_pos]
        if bias.shape[1] > bias.shape[2] or (mask is not None and mask.shape[1] > bias.shape[2]):
            bias = self.position_bias(next_pos)[:, end - frames:end]
        bias = bias.to(x.dtype)
        layer_pos = min(curr_pos, self.window_size - self.chunk)
        shift = max(next_pos - self.window_size + self.chunk, 0)
        new_caches = []
        for layer, cache in zip(self.layers, kv_caches, strict=True):
            x, cache = layer(x, bias, mask, layer_pos, cache)
            cache = torch.cat([cache[:, shift:], cache[:, :shift]], dim=1)[:, : self.window_size]
            new_caches.append(cache)
        return x, [min(next_pos, self.window_size - self.chunk), pos_cache, new_caches]


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
        self.feature_extractor = FeatureExtractor(hidden_dims, kernel_sizes, strides, dropout, causal)
        self.norm = nn.LayerNorm(self.hidden_dims[-1])
        self.feature_proj = nn.Linear(self.hidden_dims[-1], dim)
        self.dropout = nn.Dropout(dropout)
        self.encoder = TransformerEncoder(dim, ffn_dim, num_layers, num_heads, num_buckets, max_distance,
                                          conv_pos, conv_pos_groups, dropout, causal, window_size,
                                          lookahead_size, max_cached_steps)

    def num_frames(self, num_samples: int) -> int:
        """Output frames for an input of ``num_samples`` samples."""
        if self.causal:
            length = num_samples
            for s in self.strides:
                length = (length - 1) // s + 1
            return length
        length = max(num_samples, self.kernel_sizes[0])
        for k, s in zip(self.kernel_sizes, self.strides, strict=True):
            length = (max(length, k) - k) // s + 1
        return length

    def forward(self, sig: torch.Tensor, state: Sequence | None = (), length: torch.Tensor | None = None
                ) -> tuple[torch.Tensor, list]:
        """Non-causal: ``length`` masks padded frames. Causal: ``state`` (from the previous call)
        continues a stream; ``length`` is ignored."""
        if self.causal:
            conv_caches, encoder_state = state if state else (None, None)
            x, conv_caches = self.feature_extractor(sig, conv_caches)
            x = self.dropout(self.feature_proj(self.norm(x)))
            x, encoder_state = self.encoder.forward_causal(x, encoder_state)
            return x, [conv_caches, encoder_state]
        x = self.dropout(self.feature_proj(self.norm(self.feature_extractor(sig)[0])))
        valid = None
        if length is not None:
            valid = torch.ceil(length.to(x.device) * x.shape[1]).long().clamp(max=x.shape[1])
        return self.encoder(x, valid), []
