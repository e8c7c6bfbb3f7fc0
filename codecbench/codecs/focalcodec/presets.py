"""FocalCodec configurations: the 50 Hz model as inferred from the v0.0.1 defaults (142,126,257
parameters, the paper's 142M), the lower-rate models (downscale placement unverified), and the
streaming (causal) code defaults."""

from __future__ import annotations

import copy
from typing import Any

_ENCODER = {"hidden_dims": [512] * 7, "kernel_sizes": [10, 3, 3, 3, 3, 2, 2], "strides": [5, 2, 2, 2, 2, 2, 2],
            "num_layers": 6, "dim": 1024, "ffn_dim": 4096, "num_heads": 16, "num_buckets": 320,
            "max_distance": 800, "dropout": 0.0, "conv_pos": 128, "conv_pos_groups": 16}
_FOCAL_50HZ = {"focal_window": 7, "focal_level": 2, "focal_factor": 2, "dropout": 0.0, "use_post_norm": False,
               "use_layerscale": False, "normalize_modulator": False}
_VOCOS = {"input_dim": 1024, "num_layers": 8, "dim": 512, "ffn_dim": 1536, "kernel_size": 7, "n_fft": 1024,
          "hop_length": 320}


def _non_causal(factors: list[int]) -> dict[str, Any]:
    return {
        "encoder_name": "WavLM", "encoder_config": dict(_ENCODER),
        "compressor_name": "FocalEncoder",
        "compressor_config": {"input_dim": 1024, "output_dim": 13, "hidden_dims": [1024, 512, 256],
                              "downscale_factors": list(factors), **_FOCAL_50HZ},
        "quantizer_name": "BinarySphericalQuantizer", "quantizer_config": {"codebook_size": 8192},
        "decompressor_name": "FocalDecoder",
        "decompressor_config": {"input_dim": 13, "output_dim": 1024, "hidden_dims": [256, 512, 1024],
                                "upscale_factors": list(reversed(factors)), **_FOCAL_50HZ},
        "decoder_name": "Vocos", "decoder_config": dict(_VOCOS),
    }


def _causal(codebook_size: int) -> dict[str, Any]:
    bits = codebook_size.bit_length() - 1
    return {
        "encoder_name": "WavLM", "encoder_config": {**_ENCODER, "causal": True},
        "compressor_name": "FocalEncoder", "compressor_config": {"output_dim": bits, "causal": True},
        "quantizer_name": "BinarySphericalQuantizer", "quantizer_config": {"codebook_size": codebook_size},
        "decompressor_name": "FocalDecoder", "decompressor_config": {"input_dim": bits, "causal": True},
        "decoder_name": "WaveNeXt", "decoder_config": {"causal": True},
    }


PRESETS: dict[str, dict[str, Any]] = {
    "50hz": _non_causal([1, 1, 1]),
    "25hz": _non_causal([1, 1, 2]),  # placement of the factor not published: see the spec, section 6.2
    "12.5hz": _non_causal([1, 2, 2]),
    "50hz-65k-causal": _causal(65536),
    "50hz-4k-causal": _causal(4096),
    "50hz-2k-causal": _causal(2048),
}
HUB_IDS = {"50hz": "lucadellalib/focalcodec_50hz", "25hz": "lucadellalib/focalcodec_25hz",
           "12.5hz": "lucadellalib/focalcodec_12_5hz", "50hz-65k-causal": "lucadellalib/focalcodec_50hz_65k_causal",
           "50hz-4k-causal": "lucadellalib/focalcodec_50hz_4k_causal",
           "50hz-2k-causal": "lucadellalib/focalcodec_50hz_2k_causal"}


def tiny(config: dict[str, Any]) -> dict[str, Any]:
    """The same architecture with tiny widths (tests, smoke runs)."""
    cfg = copy.deepcopy(config)
    cfg["encoder_config"].update(hidden_dims=[16] * 7, num_layers=2, dim=32, ffn_dim=64, num_heads=4,
                                 max_cached_steps=512)
    cfg["compressor_config"].update(input_dim=32, hidden_dims=[32, 24, 16])
    cfg["decompressor_config"].update(output_dim=32, hidden_dims=[16, 24, 32])
    cfg["decoder_config"].update(input_dim=32, num_layers=2, dim=16, ffn_dim=48)
    return cfg


def preset(name: str, size: str = "default") -> dict[str, Any]:
    if name not in PRESETS:
        raise ValueError(f"unknown FocalCodec preset {name!r}; choose from {sorted(PRESETS)}")
    cfg = copy.deepcopy(PRESETS[name])
    return tiny(cfg) if size == "tiny" else cfg
