"""DAC 16 kHz with 2 of 12 codebooks (1 kbps), through transformers' DacModel."""

from __future__ import annotations

from typing import Annotated, Any

import torch

from bench.assets import Asset
from bench.options import Range
from bench.registry import register_codec

from ._hf import HFCodec

PLUGIN_EXTRA = "paper"


@register_codec("dac-16khz-2cb")
class DAC16kHz(HFCodec):
    """Descript Audio Codec (descript/dac_16khz), 50 Hz, first 2 codebooks x 1024."""

    assets = (Asset("dac-16khz-2cb", "DAC 16 kHz (transformers DacModel weights)", "descript/dac_16khz",
                    hub_id="descript/dac_16khz", licence="MIT"),)
    model_class = "DacModel"
    sample_rate = output_sample_rate = 16000
    nominal_frame_rate = 50.0

    def __init__(self, checkpoint: str | None = None, n_quantizers: Annotated[int, Range(1, 12)] = 2) -> None:
        super().__init__("dac-16khz-2cb", checkpoint)
        self.n_quantizers = n_quantizers
        self.codebook_sizes = [1024] * n_quantizers
        self.nominal_bitrate = 50.0 * 10 * n_quantizers

    def make_config(self, transformers: Any) -> Any:
        return transformers.DacConfig(encoder_hidden_size=64, downsampling_ratios=[2, 4, 5, 8],
                                      decoder_hidden_size=1536, upsampling_ratios=[8, 5, 4, 2], n_codebooks=12,
                                      codebook_size=1024, codebook_dim=8, sampling_rate=16000, hop_length=320)

    def _encode(self, wav: torch.Tensor) -> torch.Tensor:
        return self.model.encode(wav[:, None], n_quantizers=self.n_quantizers).audio_codes.transpose(1, 2)

    def _decode(self, codes: torch.Tensor) -> torch.Tensor:
        return self.model.decode(audio_codes=codes.transpose(1, 2)).audio_values

    def embeddings(self) -> list[torch.Tensor]:
        """Post-projection code vectors (as the paper's harness): out_proj(codebook) per stream."""
        tables = []
        for q in self.model.quantizer.quantizers[: self.n_quantizers]:
            codebook = q.codebook.weight.detach()
            tables.append(q.out_proj(codebook[..., None]).squeeze(-1).detach())
        return tables
