"""FocalCodec as a harness codec: one 2^d-way token per frame, kNN-VC features, embeddings.

Weights: asset ``focalcodec-<variant>`` (``checkpoint=``: a local folder or Hub id; or
``CODECBENCH_ASSET_FOCALCODEC_<VARIANT>``, e.g. ``CODECBENCH_ASSET_FOCALCODEC_50HZ``; config ``assets:``). Without one,
the real architecture runs with seeded
random weights and every row is flagged.
"""

from __future__ import annotations

import math

import torch

from codecbench.api import Asset, Capabilities, GroupedCodec, Tokens, map_length_groups, register_codec

from .._blocks.codec_model import WavLMFeaturesPlugin
from .model import FocalCodec
from .presets import HUB_IDS, preset

VARIANTS = {"focalcodec-50hz": {"variant": "50hz"}, "focalcodec-25hz": {"variant": "25hz"},
            "focalcodec-12.5hz": {"variant": "12.5hz"}, "focalcodec-50hz-65k-causal": {"variant": "50hz-65k-causal"},
            "focalcodec-50hz-4k-causal": {"variant": "50hz-4k-causal"},
            "focalcodec-50hz-2k-causal": {"variant": "50hz-2k-causal"}}


@register_codec(VARIANTS)
class FocalCodecCodec(WavLMFeaturesPlugin, GroupedCodec):
    """FocalCodec: 50 / 25 / 12.5 Hz x 8192 codes; streaming variants 50 Hz x 65536 / 4096 / 2048, 24 kHz out."""

    families = {"focalcodec-50hz": "focalcodec", "focalcodec-25hz": "focalcodec", "focalcodec-12.5hz": "focalcodec"}

    model: FocalCodec
    capabilities = Capabilities(has_features=True, has_embeddings=True)
    assets = tuple(Asset(f"focalcodec-{v}", f"FocalCodec {v} (config.json + model.safetensors)", hub, hub_id=hub,
                         files=("config.json",), licence="Apache-2.0") for v, hub in HUB_IDS.items())
    test_params = {"size": "tiny"}

    @classmethod
    def variant_assets(cls, params: dict) -> tuple[Asset, ...]:
        """The checkpoint of this variant only."""
        return tuple(a for a in cls.assets if a.name == f"focalcodec-{params.get('variant', '50hz')}")

    def __init__(self, variant: str = "50hz", checkpoint: str | None = None, size: str = "default") -> None:
        super().__init__()
        found = self.resolve_weights(f"focalcodec-{variant}", checkpoint)
        if found.location is not None:
            self.model = FocalCodec.from_pretrained(found.location)
        else:
            self.model = FocalCodec(**preset(variant, size))
        self.model.eval()
        self.variant = variant
        self.sample_rate = self.model.sample_rate_input
        self.output_sample_rate = self.model.sample_rate_output
        self.codebook_sizes = [self.model.quantizer.codebook_size]
        self.frames_per_token = math.prod(self.model.compressor.downscale_factors)
        self.nominal_frame_rate = 50.0 / self.frames_per_token
        self.nominal_bitrate = self.nominal_frame_rate * self.model.quantizer.dim
        self._id = self.weights_id + ("" if found.location else f":{size}")

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

