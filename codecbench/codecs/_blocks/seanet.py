"""The EnCodec SEANet encoder (non-causal, weight-normed, reflect padding) with the official
module tree (``model.<i>.conv.conv.weight_g``, ``model.<i>.block.<j>``, ``model.<i>.lstm``), as
WavTokenizer embeds it. Strided convolutions pad so that ``ceil(T / hop)`` frames come out."""

from __future__ import annotations

import math
from collections.abc import Sequence

import torch
import torch.nn.functional as F
from torch import nn

from .weightnorm import WNConv1d


def _pad1d(x: torch.Tensor, left: int, right: int, mode: str) -> torch.Tensor:
    """``F.pad`` that also reflect-pads inputs shorter than the padding (zero-extends first)."""
    if mode != "reflect":
        return F.pad(x, (left, right), mode=mode)
    length, widest = x.shape[-1], max(left, right)
    extra = widest - length + 1 if length <= widest else 0
    x = F.pad(x, (0, extra))
    out = F.pad(x, (left, right), mode="reflect")
    return out[..., : out.shape[-1] - extra]


class _NormConv1d(nn.Module):
    """``conv.conv`` of the official tree (its ``norm`` is an Identity for weight_norm)."""

    def __init__(self, *args: int, **kwargs: int) -> None:
        super().__init__()
        self.conv = WNConv1d(*args, **kwargs)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.conv(x)


class SConv1d(nn.Module):
    """Conv1d with EnCodec's "same"-style padding: reflect, centred, extra right padding for whole frames."""

    def __init__(self, in_channels: int, out_channels: int, kernel_size: int, stride: int = 1,
                 dilation: int = 1, pad_mode: str = "reflect") -> None:
        super().__init__()
        self.conv = _NormConv1d(in_channels, out_channels, kernel_size, stride=stride, dilation=dilation)
        self.kernel = (kernel_size - 1) * dilation + 1
        self.stride, self.pad_mode = stride, pad_mode

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        total = self.kernel - self.stride
        frames = (x.shape[-1] - self.kernel + total) / self.stride + 1
        extra = (math.ceil(frames) - 1) * self.stride + (self.kernel - total) - x.shape[-1]
        right = total // 2
        return self.conv(_pad1d(x, total - right, right + extra, self.pad_mode))


class SLSTM(nn.Module):
    """A (time-major) LSTM over ``[B, C, T]`` with a skip connection."""

    def __init__(self, dim: int, num_layers: int = 2) -> None:
        super().__init__()
        self.lstm = nn.LSTM(dim, dim, num_layers)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = x.permute(2, 0, 1)
        y, _ = self.lstm(x)
        return (y + x).permute(1, 2, 0)


class SEANetResnetBlock(nn.Module):
    """ELU -> conv(k, dilation) to ``dim // compress`` -> ELU -> 1x1 conv, plus a 1x1-conv shortcut."""

    def __init__(self, dim: int, kernel_size: int = 3, dilation: int = 1, compress: int = 2) -> None:
        super().__init__()
        hidden = dim // compress
        self.block = nn.Sequential(nn.ELU(), SConv1d(dim, hidden, kernel_size, dilation=dilation),
                                   nn.ELU(), SConv1d(hidden, dim, 1))
        self.shortcut = SConv1d(dim, dim, 1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.shortcut(x) + self.block(x)


class SEANetEncoder(nn.Module):
    """Waveform ``[B, 1, T]`` -> ``[B, dimension, ceil(T / prod(ratios))]``.

    ``ratios`` are given in decoder order, as in EnCodec: the encoder downsamples by them reversed.
    """

    def __init__(self, ratios: Sequence[int] = (8, 5, 4, 2), dimension: int = 128, n_filters: int = 32,
                 n_residual_layers: int = 1, dilation_base: int = 2, lstm: int = 2, compress: int = 2,
                 kernel_size: int = 7, last_kernel_size: int = 7, residual_kernel_size: int = 3) -> None:
        super().__init__()
        self.hop_length = math.prod(ratios)
        mult = 1
        layers: list[nn.Module] = [SConv1d(1, n_filters, kernel_size)]
        for ratio in reversed(list(ratios)):
            dim = mult * n_filters
            layers += [SEANetResnetBlock(dim, residual_kernel_size, dilation_base ** j, compress)
                       for j in range(n_residual_layers)]
            layers += [nn.ELU(), SConv1d(dim, dim * 2, ratio * 2, stride=ratio)]
            mult *= 2
        if lstm:
            layers.append(SLSTM(mult * n_filters, lstm))
        layers += [nn.ELU(), SConv1d(mult * n_filters, dimension, last_kernel_size)]
        self.model = nn.Sequential(*layers)

    def forward(self, wav: torch.Tensor) -> torch.Tensor:
        return self.model(wav)
