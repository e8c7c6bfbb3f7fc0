"""Mimi (kyutai) with 5 of 32 codebooks x 2048 at 12.5 Hz, through transformers' MimiModel."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any

import torch

from codecbench.api import Asset, Check, Range, register_codec, register_parity

from ._hf import HFCodec

PLUGIN_EXTRA = "paper"


@register_codec("mimi-5cb")
class Mimi(HFCodec):
    """Mimi (kyutai/mimi), 24 kHz, 12.5 Hz, 5 codebooks (the first one semantic)."""

    assets = (Asset("mimi-5cb", "Mimi (transformers MimiModel weights)", "kyutai/mimi",
                    hub_id="kyutai/mimi", licence="CC-BY-4.0"),)
    model_class = "MimiModel"
    sample_rate = output_sample_rate = 24000
    nominal_frame_rate = 12.5

    def __init__(self, checkpoint: str | None = None, num_quantizers: Annotated[int, Range(1, 32)] = 5) -> None:
        super().__init__("mimi-5cb", checkpoint)
        self.num_quantizers = num_quantizers
        self.codebook_sizes = [2048] * num_quantizers
        self.nominal_bitrate = 12.5 * 11 * num_quantizers

    def make_config(self, transformers: Any) -> Any:
        return transformers.MimiConfig()

    def _encode(self, wav: torch.Tensor) -> torch.Tensor:
        return self.model.encode(wav[:, None], num_quantizers=self.num_quantizers).audio_codes.transpose(1, 2)

    def _decode(self, codes: torch.Tensor) -> torch.Tensor:
        return self.model.decode(codes.transpose(1, 2)).audio_values[:, 0]

    def embeddings(self) -> list[torch.Tensor]:
        q = self.model.quantizer
        layers = list(q.semantic_residual_vector_quantizer.layers) + list(q.acoustic_residual_vector_quantizer.layers)
        return [layer.codebook.embed.detach().clone() for layer in layers[: self.num_quantizers]]


@register_parity("mimi")
def check_folder(folder: str | Path) -> list[Check]:
    """``codecbench parity mimi DIR``: fixtures of transformers 4.46.3's Mimi (the authors' version) replayed."""
    return Mimi.replay_parity(folder)
