"""Weight-normalised layers whose state_dict keys match ``torch.nn.utils.weight_norm``
(``weight_g`` / ``weight_v``), the form official checkpoints of BigCodec, WavTokenizer, DAC and
SpeechTokenizer were saved in, without the deprecated hook."""

from __future__ import annotations

from typing import Any, cast

import torch
import torch.nn.functional as F
from torch import nn


def _norm_except_first(v: torch.Tensor) -> torch.Tensor:
    """The norm over every dimension but the first, shaped to broadcast (weight_norm, dim=0)."""
    return v.flatten(1).norm(dim=1).view(-1, *([1] * (v.dim() - 1)))


class _WeightNorm:
    """Replace ``self.weight`` by the parameters ``weight_g`` [C, 1, ...] and ``weight_v``."""

    weight: torch.Tensor  # the layer's, until split

    def _split_weight(self) -> None:
        weight = self.weight.detach()
        del self.weight
        self.weight_g = nn.Parameter(_norm_except_first(weight))
        self.weight_v = nn.Parameter(weight.clone())

    @property
    def normed_weight(self) -> torch.Tensor:
        """``g * v / ||v||``."""
        return self.weight_v * (self.weight_g / _norm_except_first(self.weight_v))


class WNConv1d(_WeightNorm, nn.Conv1d):
    """``weight_norm(nn.Conv1d(...))``."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._split_weight()

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self._conv_forward(x, self.normed_weight, self.bias)


class WNConvTranspose1d(_WeightNorm, nn.ConvTranspose1d):
    """``weight_norm(nn.ConvTranspose1d(...))`` (norm over input channels, as dim=0 gives)."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._split_weight()

    def forward(self, x: torch.Tensor) -> torch.Tensor:  # type: ignore[override]
        padding = cast(tuple[int, ...], self.padding)  # a transposed conv's padding is never a string
        return F.conv_transpose1d(x, self.normed_weight, self.bias, self.stride, padding,
                                  self.output_padding, self.groups, self.dilation)


class WNLinear(_WeightNorm, nn.Linear):
    """``weight_norm(nn.Linear(...))``."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._split_weight()

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return F.linear(x, self.normed_weight, self.bias)


def legacy_weight_norm_keys(state: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
    """Rename ``parametrizations.weight.original0/1`` (the newer weight_norm) to ``weight_g/_v``."""
    out = {}
    for key, value in state.items():
        key = key.replace("parametrizations.weight.original0", "weight_g")
        out[key.replace("parametrizations.weight.original1", "weight_v")] = value
    return out
