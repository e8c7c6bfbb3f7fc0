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

from bench.codec import Capabilities, Codec, Tokens, length_groups, map_length_groups

from .._blocks.codec_model import WavLMFeaturesPlugin
from .model import FocalCodec
from .presets import HUB_IDS, preset

log = logging.getLogger(__name__)


def env_var(name: str) -> str:
    return "BENCH_ASSET_FOCALCODEC_" + name.upper().replace(".", "_").replace("-", "_")


class FocalCodecCodec(WavLMFeaturesPlugin, Codec):
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

    def encode(self, wav: torch.Tensor, lengths: torch.Tensor) -> Tokens:
        """Equal-length groups run unpadded, so an item's tokens never depend on its batch."""
        items: list[Tokens | None] = [None] * wav.shape[0]
        for group in length_groups(lengths):
            n = int(lengths[group[0]])
            toks = self.model.sig_to_toks(wav[group, :n])
            for j, i in enumerate(group):
                items[i] = Tokens(codes=toks[j:j + 1, :, None].cpu(), lengths=torch.tensor([toks.shape[1]]),
                                  num_samples=torch.tensor([n]))
        return Tokens.collate([t for t in items if t is not None])

    def _per_group(self, tokens: Tokens, fn) -> tuple[torch.Tensor, torch.Tensor]:
        device = self.model.quantizer.mask.device
        return map_length_groups(lambda codes: fn(codes[..., 0].to(device)), tokens.codes, tokens.lengths)

    def features(self, tokens: Tokens) -> torch.Tensor:
        feats, _ = self._per_group(tokens, self.model.toks_to_qfeats)
        return feats

    def decode(self, tokens: Tokens) -> tuple[torch.Tensor, torch.Tensor]:
        return self._per_group(tokens, self.model.toks_to_sig)

    def embeddings(self) -> list[torch.Tensor]:
        """The BSQ codebook ``[2^d, d]`` (rows = bits of the token, MSB first, as +-1/sqrt(d))."""
        return [self.model.codebook]

    def cache_id(self) -> str:
        return f"focalcodec:{self._id}"


def register() -> None:
    from bench.registry import CODECS

    for name in ("50hz", "25hz", "12.5hz", "50hz-65k-causal", "50hz-4k-causal", "50hz-2k-causal"):
        CODECS.register(f"focalcodec-{name}", partial(FocalCodecCodec, variant=name))
