"""FlexiCodec model sizes: the released one (``12hz_v1_half_config.yaml`` = the package's ``conf/model_config.yaml``,
SenseVoice-Small's own configuration) and a tiny one of the same architecture (the parity fixtures' size) for
tests and offline smoke runs."""

from __future__ import annotations

from typing import Any

#: the ``model:`` section of the released config (its keys the official constructor takes)
RELEASED: dict[str, Any] = {
    "sample_rate": 16000, "encoder_dim": 32, "encoder_rates": [4, 4, 5, 8, 2], "decoder_rates": [2, 8, 5, 4, 4],
    "n_codebooks": 24, "quantizer_dropout": 1.0, "codebook_size": 4096, "semantic_codebook_size": 32768,
    "is_causal": False, "use_similarity_alignment": True, "similarity_threshold": 0.91,
    "semantic_downsample_factor": 1.33333, "skip_normalize": True, "semantic_model_type": "sensevoice",
    "latent_dim": 512, "ssl_dim": 512, "use_bottleneck_transformer": True, "transformer_num_layers": 32,
    "transformer_dim_feedforward": 2048, "transformer_num_heads": 8, "transformer_causal": False,
    "transformer_context_frames": 16, "max_tokens_per_group": 8, "semantic_model_path": None,
    "use_query_token_aggregator": True, "use_dynamic_similarity_threshold": True,
    "similarity_threshold_lower": 0.8, "similarity_threshold_upper": 1.0,
}
#: SenseVoice-Small (FunAudioLLM/SenseVoiceSmall ``config.yaml``): 50 SAN-M blocks + 20 more, 512 wide
SENSEVOICE_SMALL: dict[str, Any] = {"input_size": 560, "vocab_size": 25055, "encoder_conf": {
    "output_size": 512, "attention_heads": 4, "linear_units": 2048, "num_blocks": 50, "tp_blocks": 20,
    "kernel_size": 11}}
#: the parity fixtures' size (scripts/flexicodec_record_fixtures.py): every switch of the released model
TINY: dict[str, Any] = {**RELEASED, "encoder_dim": 8, "decoder_dim": 32, "latent_dim": 64, "transformer_num_layers": 2,
                        "transformer_dim": 64, "transformer_dim_feedforward": 128, "transformer_num_heads": 4,
                        "agg_transformer_num_layers": 1, "agg_transformer_dim": 64, "agg_transformer_num_heads": 4,
                        "agg_transformer_dim_feedforward": 128, "convnext_dim": 64, "convnext_layers": 2}
SENSEVOICE_TINY: dict[str, Any] = {"input_size": 560, "vocab_size": 64, "encoder_conf": {
    "output_size": 512, "attention_heads": 4, "linear_units": 256, "num_blocks": 3, "tp_blocks": 1,
    "kernel_size": 11}}
PRESETS = {"released": (RELEASED, SENSEVOICE_SMALL), "tiny": (TINY, SENSEVOICE_TINY)}
