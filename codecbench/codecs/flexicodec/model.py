"""FlexiCodec (Li et al., 2025; amphionspace/FlexiCodec, PyPI ``flexicodec`` 0.1.2): an in-tree model whose state
dict keys match the official ``FlexiCodec`` module (``semantic_model.*`` SenseVoice-Small, ``dac.*``,
``convnext_encoder.*``, ``semantic_vq.fsq.*``, ``convnext_decoder.*``, ``semantic_aggregator.*``,
``acoustic_aggregator.*``, ``bottleneck_transformer.*``).

Encoding: SenseVoice's hidden states (16.7 Hz) are resampled to the DAC latent's 12.5 Hz; consecutive frames whose
cosine similarity is above the merging threshold join one group (at most ``max_tokens_per_group`` frames); query-
token aggregators give one semantic and one acoustic vector per group; the semantic one is FSQ-quantised (RVQ-1:
32,768 codes) and decoded, and the acoustic residual (acoustic minus decoded semantic) is RVQ-quantised (up to 23
layers of 4,096). Each token carries its group's length. Decoding repeats each token by its length, sums both
streams, runs the bottleneck transformer and the DAC decoder (16 kHz)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, cast

import torch
import torch.nn.functional as F
from torch import nn

from .._blocks.weightnorm import WNConv1d
from .dac import DAC
from .fsq import FSQWrapper
from .sensevoice import SenseVoiceSmall
from .transformer import ProjectedTransformer, QueryTokenAggregator


class ConvNeXtBlock(nn.Module):
    """Depthwise conv (k=7) -> LayerNorm -> MLP with GELU, plus the input; ``[B, C, T]``."""

    def __init__(self, dim: int, hidden: int = 2048) -> None:
        super().__init__()
        self.dwconv = nn.Conv1d(dim, dim, 7, padding=3, groups=dim)
        self.norm = nn.LayerNorm(dim, eps=1e-6)
        self.pwconv1, self.pwconv2 = nn.Linear(dim, hidden), nn.Linear(hidden, dim)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        y = self.norm(self.dwconv(x).transpose(1, 2))
        return x + self.pwconv2(F.gelu(self.pwconv1(y))).transpose(1, 2)


@dataclass
class Encoded:
    """One batch's tokens: ``semantic [B, 1, G]``, ``acoustic [B, n, G]`` (n = quantizers - 1), ``lengths [B, G]``
    (frames of 12.5 Hz each token stands for; 0 after an item's last group), ``groups [B]``, and the continuous
    ``decoder_latent [B, D, G]`` and frame ``similarity [B, T - 1]`` (for parity and inspection)."""

    semantic: torch.Tensor
    acoustic: torch.Tensor
    lengths: torch.Tensor
    groups: torch.Tensor
    alignment: torch.Tensor
    decoder_latent: torch.Tensor
    similarity: torch.Tensor


def similarity_groups(hidden: torch.Tensor, threshold: float, max_group: int | None
                      ) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """``hidden [B, T, D]`` -> ``alignment [B, G, T]`` (1: the frame is in the group), the consecutive frames'
    cosine similarity ``[B, T - 1]`` and the groups per item ``[B]``: a new group starts where the similarity is at
    most ``threshold``, and after every ``max_group`` frames of one group."""
    b, t, _ = hidden.shape
    if t <= 1:
        return (torch.ones(b, 1, t, dtype=hidden.dtype), torch.ones(b, max(t - 1, 0), dtype=hidden.dtype),
                torch.ones(b, dtype=torch.long))
    sim = F.cosine_similarity(hidden[:, :-1], hidden[:, 1:], dim=2)
    starts = torch.cat([torch.ones(b, 1, dtype=torch.bool), sim <= threshold], dim=1)
    if max_group is not None:
        index = torch.arange(t).unsqueeze(0)
        start_of_run = torch.cummax(index * starts.long(), dim=1).values
        starts = ((index - start_of_run) % max_group) == 0
    group_of = torch.cumsum(starts.long(), dim=1) - 1
    groups = group_of.max(dim=1).values + 1
    alignment = torch.zeros(b, int(groups.max()), t, dtype=torch.bool)
    alignment[torch.arange(b).unsqueeze(1).expand(b, t), group_of, torch.arange(t).unsqueeze(0).expand(b, t)] = True
    return alignment.to(hidden.dtype), sim, groups


def expand_groups(grouped: torch.Tensor, lengths: torch.Tensor) -> torch.Tensor:
    """``[B, D, G]`` tokens repeated by ``lengths [B, G]`` -> ``[B, D, T]`` (shorter items zero-padded)."""
    items = [torch.repeat_interleave(grouped[i].T, lengths[i], dim=0) for i in range(grouped.shape[0])]
    return nn.utils.rnn.pad_sequence(items, batch_first=True).transpose(1, 2)


class FlexiCodec(nn.Module):
    """The official module tree (inference), built from the official config's keys (:meth:`from_config`)."""

    semantic_mean: torch.Tensor  # buffers kept for the checkpoint's keys (SenseVoice needs no normalisation)
    semantic_std: torch.Tensor

    def __init__(self, encoder_dim: int = 32, encoder_rates: tuple[int, ...] = (4, 4, 5, 8, 2), latent_dim: int = 512,
                 decoder_dim: int = 1536, decoder_rates: tuple[int, ...] = (2, 8, 5, 4, 4), n_codebooks: int = 24,
                 codebook_size: int = 4096, codebook_dim: int = 8, semantic_downsample_factor: float = 1.33333,
                 max_tokens_per_group: int | None = 8, transformer_num_layers: int = 32, transformer_dim: int = 512,
                 transformer_dim_feedforward: int = 2048, transformer_num_heads: int = 8,
                 agg_transformer_num_layers: int = 6, agg_transformer_dim: int = 512,
                 agg_transformer_num_heads: int = 8, agg_transformer_dim_feedforward: int = 2048,
                 convnext_dim: int = 768, convnext_layers: int = 4, fsq_levels: tuple[int, ...] = (8, 8, 8, 8, 8),
                 sensevoice: dict[str, Any] | None = None, ssl_dim: int = 512) -> None:
        super().__init__()
        self.semantic_downsample_factor = semantic_downsample_factor
        self.max_tokens_per_group = max_tokens_per_group if max_tokens_per_group and max_tokens_per_group > 0 else None
        self.semantic_model = SenseVoiceSmall(**(sensevoice or {}))
        self.register_buffer("semantic_mean", torch.zeros(1))
        self.register_buffer("semantic_std", torch.ones(1))
        self.dac = DAC(encoder_dim, encoder_rates, latent_dim, decoder_dim, decoder_rates, n_codebooks, codebook_size,
                       codebook_dim)
        self.convnext_encoder = nn.Sequential(WNConv1d(ssl_dim, convnext_dim, 1),
                                              *[ConvNeXtBlock(convnext_dim) for _ in range(convnext_layers)])
        self.semantic_vq = FSQWrapper(convnext_dim, fsq_levels)
        self.convnext_decoder = nn.Sequential(*[ConvNeXtBlock(convnext_dim) for _ in range(convnext_layers)],
                                              WNConv1d(convnext_dim, latent_dim, 1))
        self.semantic_aggregator = QueryTokenAggregator(agg_transformer_dim, ssl_dim, agg_transformer_num_heads,
                                                        agg_transformer_num_layers, agg_transformer_dim_feedforward)
        self.acoustic_aggregator = QueryTokenAggregator(latent_dim, latent_dim, agg_transformer_num_heads,
                                                        agg_transformer_num_layers, agg_transformer_dim_feedforward)
        self.bottleneck_transformer: nn.Module = (
            ProjectedTransformer(latent_dim, transformer_dim, transformer_num_heads, transformer_num_layers,
                                 transformer_dim_feedforward) if transformer_num_layers else nn.Identity())

    #: official config keys that only matter in training, or that the official code fixes for SenseVoice
    IGNORED = ("sample_rate", "quantizer_dropout", "semantic_codebook_size", "is_causal", "use_similarity_alignment",
               "similarity_threshold", "skip_normalize", "semantic_model_type", "use_bottleneck_transformer",
               "transformer_causal", "transformer_context_frames", "semantic_model_path", "use_query_token_aggregator",
               "use_dynamic_similarity_threshold", "similarity_threshold_lower", "similarity_threshold_upper",
               "agg_transformer_causal", "agg_use_mean_pooling_init", "agg_transformer_context_frames")

    @classmethod
    def from_config(cls, config: dict[str, Any], sensevoice: dict[str, Any] | None = None) -> FlexiCodec:
        """From the official ``model:`` section (``12hz_v1_half_config.yaml``); the switches this implementation
        fixes (similarity alignment, query aggregators, FSQ, SenseVoice, non-causal) must have their released
        values."""
        fixed = {"use_similarity_alignment": True, "use_query_token_aggregator": True, "is_causal": False,
                 "semantic_model_type": "sensevoice", "transformer_causal": False, "agg_transformer_causal": False,
                 "agg_use_mean_pooling_init": True}
        wrong = {k: config[k] for k, v in fixed.items() if k in config and config[k] != v}
        if wrong:
            raise ValueError(f"FlexiCodec config: {wrong} are not supported (this implementation needs {fixed})")
        kwargs = {k: v for k, v in config.items() if k not in cls.IGNORED}
        fsq = kwargs.pop("fsq_config", None) or {}
        if fsq:
            kwargs["fsq_levels"] = tuple(fsq.get("levels", (8, 8, 8, 8, 8)))
        for key in ("encoder_rates", "decoder_rates"):
            if key in kwargs:
                kwargs[key] = tuple(kwargs[key])
        return cls(**kwargs, sensevoice=sensevoice)

    # ---- encoding ----------------------------------------------------------------------------------------------
    def semantic_features(self, feats: torch.Tensor) -> torch.Tensor:
        """SenseVoice features ``[B, T, 560]`` -> hidden states ``[B, 512, T']`` at 12.5 Hz."""
        hidden = self.semantic_model.semantic_features(feats).transpose(1, 2)
        factor = self.semantic_downsample_factor
        if factor == 1:
            return hidden
        if factor == int(factor):
            return F.avg_pool1d(hidden, int(factor), int(factor))
        return F.interpolate(hidden, size=int(hidden.shape[-1] / factor), mode="linear", align_corners=False)

    @torch.no_grad()
    def encode(self, audio: torch.Tensor, feats: torch.Tensor, threshold: float, n_quantizers: int = 8) -> Encoded:
        """``audio [B, S]`` at 16 kHz and its SenseVoice ``feats [B, T, 560]`` (unpadded items) -> tokens;
        ``n_quantizers`` counts the semantic one (8: RVQ1:8, the paper's)."""
        semantic = self.semantic_features(feats)
        acoustic = self.dac.encoder(self.dac.preprocess(audio[:, None]))
        frames = min(acoustic.shape[-1], semantic.shape[-1])
        semantic, acoustic = semantic[..., :frames], acoustic[..., :frames]
        alignment, sim, groups = similarity_groups(semantic.transpose(1, 2), threshold, self.max_tokens_per_group)
        semantic_groups = self.semantic_aggregator(semantic, alignment, groups)
        acoustic_groups = self.acoustic_aggregator(acoustic, alignment, groups)
        semantic_vq, semantic_codes = self.semantic_vq(self.convnext_encoder(semantic_groups))
        semantic_decoded = self.convnext_decoder(semantic_vq)
        if n_quantizers > 1:
            acoustic_vq, acoustic_codes = self.dac.quantizer(acoustic_groups - semantic_decoded, n_quantizers - 1)
        else:
            acoustic_vq = torch.zeros_like(semantic_decoded)
            acoustic_codes = torch.zeros(semantic_codes.shape[0], 0, semantic_codes.shape[2], dtype=torch.long)
        return Encoded(semantic_codes.long(), acoustic_codes, alignment.sum(dim=2).long(), groups, alignment,
                       acoustic_vq + semantic_decoded, sim)

    # ---- decoding ----------------------------------------------------------------------------------------------
    @torch.no_grad()
    def decode(self, semantic: torch.Tensor, acoustic: torch.Tensor | None, lengths: torch.Tensor) -> torch.Tensor:
        """Codes (``semantic [B, 1, G]``, ``acoustic [B, n, G]`` or None) and token ``lengths [B, G]`` ->
        ``[B, 1, S]`` audio at 16 kHz."""
        latent = expand_groups(self.convnext_decoder(self.semantic_vq.from_codes(semantic)), lengths)
        if acoustic is not None and acoustic.shape[1]:
            latent = latent + expand_groups(self.dac.quantizer.from_codes(acoustic), lengths)
        return cast(torch.Tensor, self.dac.decoder(self.bottleneck_transformer(latent)))

    @property
    def frame_rate(self) -> float:
        """The 12.5 Hz grid the groups are made of (16 kHz / the DAC hop)."""
        return 16000 / self.dac.hop_length
