"""The model surface DyCAST and FocalCodec share: sample rates, latency, ``info()``, the encoder /
compressor / decoder stages, kNN replacement and the output-length fix (same semantics in both
official codebases)."""

from __future__ import annotations

from typing import Any, Protocol

import torch
from torch import nn
from torch.nn import functional as F

from codecbench.api import knn

from .wavlm import WavLM


class FeatureDecoder(Protocol):
    """A decoder stage: features ``[B, T, D]`` (and a streaming state) to a waveform; ``upsample_factor``
    output samples per feature frame (Vocos, WaveNeXt)."""

    upsample_factor: int

    def __call__(self, feats: torch.Tensor, state: Any = ...) -> Any: ...


class WavLMCodecMixin:
    """Needs ``encoder`` (WavLM), ``compressor``, ``decoder`` modules, ``causal``, ``model_id``, ``__version__``."""

    encoder: WavLM
    compressor: nn.Module
    decoder: FeatureDecoder
    model_id: str | None

    @property
    def sample_rate_input(self) -> int:
        return int(self.encoder.sample_rate)

    @property
    def sample_rate_output(self) -> int:
        return int(self.sample_rate_input * self.decoder.upsample_factor / self.encoder.downsample_factor)

    @property
    def sample_rate(self) -> int:
        if self.sample_rate_input != self.sample_rate_output:
            raise RuntimeError(f"input ({self.sample_rate_input} Hz) and output ({self.sample_rate_output} Hz) "
                               "sample rates differ: use sample_rate_input / sample_rate_output")
        return self.sample_rate_input

    @property
    def chunk_size(self) -> int:
        return int(self.encoder.chunk_size)

    @property
    def latency(self) -> float | None:
        return 1000 * self.chunk_size / self.sample_rate_input if self.causal else None  # type: ignore[attr-defined]

    def info(self) -> dict[str, Any]:
        return {"model_id": self.model_id, "version": self.__version__,  # type: ignore[attr-defined]
                "sample_rate_input": self.sample_rate_input, "sample_rate_output": self.sample_rate_output,
                "causal": self.causal, "chunk_size": self.chunk_size, "latency": self.latency,  # type: ignore[attr-defined]
                "num_total_params": sum(v.numel() for v in self.state_dict().values())}  # type: ignore[attr-defined]

    def sig_to_feats(self, sig: torch.Tensor, encoder_state: Any = (), length: torch.Tensor | None = None,
                     return_state: bool = False) -> Any:
        feats, state = self.encoder(sig, encoder_state, length=length)
        return (feats, state) if return_state else feats

    def feats_to_lats(self, feats: torch.Tensor, compressor_state: Any = (), return_state: bool = False) -> Any:
        lats, state = self.compressor(feats, compressor_state)
        lats = F.normalize(lats, dim=-1)
        return (lats, state) if return_state else lats

    def feats_to_sig(self, feats: torch.Tensor, decoder_state: Any = (), matching_set: torch.Tensor | None = None,
                     topk: int = 4, num_splits: int = 1, output_length: int | None = None,
                     return_state: bool = False) -> Any:
        """Optional kNN replacement (mean of the ``topk`` cosine-nearest rows of ``matching_set``),
        the decoder, then truncation or replicate padding to ``output_length``."""
        if matching_set is not None:
            feats = self.knn(feats, matching_set, topk, num_splits).mean(dim=-2)
        sig, state = self.decoder(feats, decoder_state)
        if output_length is not None:
            if sig.shape[-1] >= output_length:
                sig = sig[..., :output_length]
            else:
                sig = F.pad(sig[:, None], (0, output_length - sig.shape[-1]), mode="replicate")[:, 0]
        return (sig, state) if return_state else sig

    @staticmethod
    def knn(input: torch.Tensor, matching_set: torch.Tensor, topk: int = 4, num_splits: int = 1) -> torch.Tensor:
        """The ``topk`` rows of ``matching_set [M, D]`` nearest (cosine) to each input frame: ``[..., k, D]``."""
        return knn(input, matching_set, topk, num_splits)


class WavLMFeaturesPlugin:
    """kNN voice-conversion hooks of a harness codec wrapping a WavLM-based model (``self.model``):
    WavLM features of raw audio are the matching set; continuous features decode through the
    model's decoder."""

    model: WavLMCodecMixin

    def encoder_features(self, wav: torch.Tensor, lengths: torch.Tensor) -> torch.Tensor:
        """WavLM features ``[B, T, D]`` of raw audio (the kNN-VC matching set)."""
        rel = None if bool((lengths == wav.shape[1]).all()) else lengths.float() / wav.shape[1]
        return self.model.sig_to_feats(wav, length=rel)

    def decode_features(self, features: torch.Tensor, lengths: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        return self.model.feats_to_sig(features), lengths * self.model.decoder.upsample_factor
