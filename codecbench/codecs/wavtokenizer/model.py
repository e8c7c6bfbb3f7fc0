"""WavTokenizer (Ji et al., 2024), an in-tree module tree key-compatible with the official Lightning
checkpoints (``feature_extractor.*``, ``backbone.*``, ``head.*`` of ``state_dict``).

24 kHz waveform -> EnCodec SEANet encoder (ratios 6, 5, 5, 4: hop 600, 40 Hz; 512-d) -> one
Euclidean VQ of 4096 codes -> Vocos backbone (conv embed, ResNet + self-attention "pos_net",
AdaLayerNorm ConvNeXt blocks conditioned on ``bandwidth_id``) -> ISTFT head (n_fft 2400, hop 600).
The checkpoint also holds an EnCodec SEANet *decoder* that inference never runs; it is not built.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, cast

import torch
import torch.nn.functional as F
from torch import nn

from .._blocks.seanet import SEANetEncoder
from .._blocks.vocos import ISTFT

#: the 40 Hz "large-unify" configuration (wavtokenizer_smalldata_frame40_3s_nq1_code4096_dim512_kmeans200_attn)
LARGE_40HZ: dict[str, Any] = {"ratios": (6, 5, 5, 4), "codebook_size": 4096, "dim": 768, "intermediate_dim": 2304,
              "num_layers": 12, "adanorm_num_embeddings": 4, "n_fft": 2400, "hop_length": 600}
#: the 75 Hz configuration (ratios 8, 5, 4, 2; n_fft 1280, hop 320)
LARGE_75HZ: dict[str, Any] = {**LARGE_40HZ, "ratios": (8, 5, 4, 2), "n_fft": 1280, "hop_length": 320}


class EuclideanCodebook(nn.Module):
    """Nearest code by Euclidean distance; buffers as in EnCodec (``embed`` is the codebook)."""

    inited: torch.Tensor  # buffers
    cluster_size: torch.Tensor
    embed: torch.Tensor
    embed_avg: torch.Tensor

    def __init__(self, dim: int, codebook_size: int) -> None:
        super().__init__()
        self.register_buffer("inited", torch.ones(1))
        self.register_buffer("cluster_size", torch.zeros(codebook_size))
        self.register_buffer("embed", torch.randn(codebook_size, dim))  # k-means-initialised in training
        self.register_buffer("embed_avg", self.embed.clone())

    def encode(self, x: torch.Tensor) -> torch.Tensor:
        """``[..., dim]`` -> indices ``[...]``."""
        flat = x.reshape(-1, x.shape[-1])
        dist = flat.pow(2).sum(1, keepdim=True) - 2 * flat @ self.embed.t() + self.embed.pow(2).sum(1)[None]
        return dist.argmin(dim=-1).view(x.shape[:-1])

    def decode(self, codes: torch.Tensor) -> torch.Tensor:
        return F.embedding(codes, self.embed)


class _VQLayer(nn.Module):
    def __init__(self, dim: int, codebook_size: int) -> None:
        super().__init__()
        self._codebook = EuclideanCodebook(dim, codebook_size)


class _ResidualVQ(nn.Module):
    def __init__(self, dim: int, codebook_size: int, num_quantizers: int) -> None:
        super().__init__()
        self.layers = nn.ModuleList([_VQLayer(dim, codebook_size) for _ in range(num_quantizers)])


class Quantizer(nn.Module):
    """``quantizer.vq.layers.<k>._codebook``: residual Euclidean VQ (WavTokenizer uses one layer)."""

    def __init__(self, dim: int = 512, codebook_size: int = 4096, num_quantizers: int = 1) -> None:
        super().__init__()
        self.vq = _ResidualVQ(dim, codebook_size, num_quantizers)

    def encode(self, latents: torch.Tensor) -> torch.Tensor:
        """``[B, dim, N]`` -> codes ``[B, N, K]``."""
        residual, codes = latents.transpose(1, 2), []
        for layer in cast("list[_VQLayer]", self.vq.layers):
            idx = layer._codebook.encode(residual)
            residual = residual - layer._codebook.decode(idx)
            codes.append(idx)
        return torch.stack(codes, dim=-1)

    def decode(self, codes: torch.Tensor) -> torch.Tensor:
        """codes ``[B, N, K]`` -> ``[B, N, dim]``."""
        layers = cast("list[_VQLayer]", self.vq.layers)
        return sum(layer._codebook.decode(codes[..., k]) for k, layer in enumerate(layers))  # type: ignore[return-value]


class _Encodec(nn.Module):
    def __init__(self, ratios: Sequence[int], codebook_size: int) -> None:
        super().__init__()
        self.encoder = SEANetEncoder(ratios=ratios, dimension=512, n_filters=32)
        self.quantizer = Quantizer(512, codebook_size)


class EncodecFeatures(nn.Module):
    """``feature_extractor.encodec.{encoder, quantizer}``."""

    def __init__(self, ratios: Sequence[int], codebook_size: int) -> None:
        super().__init__()
        self.encodec = _Encodec(ratios, codebook_size)


class AdaLayerNorm(nn.Module):
    """LayerNorm without affine, then a per-condition scale and shift (``scale`` / ``shift`` tables)."""

    def __init__(self, num_embeddings: int, dim: int, eps: float = 1e-6) -> None:
        super().__init__()
        self.dim, self.eps = dim, eps
        self.scale = nn.Embedding(num_embeddings, dim)
        self.shift = nn.Embedding(num_embeddings, dim)
        nn.init.ones_(self.scale.weight)
        nn.init.zeros_(self.shift.weight)

    def forward(self, x: torch.Tensor, cond: torch.Tensor) -> torch.Tensor:
        return F.layer_norm(x, (self.dim,), eps=self.eps) * self.scale(cond) + self.shift(cond)


class ConvNeXtBlock(nn.Module):
    """Depthwise conv (k=7) -> AdaLayerNorm -> MLP -> layer scale, residual; ``[B, C, T]``."""

    def __init__(self, dim: int, intermediate_dim: int, layer_scale: float, num_embeddings: int) -> None:
        super().__init__()
        self.dwconv = nn.Conv1d(dim, dim, kernel_size=7, padding=3, groups=dim)
        self.norm = AdaLayerNorm(num_embeddings, dim)
        self.pwconv1 = nn.Linear(dim, intermediate_dim)
        self.act = nn.GELU()
        self.pwconv2 = nn.Linear(intermediate_dim, dim)
        self.gamma = nn.Parameter(torch.full((dim,), layer_scale))

    def forward(self, x: torch.Tensor, cond: torch.Tensor) -> torch.Tensor:
        y = self.norm(self.dwconv(x).transpose(1, 2), cond)
        y = self.gamma * self.pwconv2(self.act(self.pwconv1(y)))
        return x + y.transpose(1, 2)


def _group_norm(channels: int) -> nn.GroupNorm:
    return nn.GroupNorm(32, channels, eps=1e-6)


class ResnetBlock(nn.Module):
    """GroupNorm -> swish -> conv(k=3), twice, residual (dropout is inactive at inference)."""

    def __init__(self, channels: int) -> None:
        super().__init__()
        self.norm1, self.conv1 = _group_norm(channels), nn.Conv1d(channels, channels, 3, padding=1)
        self.norm2, self.conv2 = _group_norm(channels), nn.Conv1d(channels, channels, 3, padding=1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        h = self.conv1(F.silu(self.norm1(x)))
        return x + self.conv2(F.silu(self.norm2(h)))


class AttnBlock(nn.Module):
    """Single-head self-attention over time with 1x1-conv projections, residual."""

    def __init__(self, channels: int) -> None:
        super().__init__()
        self.norm = _group_norm(channels)
        self.q, self.k, self.v, self.proj_out = (nn.Conv1d(channels, channels, 1) for _ in range(4))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        h = self.norm(x)
        q, k, v = (proj(h).transpose(1, 2) for proj in (self.q, self.k, self.v))
        out = F.scaled_dot_product_attention(q[:, None], k[:, None], v[:, None])[:, 0]
        return x + self.proj_out(out.transpose(1, 2))


class VocosBackbone(nn.Module):
    """``embed`` -> ``pos_net`` (2 ResNet, attention, 2 ResNet, GroupNorm) -> AdaLN -> ConvNeXt x L -> LayerNorm."""

    def __init__(self, input_channels: int = 512, dim: int = 768, intermediate_dim: int = 2304,
                 num_layers: int = 12, adanorm_num_embeddings: int = 4) -> None:
        super().__init__()
        self.embed = nn.Conv1d(input_channels, dim, kernel_size=7, padding=3)
        self.norm = AdaLayerNorm(adanorm_num_embeddings, dim)
        self.convnext = nn.ModuleList([ConvNeXtBlock(dim, intermediate_dim, 1 / num_layers, adanorm_num_embeddings)
                                       for _ in range(num_layers)])
        self.final_layer_norm = nn.LayerNorm(dim, eps=1e-6)
        self.pos_net = nn.Sequential(ResnetBlock(dim), ResnetBlock(dim), AttnBlock(dim), ResnetBlock(dim),
                                     ResnetBlock(dim), _group_norm(dim))

    def forward(self, x: torch.Tensor, bandwidth_id: torch.Tensor) -> torch.Tensor:
        """``[B, input_channels, N]`` -> ``[B, N, dim]``."""
        x = self.pos_net(self.embed(x))
        x = self.norm(x.transpose(1, 2), bandwidth_id).transpose(1, 2)
        for block in self.convnext:
            x = block(x, bandwidth_id)
        return self.final_layer_norm(x.transpose(1, 2))


class ISTFTHead(nn.Module):
    """``out`` projection to log-magnitude and phase, then a "same"-padded ISTFT."""

    def __init__(self, dim: int = 768, n_fft: int = 2400, hop_length: int = 600) -> None:
        super().__init__()
        self.out = nn.Linear(dim, n_fft + 2)
        self.istft = ISTFT(n_fft, hop_length, n_fft)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        mag, phase = self.out(x).transpose(1, 2).chunk(2, dim=1)
        mag = torch.exp(mag).clamp(max=100.0)
        return self.istft(mag * (torch.cos(phase) + 1j * torch.sin(phase)))


class WavTokenizer(nn.Module):
    """Feature extractor + backbone + head; codes are ``[B, N, K]``, audio ``[B, T]`` at 24 kHz."""

    def __init__(self, ratios: Sequence[int] = (6, 5, 5, 4), codebook_size: int = 4096, dim: int = 768,
                 intermediate_dim: int = 2304, num_layers: int = 12, adanorm_num_embeddings: int = 4,
                 n_fft: int = 2400, hop_length: int = 600, bandwidth_id: int = 0) -> None:
        super().__init__()
        self.feature_extractor = EncodecFeatures(ratios, codebook_size)
        self.backbone = VocosBackbone(512, dim, intermediate_dim, num_layers, adanorm_num_embeddings)
        self.head = ISTFTHead(dim, n_fft, hop_length)
        self.hop_length = hop_length
        if self.feature_extractor.encodec.encoder.hop_length != hop_length:
            encoder_hop = self.feature_extractor.encodec.encoder.hop_length
            raise ValueError(f"encoder hop {encoder_hop} != ISTFT hop {hop_length}")
        self.register_buffer("bandwidth_id", torch.tensor([bandwidth_id]), persistent=False)

    @property
    def quantizer(self) -> Quantizer:
        return self.feature_extractor.encodec.quantizer

    def sig_to_feats(self, wav: torch.Tensor) -> torch.Tensor:
        """``[B, T]`` -> continuous encoder latents ``[B, N, 512]``."""
        return self.feature_extractor.encodec.encoder(wav[:, None]).transpose(1, 2)

    def sig_to_toks(self, wav: torch.Tensor) -> torch.Tensor:
        return self.quantizer.encode(self.feature_extractor.encodec.encoder(wav[:, None]))

    def toks_to_qfeats(self, codes: torch.Tensor) -> torch.Tensor:
        return self.quantizer.decode(codes)

    def feats_to_sig(self, feats: torch.Tensor) -> torch.Tensor:
        """``[B, N, 512]`` -> ``[B, N * hop]``."""
        return self.head(self.backbone(feats.transpose(1, 2), self.bandwidth_id))

    def load_official(self, state: dict[str, torch.Tensor]) -> None:
        """Load a Lightning ``state_dict`` (or its model part); discriminators, losses and the unused
        SEANet decoder are dropped, everything this module has must be present."""
        keep = {k: v for k, v in state.items() if k.startswith(("feature_extractor.", "backbone.", "head."))
                and not k.startswith("feature_extractor.encodec.decoder.") and k != "head.istft.window"}
        self.load_state_dict(keep, strict=True)
