"""Model configurations: the inferred official default and a tiny one for tests and smoke runs."""

from __future__ import annotations

import copy
from typing import Any

_FOCAL = {"focal_window": 14, "focal_level": 2, "focal_factor": 4, "dropout": 0.0, "use_post_norm": False,
          "use_layerscale": False, "layerscale_init": 1e-4, "normalize_modulator": False}

#: The official model as inferred in the reference spec (section 2.3): 268.82 M parameters without
#: the retriever, 351.00 M with a default-size one. Confirm against a real config.json when available.
DEFAULT_CONFIG: dict[str, Any] = {
    "encoder_name": "WavLM",
    "encoder_config": {"hidden_dims": [512] * 7, "kernel_sizes": [10, 3, 3, 3, 3, 2, 2],
                       "strides": [5, 2, 2, 2, 2, 2, 2], "num_layers": 6, "dim": 1024, "ffn_dim": 4096,
                       "num_heads": 16, "num_buckets": 320, "max_distance": 800, "dropout": 0.0,
                       "conv_pos": 128, "conv_pos_groups": 16},
    "compressor_name": "FocalEncoder",
    "compressor_config": {"input_dim": 1024, "output_dim": 32, "hidden_dims": [1024] * 3,
                          "downscale_factors": [1, 1, 1], **_FOCAL},
    "boundary_predictor_name": "HazardModel",
    "boundary_predictor_config": {"input_dim": 1024, "hidden_dims": [1024] * 3, "downscale_factors": [1, 1, 1],
                                  **_FOCAL},
    "downsampler_name": "SelectLastPool", "downsampler_config": {},
    "quantizer_name": "ScalarSphericalQuantizer", "quantizer_config": {"dim": 32, "n_levels": 4},
    "duration_predictor_name": "NegBinModel",
    "duration_predictor_config": {"input_dim": 32, "hidden_dims": [1024] * 3, "downscale_factors": [1, 1, 1],
                                  "min_duration": 1, "eps": 1e-4, **_FOCAL},
    "upsampler_name": "RepeatInterleaveUnpool", "upsampler_config": {},
    "decompressor_name": "FocalDecoder",
    "decompressor_config": {"input_dim": 32, "output_dim": 1024, "hidden_dims": [1024] * 3,
                            "upscale_factors": [1, 1, 1], **_FOCAL},
    "decoder_name": "Vocos",
    "decoder_config": {"input_dim": 1024, "num_layers": 8, "dim": 512, "ffn_dim": 1536, "kernel_size": 7,
                       "n_fft": 1024, "hop_length": 320},
    "char_aligner_name": None,
    "retriever_name": "LatentIVF",
    "retriever_config": {"input_dim": 1024, "latent_dim": 32, "hidden_dims": [1024] * 3,
                         "downscale_factors": [1, 1, 1], "nlist": 4096, "nprobe": 16, **_FOCAL},
}


def _tiny() -> dict[str, Any]:
    cfg = copy.deepcopy(DEFAULT_CONFIG)
    cfg["encoder_config"].update(hidden_dims=[16] * 7, num_layers=2, dim=32, ffn_dim=64, num_heads=4,
                                 max_cached_steps=512)
    for slot in ("compressor", "boundary_predictor", "duration_predictor", "decompressor", "retriever"):
        cfg[f"{slot}_config"]["hidden_dims"] = [16, 16, 16]
    cfg["compressor_config"].update(input_dim=32, output_dim=8)
    cfg["boundary_predictor_config"]["input_dim"] = 32
    cfg["quantizer_config"]["dim"] = 8
    cfg["duration_predictor_config"]["input_dim"] = 8
    cfg["decompressor_config"].update(input_dim=8, output_dim=32)
    cfg["decoder_config"].update(input_dim=32, num_layers=2, dim=16, ffn_dim=48)
    cfg["retriever_config"].update(input_dim=32, latent_dim=8, nlist=4, nprobe=2)
    return cfg


#: Same architecture, tiny widths (about 0.2 M parameters): tests and CPU smoke runs.
TINY_CONFIG: dict[str, Any] = _tiny()
PRESETS = {"default": DEFAULT_CONFIG, "tiny": TINY_CONFIG}


def preset(name: str, retriever: bool = True) -> dict[str, Any]:
    if name not in PRESETS:
        raise ValueError(f"unknown DyCAST preset {name!r}; choose from {sorted(PRESETS)}")
    cfg = copy.deepcopy(PRESETS[name])
    if not retriever:
        cfg["retriever_name"] = None
        cfg.pop("retriever_config", None)
    return cfg
