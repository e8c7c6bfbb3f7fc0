"""FocalCodec as a harness codec: one 2^d-way token per frame, kNN-VC features, embeddings.

Weights: ``checkpoint=`` (local folder or Hub id) or ``BENCH_ASSET_FOCALCODEC_<RATE>``
(e.g. ``BENCH_ASSET_FOCALCODEC_50HZ``). Without one, the real architecture runs with seeded
random weights and every row is flagged.
"""

from __future__ import annotations

import dataclasses
import logging
import math
import os
from functools import partial

import torch

from bench.codec import Capabilities, GroupedCodec, Tokens, map_length_groups

from .._blocks.codec_model import WavLMFeaturesPlugin
from .model import FocalCodec
from .presets import HUB_IDS, preset

log = logging.getLogger(__name__)


def env_var(name: str) -> str:
    return "BENCH_ASSET_FOCALCODEC_" + name.upper().replace(".", "_").replace("-", "_")


class FocalCodecCodec(WavLMFeaturesPlugin, GroupedCodec):
    """FocalCodec: 50 / 25 / 12.5 Hz x 8192 codes; streaming variants 50 Hz x 65536 / 4096 / 2048, 24 kHz out."""

    capabilities = Capabilities(has_features=True, has_embeddings=True)

    def __init__(self, variant: str = "50hz", checkpoint: str | None = None, size: str = "default") -> None:
        super().__init__()
        checkpoint = checkpoint or os.environ.get(env_var(variant))
        if checkpoint:
            self.model = FocalCodec.from_pretrained(checkpoint)
            random_weights = False
        else:
            log.warning("FocalCodec %s: no checkpoint (checkpoint= or %s; official: %s); using RANDOM weights",
                        variant, env_var(variant), HUB_IDS.get(variant))
            self.model = FocalCodec(**preset(variant, size))
            random_weights = True
        self.model.eval()
        self.variant = variant
        self.sample_rate = self.model.sample_rate_input
        self.output_sample_rate = self.model.sample_rate_output
        self.codebook_sizes = [self.model.quantizer.codebook_size]
        self.frames_per_token = math.prod(self.model.compressor.downscale_factors)
        self.nominal_frame_rate = 50.0 / self.frames_per_token
        self.nominal_bitrate = self.nominal_frame_rate * self.model.quantizer.dim
        self.capabilities = dataclasses.replace(type(self).capabilities, random_weights=random_weights)
        self._id = checkpoint or f"random:{variant}:{size}:seed={torch.initial_seed()}"

    def _encode(self, wav: torch.Tensor) -> torch.Tensor:
        return self.model.sig_to_toks(wav)[..., None]

    def _decode(self, codes: torch.Tensor) -> torch.Tensor:
        return self.model.toks_to_sig(codes[..., 0])

    def features(self, tokens: Tokens) -> torch.Tensor:
        return map_length_groups(lambda codes: self.model.toks_to_qfeats(codes[..., 0].to(self._device())),
                                 tokens.codes, tokens.lengths)[0]

    def embeddings(self) -> list[torch.Tensor]:
        """The BSQ codebook ``[2^d, d]`` (rows = bits of the token, MSB first, as +-1/sqrt(d))."""
        return [self.model.codebook]

    def cache_id(self) -> str:
        return f"focalcodec:{self._id}"


def register() -> None:
    from bench.registry import CODECS

    for name in ("50hz", "25hz", "12.5hz", "50hz-65k-causal", "50hz-4k-causal", "50hz-2k-causal"):
        CODECS.register(f"focalcodec-{name}", partial(FocalCodecCodec, variant=name))
