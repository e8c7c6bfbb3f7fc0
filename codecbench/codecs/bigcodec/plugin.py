"""BigCodec as a harness codec: one 8192-way token per 200 samples (80 Hz, 1.04 kbps at 16 kHz).

Weights: asset ``bigcodec`` (``checkpoint=``: ``bigcodec.pt``, a folder holding it, or the Hub id
``Alethia/BigCodec``; or ``CODECBENCH_ASSET_BIGCODEC``, config ``assets:``). Without one the real architecture
runs with seeded random weights
and every row is flagged. Inputs go in unpadded (``padding: none``), as the authors' ``audiocodecs/bigcodec.py``
encodes them (what made the paper's numbers): the strided encoder keeps ``floor(T / 200)`` frames.
``padding: frames`` zero-pads to a whole number of frames; ``official`` pads ``200 - T % 200`` samples as BigCodec's
``inference.py`` (one extra frame when T is already a multiple). ``codecbench parity bigcodec`` replays fixtures of the
authors' fork (``scripts/baseline_record_fixtures.py``).
"""

from __future__ import annotations

from typing import Literal

import torch
import torch.nn.functional as F

from codecbench.api import Asset, register_codec

from .._blocks.checkpoint import fetch_file
from .._blocks.latent_codec import LatentVQCodec
from .model import BigCodec

HUB_ID = "Alethia/BigCodec"


@register_codec("bigcodec")
class BigCodecCodec(LatentVQCodec):
    """BigCodec (Alethia/BigCodec): 16 kHz, 80 Hz, 1 codebook x 8192 (factorized 8-d VQ); kNN-VC on latents."""

    sample_rate = output_sample_rate = 16000
    nominal_frame_rate = 80.0
    codebook_sizes = [8192]
    nominal_bitrate = 80.0 * 13
    assets = (Asset("bigcodec", "BigCodec generator + encoder (bigcodec.pt)", f"{HUB_ID} (bigcodec.pt)",
                    hub_id=HUB_ID, licence="MIT", size="0.6 GB"),)

    min_samples = 200  # one frame

    def __init__(self, checkpoint: str | None = None, padding: Literal["none", "frames", "official"] = "none",
                 model: BigCodec | None = None) -> None:
        """``model``: an in-memory model (parity replays) instead of the asset's weights."""
        super().__init__()
        self.padding = padding
        if model is None:
            found = self.resolve_weights("bigcodec", checkpoint)
            model = BigCodec()
            if found.location is not None:
                path = fetch_file(found.location, "bigcodec.pt", "bigcodec")
                model.load_official(torch.load(path, map_location="cpu", weights_only=True))
        self.model = model.eval()
        self.hop = self.model.hop_length
        self._id = self.weights_id

    def _prepare(self, wav: torch.Tensor) -> torch.Tensor:
        """The signal as the encoder gets it (:attr:`padding`)."""
        if self.padding == "frames":
            return F.pad(wav, (0, -wav.shape[-1] % self.hop))
        if self.padding == "official":
            return F.pad(wav, (0, self.hop - wav.shape[-1] % self.hop))
        return wav

    def embeddings(self) -> list[torch.Tensor]:
        """The raw 8-d code vectors ``[8192, 8]`` (the paper's probe / TTS embedding width)."""
        return [layer._codebook.weight.detach().clone() for layer in self.model.decoder.quantizer.layers]

    cache_id_complete = True  # cache_id names the weights and every setting the tokens depend on

    def cache_id(self) -> str:
        return f"bigcodec:{self._id}:padding={self.padding}"
