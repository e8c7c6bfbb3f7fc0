"""EnCodec 24 kHz at 1.5 kbps (2 of 32 RVQ codebooks x 1024), through transformers' EncodecModel."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any

import torch

from codecbench.api import Asset, Check, Range, register_codec, register_parity

from ._hf import HFCodec

PLUGIN_EXTRA = "paper"


@register_codec("encodec-24khz-1.5kbps")
class EnCodec24kHz(HFCodec):
    """EnCodec (facebook/encodec_24khz), 75 Hz, first 2 codebooks (bandwidth 1.5 kbps)."""

    assets = (Asset("encodec-24khz-1.5kbps", "EnCodec 24 kHz (transformers EncodecModel weights)",
                    "facebook/encodec_24khz",
                    hub_id="facebook/encodec_24khz", licence="CC-BY-NC-4.0"),)
    model_class = "EncodecModel"
    sample_rate = output_sample_rate = 24000
    codebook_sizes = [1024, 1024]
    nominal_frame_rate = 75.0
    nominal_bitrate = 1500.0

    def __init__(self, checkpoint: str | None = None, bandwidth: Annotated[float, Range(1.5, 24.0)] = 1.5) -> None:
        super().__init__("encodec-24khz-1.5kbps", checkpoint)
        self.bandwidth = bandwidth
        streams = int(round(bandwidth * 1000 / (75 * 10)))
        self.codebook_sizes = [1024] * streams
        self.nominal_bitrate = bandwidth * 1000

    def make_config(self, transformers: Any) -> Any:
        return transformers.EncodecConfig()

    def _encode(self, wav: torch.Tensor) -> torch.Tensor:
        out = self.model.encode(wav[:, None], bandwidth=self.bandwidth)
        return out.audio_codes[0].transpose(1, 2)  # [chunks=1, B, K, N] -> [B, N, K]

    def _decode(self, codes: torch.Tensor) -> torch.Tensor:
        return self.model.decode(codes.transpose(1, 2)[None], [None]).audio_values[:, 0]

    def latent(self, wav: torch.Tensor) -> torch.Tensor:
        return self.model.encoder(wav[None, None].to(self._device()))[0].T

    def embeddings(self) -> list[torch.Tensor]:
        layers = self.model.quantizer.layers[: len(self.codebook_sizes)]
        return [layer.codebook.embed.detach().clone() for layer in layers]


@register_parity("encodec")
def check_folder(folder: str | Path) -> list[Check]:
    """``codecbench parity encodec DIR``: fixtures of transformers 4.46.3's EnCodec (the authors' version) replayed."""
    return EnCodec24kHz.replay_parity(folder)
