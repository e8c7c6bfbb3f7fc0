"""BigCodec (Xin et al., 2024): an in-tree module tree key-compatible with the official
``bigcodec.pt`` (``CodecEnc`` -> :class:`BigCodecEncoder`, ``generator`` -> :class:`BigCodecDecoder`).

16 kHz waveform -> conv encoder (strides 2, 2, 2, 5, 5: hop 200, 80 Hz) with SnakeBeta residual
units and a residual LSTM -> 1024-d latents -> one factorized VQ (1024 -> 8 -> L2-normalised
nearest of 8192 codes -> 1024) -> mirrored decoder -> tanh waveform.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import cast

import torch
import torch.nn.functional as F
from torch import nn

from .._blocks.antialias import Activation1d
from .._blocks.weightnorm import WNConv1d, WNConvTranspose1d, WNLinear, legacy_weight_norm_keys


class ResidualUnit(nn.Module):
    """Act -> dilated conv (k=7) -> Act -> 1x1 conv, plus the input."""

    def __init__(self, dim: int, dilation: int) -> None:
        super().__init__()
        self.block = nn.Sequential(
            Activation1d(dim), WNConv1d(dim, dim, kernel_size=7, dilation=dilation, padding=3 * dilation),
            Activation1d(dim), WNConv1d(dim, dim, kernel_size=1))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x + self.block(x)


class EncoderBlock(nn.Module):
    """Residual units at ``dim // 2`` channels, then a strided conv to ``dim`` channels."""

    def __init__(self, dim: int, stride: int, dilations: Sequence[int]) -> None:
        super().__init__()
        self.block = nn.Sequential(
            *[ResidualUnit(dim // 2, d) for d in dilations], Activation1d(dim // 2),
            WNConv1d(dim // 2, dim, kernel_size=2 * stride, stride=stride, padding=stride // 2 + stride % 2))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.block(x)


class DecoderBlock(nn.Module):
    """A transposed conv (``stride``x longer) then residual units."""

    def __init__(self, input_dim: int, output_dim: int, stride: int, dilations: Sequence[int]) -> None:
        super().__init__()
        self.block = nn.Sequential(
            Activation1d(input_dim),
            WNConvTranspose1d(input_dim, output_dim, kernel_size=2 * stride, stride=stride,
                              padding=stride // 2 + stride % 2, output_padding=stride % 2),
            *[ResidualUnit(output_dim, d) for d in dilations])

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.block(x)


class ResLSTM(nn.Module):
    """A unidirectional LSTM over ``[B, C, T]`` with a skip connection."""

    def __init__(self, dim: int, num_layers: int = 2) -> None:
        super().__init__()
        self.lstm = nn.LSTM(dim, dim, num_layers, batch_first=True)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = x.transpose(1, 2)
        y, _ = self.lstm(x)
        return (y + x).transpose(1, 2)


class BigCodecEncoder(nn.Module):
    """Waveform ``[B, 1, T]`` -> latents ``[B, out_channels, T / hop]``."""

    def __init__(self, ngf: int = 48, up_ratios: Sequence[int] = (2, 2, 2, 5, 5),
                 dilations: Sequence[int] = (1, 3, 9), out_channels: int = 1024, rnn_layers: int = 2) -> None:
        super().__init__()
        self.hop_length = math.prod(up_ratios)
        layers: list[nn.Module] = [WNConv1d(1, ngf, kernel_size=7, padding=3)]
        dim = ngf
        for stride in up_ratios:
            dim *= 2
            layers.append(EncoderBlock(dim, stride, dilations))
        layers += [ResLSTM(dim, rnn_layers), Activation1d(dim), WNConv1d(dim, out_channels, kernel_size=3, padding=1)]
        self.block = nn.Sequential(*layers)

    def forward(self, wav: torch.Tensor) -> torch.Tensor:
        return self.block(wav)


class FactorizedVQ(nn.Module):
    """Project to ``codebook_dim``, pick the nearest L2-normalised code, project back."""

    def __init__(self, dim: int = 1024, codebook_size: int = 8192, codebook_dim: int = 8) -> None:
        super().__init__()
        self.in_proj = WNLinear(dim, codebook_dim)
        self.out_proj = WNLinear(codebook_dim, dim)
        self._codebook = nn.Embedding(codebook_size, codebook_dim)

    def indices(self, latents: torch.Tensor) -> torch.Tensor:
        """``[B, dim, N]`` -> codes ``[B, N]`` (cosine nearest, as the L2 distance of unit vectors)."""
        z = F.normalize(self.in_proj(latents.transpose(1, 2)), dim=-1)
        return (z @ F.normalize(self._codebook.weight, dim=-1).t()).argmax(dim=-1)

    def embed(self, codes: torch.Tensor) -> torch.Tensor:
        """codes ``[B, N]`` -> quantized latents ``[B, N, dim]`` (the raw, unnormalised code vector)."""
        return self.out_proj(self._codebook(codes))


class ResidualVQ(nn.Module):
    """A sum of factorized VQs on successive residuals (BigCodec uses one)."""

    def __init__(self, num_quantizers: int = 1, dim: int = 1024, codebook_size: int = 8192,
                 codebook_dim: int = 8) -> None:
        super().__init__()
        self.layers = nn.ModuleList([FactorizedVQ(dim, codebook_size, codebook_dim) for _ in range(num_quantizers)])

    def encode(self, latents: torch.Tensor) -> torch.Tensor:
        """``[B, dim, N]`` -> codes ``[B, N, K]``."""
        residual, codes = latents, []
        for layer in cast("list[FactorizedVQ]", self.layers):
            idx = layer.indices(residual)
            residual = residual - layer.embed(idx).transpose(1, 2)
            codes.append(idx)
        return torch.stack(codes, dim=-1)

    def embed(self, codes: torch.Tensor) -> torch.Tensor:
        """codes ``[B, N, K]`` -> ``[B, N, dim]``."""
        layers = cast("list[FactorizedVQ]", self.layers)
        return sum(layer.embed(codes[..., k]) for k, layer in enumerate(layers))  # type: ignore[return-value]


class BigCodecDecoder(nn.Module):
    """Holds the quantizer; ``forward`` maps quantized latents ``[B, 1024, N]`` to ``[B, 1, N * hop]``."""

    def __init__(self, in_channels: int = 1024, upsample_initial_channel: int = 1536,
                 up_ratios: Sequence[int] = (5, 5, 2, 2, 2), dilations: Sequence[int] = (1, 3, 9),
                 rnn_layers: int = 2, num_quantizers: int = 1, codebook_size: int = 8192,
                 codebook_dim: int = 8) -> None:
        super().__init__()
        self.hop_length = math.prod(up_ratios)
        self.quantizer = ResidualVQ(num_quantizers, in_channels, codebook_size, codebook_dim)
        ch = upsample_initial_channel
        layers: list[nn.Module] = [WNConv1d(in_channels, ch, kernel_size=7, padding=3), ResLSTM(ch, rnn_layers)]
        for i, stride in enumerate(up_ratios):
            layers.append(DecoderBlock(ch // 2 ** i, ch // 2 ** (i + 1), stride, dilations))
        out = ch // 2 ** len(up_ratios)
        layers += [Activation1d(out), WNConv1d(out, 1, kernel_size=7, padding=3), nn.Tanh()]
        self.model = nn.Sequential(*layers)

    def forward(self, latents: torch.Tensor) -> torch.Tensor:
        return self.model(latents)


class BigCodec(nn.Module):
    """Encoder + decoder with the harness-facing steps (codes are ``[B, N, K]``)."""

    def __init__(self, encoder: dict | None = None, decoder: dict | None = None) -> None:
        super().__init__()
        self.encoder = BigCodecEncoder(**(encoder or {}))
        self.decoder = BigCodecDecoder(**(decoder or {}))
        if self.encoder.hop_length != self.decoder.hop_length:
            raise ValueError(f"encoder hop {self.encoder.hop_length} != decoder hop {self.decoder.hop_length}")
        self.hop_length = self.encoder.hop_length

    def sig_to_feats(self, wav: torch.Tensor) -> torch.Tensor:
        """``[B, T]`` (T a multiple of the hop) -> continuous latents ``[B, N, 1024]``."""
        return self.encoder(wav[:, None]).transpose(1, 2)

    def sig_to_toks(self, wav: torch.Tensor) -> torch.Tensor:
        return self.decoder.quantizer.encode(self.encoder(wav[:, None]))

    def toks_to_qfeats(self, codes: torch.Tensor) -> torch.Tensor:
        return self.decoder.quantizer.embed(codes)

    def feats_to_sig(self, feats: torch.Tensor) -> torch.Tensor:
        """``[B, N, 1024]`` -> ``[B, N * hop]``."""
        return self.decoder(feats.transpose(1, 2))[:, 0]

    def load_official(self, state: dict) -> None:
        """Load ``bigcodec.pt`` (``{"CodecEnc": ..., "generator": ...}``), strict."""
        missing = [k for k in ("CodecEnc", "generator") if k not in state]
        if missing:
            raise KeyError(f"not a BigCodec checkpoint: keys {missing} missing (found {sorted(state)[:5]})")
        self.encoder.load_state_dict(legacy_weight_norm_keys(state["CodecEnc"]))
        self.decoder.load_state_dict(legacy_weight_norm_keys(state["generator"]))
