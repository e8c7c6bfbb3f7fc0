"""The transformer FlexiCodec borrows from Mimi (Kyutai's ``ProjectedTransformer``), key-compatible, and its query
token aggregator: pre-norm layers with rotary positions, bias-free projections, layer scale and GELU; FlexiCodec
runs them non-causal, where every position sees every other (the context window only limits causal ones)."""

from __future__ import annotations

import math
from typing import cast

import torch
import torch.nn.functional as F
from torch import nn


def rotary(q: torch.Tensor, k: torch.Tensor, max_period: float = 10000.0) -> tuple[torch.Tensor, torch.Tensor]:
    """Rotate ``[B, H, T, D]`` queries and keys by position (pairs of channels as complex numbers)."""
    b, h, t, d = q.shape
    freqs = torch.exp(torch.arange(d // 2, device=q.device, dtype=torch.float32) * (-math.log(max_period) * 2 / d))
    ts = torch.arange(t, device=q.device, dtype=torch.float32).view(1, -1, 1)
    rot_r, rot_i = torch.cos(freqs * ts), torch.sin(freqs * ts)

    def turn(x: torch.Tensor) -> torch.Tensor:
        pairs = x.view(b, h, t, d // 2, 2)
        real, imag = pairs[..., 0].float(), pairs[..., 1].float()
        out = torch.stack([(real * rot_r - imag * rot_i).to(x.dtype), (real * rot_i + imag * rot_r).to(x.dtype)],
                          dim=-1)
        return out.view(b, h, t, d)

    return turn(q), turn(k)


class LayerScale(nn.Module):
    def __init__(self, dim: int, init: float) -> None:
        super().__init__()
        self.scale = nn.Parameter(torch.full((dim,), init))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.scale * x


class SelfAttention(nn.Module):
    def __init__(self, dim: int, heads: int) -> None:
        super().__init__()
        self.heads = heads
        self.in_proj_weight = nn.Parameter(torch.empty(3 * dim, dim))
        nn.init.xavier_uniform_(self.in_proj_weight)
        self.out_proj = nn.Linear(dim, dim, bias=False)

    def forward(self, x: torch.Tensor) -> torch.Tensor:  # [B, T, D]
        b, t, d = x.shape
        q, k, v = F.linear(x, self.in_proj_weight).view(b, t, 3, self.heads, d // self.heads).permute(2, 0, 3, 1, 4)
        q, k = rotary(q, k)
        out = F.scaled_dot_product_attention(q, k, v, None, dropout_p=0.0)
        return self.out_proj(out.transpose(1, 2).reshape(b, t, d))


class TransformerLayer(nn.Module):
    def __init__(self, dim: int, heads: int, ffn_dim: int, layer_scale: float) -> None:
        super().__init__()
        self.self_attn = SelfAttention(dim, heads)
        self.norm1, self.norm2 = nn.LayerNorm(dim, eps=1e-5), nn.LayerNorm(dim, eps=1e-5)
        self.linear1 = nn.Linear(dim, ffn_dim, bias=False)
        self.linear2 = nn.Linear(ffn_dim, dim, bias=False)
        self.layer_scale_1, self.layer_scale_2 = LayerScale(dim, layer_scale), LayerScale(dim, layer_scale)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = x + self.layer_scale_1(self.self_attn(self.norm1(x)))
        return x + self.layer_scale_2(self.linear2(F.gelu(self.linear1(self.norm2(x)))))


class Transformer(nn.Module):
    def __init__(self, dim: int, heads: int, layers: int, ffn_dim: int, layer_scale: float = 0.01) -> None:
        super().__init__()
        self.layers = nn.ModuleList(TransformerLayer(dim, heads, ffn_dim, layer_scale) for _ in range(layers))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        for layer in cast("list[TransformerLayer]", self.layers):
            x = layer(x)
        return x


class ProjectedTransformer(nn.Module):
    """``[B, C, T]`` in and out (``conv_layout``), projected to and from ``dim`` when ``C`` differs."""

    def __init__(self, in_out_dim: int, dim: int, heads: int, layers: int, ffn_dim: int) -> None:
        super().__init__()
        self.transformer = Transformer(dim, heads, layers, ffn_dim)
        self.input_proj = nn.Linear(in_out_dim, dim, bias=False) if dim != in_out_dim else None
        self.output_projs = nn.ModuleList([nn.Linear(dim, in_out_dim, bias=False) if dim != in_out_dim
                                           else nn.Identity()])

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = x.transpose(1, 2)
        if self.input_proj is not None:
            x = self.input_proj(x)
        return self.output_projs[0](self.transformer(x)).transpose(1, 2)


class QueryTokenAggregator(nn.Module):
    """One vector per group of frames: a query (the group's mean plus a learnt embedding) is put after each group's
    last frame, the interleaved sequence goes through a transformer, and the queries' outputs are the groups'."""

    def __init__(self, dim: int, in_out_dim: int, heads: int, layers: int, ffn_dim: int) -> None:
        super().__init__()
        self.query_embedding = nn.Parameter(torch.randn(1, in_out_dim, 1))
        self.transformer = ProjectedTransformer(in_out_dim, dim, heads, layers, ffn_dim)

    def forward(self, features: torch.Tensor, alignment: torch.Tensor, groups: torch.Tensor) -> torch.Tensor:
        """``features [B, C, T]``, ``alignment [B, G, T]`` (1: frame in group), ``groups [B]`` valid groups ->
        ``[B, C, G]`` (padded groups zero)."""
        b, c, t = features.shape
        g = alignment.shape[1]
        features = features[..., : alignment.shape[2]]
        t = features.shape[2]
        device = features.device
        group_mask = torch.arange(g, device=device).unsqueeze(0) < groups.unsqueeze(1)
        last = (alignment * torch.arange(t, device=device)).max(dim=2).values
        frames = last.masked_fill(~group_mask, -1).max(dim=1).values + 1
        frame_mask = torch.arange(t, device=device).unsqueeze(0) < frames.unsqueeze(1)
        ends = last.clone()
        ends[~group_mask] = t + 1
        frame_dest = torch.arange(t, device=device) + (ends.unsqueeze(2) < torch.arange(t, device=device)).sum(dim=1)
        query_dest = last + torch.arange(g, device=device) + 1
        weights = alignment.to(features.dtype)
        means = torch.einsum("bgt,bdt->bgd", weights, features) / weights.sum(dim=2).clamp(min=1).unsqueeze(-1)
        queries = means.transpose(1, 2) + self.query_embedding.expand(b, -1, g)
        source = torch.cat([features, queries], dim=2)
        dest = torch.cat([frame_dest, query_dest], dim=1).masked_fill(~torch.cat([frame_mask, group_mask], 1), t + g)
        order = dest.argsort(dim=1)
        out = self.transformer(torch.gather(source, 2, order.unsqueeze(1).expand(-1, c, -1)))
        where = order.argsort(dim=1)[:, t:]
        picked = torch.gather(out, 2, where.unsqueeze(1).expand(-1, c, -1))
        return picked.masked_fill(~group_mask.unsqueeze(1), 0.0)
