"""The DAC parts FlexiCodec is built on (Kumar et al., 2023, as FlexiCodec's ``dac_model.py`` configures them),
key-compatible with its checkpoint (``dac.encoder``, ``dac.quantizer``, ``dac.decoder``): a Snake-activated
convolutional encoder (channels doubling at each stride), a residual VQ with factorised, L2-normalised codebooks,
and the mirrored decoder ending in tanh."""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import cast

import torch
import torch.nn.functional as F
from torch import nn

from .._blocks.weightnorm import WNConv1d, WNConvTranspose1d


class Snake1d(nn.Module):
    """``x + sin^2(alpha x) / (alpha + 1e-9)`` per channel, on ``[B, C, T]``."""

    def __init__(self, channels: int) -> None:
        super().__init__()
        self.alpha = nn.Parameter(torch.ones(1, channels, 1))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        shape = x.shape
        x = x.reshape(shape[0], shape[1], -1)
        return (x + (self.alpha + 1e-9).reciprocal() * torch.sin(self.alpha * x).pow(2)).reshape(shape)


class ResidualUnit(nn.Module):
    def __init__(self, dim: int, dilation: int) -> None:
        super().__init__()
        self.block = nn.Sequential(Snake1d(dim), WNConv1d(dim, dim, 7, dilation=dilation, padding=3 * dilation),
                                   Snake1d(dim), WNConv1d(dim, dim, 1))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        y = self.block(x)
        trim = (x.shape[-1] - y.shape[-1]) // 2
        return (x[..., trim:-trim] if trim > 0 else x) + y


class EncoderBlock(nn.Module):
    def __init__(self, dim: int, stride: int) -> None:
        super().__init__()
        self.block = nn.Sequential(
            ResidualUnit(dim // 2, 1), ResidualUnit(dim // 2, 3), ResidualUnit(dim // 2, 9), Snake1d(dim // 2),
            WNConv1d(dim // 2, dim, 2 * stride, stride=stride, padding=math.ceil(stride / 2)))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.block(x)


class Encoder(nn.Module):
    """``[B, 1, S]`` -> ``[B, latent_dim, S / prod(strides)]``."""

    def __init__(self, dim: int, strides: Sequence[int], latent_dim: int) -> None:
        super().__init__()
        layers: list[nn.Module] = [WNConv1d(1, dim, 7, padding=3)]
        for stride in strides:
            dim *= 2
            layers.append(EncoderBlock(dim, stride))
        layers += [Snake1d(dim), WNConv1d(dim, latent_dim, 3, padding=1)]
        self.block = nn.Sequential(*layers)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.block(x)


class DecoderBlock(nn.Module):
    def __init__(self, in_dim: int, out_dim: int, stride: int) -> None:
        super().__init__()
        self.block = nn.Sequential(
            Snake1d(in_dim), WNConvTranspose1d(in_dim, out_dim, 2 * stride, stride=stride,
                                               padding=math.ceil(stride / 2)),
            ResidualUnit(out_dim, 1), ResidualUnit(out_dim, 3), ResidualUnit(out_dim, 9))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.block(x)


class Decoder(nn.Module):
    """``[B, latent_dim, N]`` -> ``[B, 1, N * prod(rates)]`` (about: each transposed conv trims a little)."""

    def __init__(self, latent_dim: int, channels: int, rates: Sequence[int]) -> None:
        super().__init__()
        layers: list[nn.Module] = [WNConv1d(latent_dim, channels, 7, padding=3)]
        out_dim = channels
        for i, stride in enumerate(rates):
            out_dim = channels // 2 ** (i + 1)
            layers.append(DecoderBlock(channels // 2**i, out_dim, stride))
        layers += [Snake1d(out_dim), WNConv1d(out_dim, 1, 7, padding=3), nn.Tanh()]
        self.model = nn.Sequential(*layers)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.model(x)


class VectorQuantize(nn.Module):
    """One factorised VQ: project to ``codebook_dim``, nearest L2-normalised code, project back."""

    def __init__(self, dim: int, codebook_size: int, codebook_dim: int) -> None:
        super().__init__()
        self.in_proj = WNConv1d(dim, codebook_dim, 1)
        self.out_proj = WNConv1d(codebook_dim, dim, 1)
        self.codebook = nn.Embedding(codebook_size, codebook_dim)

    def indices(self, latents: torch.Tensor) -> torch.Tensor:
        """``[B, codebook_dim, N]`` -> ``[B, N]``: the code of least distance, both L2-normalised."""
        enc = F.normalize(latents.transpose(1, 2).reshape(-1, latents.shape[1]))
        book = F.normalize(self.codebook.weight)
        dist = enc.pow(2).sum(1, keepdim=True) - 2 * enc @ book.t() + book.pow(2).sum(1, keepdim=True).t()
        return (-dist).max(1)[1].reshape(latents.shape[0], -1)

    def code_vectors(self, indices: torch.Tensor) -> torch.Tensor:
        return F.embedding(indices, self.codebook.weight).transpose(1, 2)

    def forward(self, z: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """The quantised ``z`` (projected back) and its codes."""
        z_e = self.in_proj(z)
        indices = self.indices(z_e)
        z_q = self.code_vectors(indices)
        return self.out_proj(z_e + (z_q - z_e)), indices  # as the reference computes it (straight-through form)


class ResidualVectorQuantize(nn.Module):
    def __init__(self, dim: int, n_codebooks: int, codebook_size: int, codebook_dim: int) -> None:
        super().__init__()
        self.quantizers = nn.ModuleList(VectorQuantize(dim, codebook_size, codebook_dim) for _ in range(n_codebooks))

    def forward(self, z: torch.Tensor, n_quantizers: int | None = None) -> tuple[torch.Tensor, torch.Tensor]:
        """``[B, dim, N]`` -> the sum of the first ``n_quantizers`` stages and their codes ``[B, n, N]``."""
        quantized: torch.Tensor | float = 0.0
        residual, codes = z, []
        for quantizer in cast("list[VectorQuantize]", self.quantizers)[: n_quantizers or len(self.quantizers)]:
            stage, indices = quantizer(residual)
            quantized = quantized + stage
            residual = residual - stage
            codes.append(indices)
        return cast(torch.Tensor, quantized), torch.stack(codes, dim=1)

    def from_codes(self, codes: torch.Tensor) -> torch.Tensor:
        """codes ``[B, n, N]`` -> the sum of the first ``n`` stages' outputs."""
        out: torch.Tensor | float = 0.0
        for i, quantizer in enumerate(cast("list[VectorQuantize]", self.quantizers)[: codes.shape[1]]):
            out = out + quantizer.out_proj(quantizer.code_vectors(codes[:, i]))
        return cast(torch.Tensor, out)


class DAC(nn.Module):
    """The container of FlexiCodec's ``dac``: ``encoder``, ``quantizer``, ``decoder``."""

    def __init__(self, encoder_dim: int, encoder_rates: Sequence[int], latent_dim: int, decoder_dim: int,
                 decoder_rates: Sequence[int], n_codebooks: int, codebook_size: int, codebook_dim: int) -> None:
        super().__init__()
        self.hop_length = math.prod(encoder_rates)
        self.encoder = Encoder(encoder_dim, encoder_rates, latent_dim)
        self.quantizer = ResidualVectorQuantize(latent_dim, n_codebooks, codebook_size, codebook_dim)
        self.decoder = Decoder(latent_dim, decoder_dim, decoder_rates)

    def preprocess(self, audio: torch.Tensor) -> torch.Tensor:
        """Right-pad ``[B, 1, S]`` to a whole number of hops."""
        return F.pad(audio, (0, math.ceil(audio.shape[-1] / self.hop_length) * self.hop_length - audio.shape[-1]))
