"""Harness side of codecs that quantize continuous encoder latents with one VQ (BigCodec,
WavTokenizer): tokens, decoding and the kNN voice-conversion hooks on those latents.

The wrapped ``model`` provides ``sig_to_feats([B, T]) -> [B, N, D]``, ``sig_to_toks([B, T]) ->
[B, N, K]``, ``toks_to_qfeats([B, N, K]) -> [B, N, D]`` and ``feats_to_sig([B, N, D]) -> [B, N * hop]``.
"""

from __future__ import annotations

from typing import Any

import torch

from codecbench.api import Capabilities, GroupedCodec, Tokens, map_length_groups


class LatentVQCodec(GroupedCodec):
    """Equal-length groups run unpadded; kNN-VC matches quantized latents against encoder latents."""

    capabilities = Capabilities(has_features=True, has_embeddings=True)
    model: Any
    hop: int

    def _prepare(self, wav: torch.Tensor) -> torch.Tensor:
        """The waveform as the model takes it (e.g. padded to whole frames)."""
        return wav

    def _encode(self, wav: torch.Tensor) -> torch.Tensor:
        return self.model.sig_to_toks(self._prepare(wav.to(self._device())))

    def _decode(self, codes: torch.Tensor) -> torch.Tensor:
        return self.model.feats_to_sig(self.model.toks_to_qfeats(codes))

    def features(self, tokens: Tokens) -> torch.Tensor:
        """Quantized latents ``[B, N, D]`` (the decoder's input)."""
        return self.model.toks_to_qfeats(tokens.codes.to(self._device()))

    def encoder_features(self, wav: torch.Tensor, lengths: torch.Tensor) -> torch.Tensor:
        """Pre-quantizer latents ``[B, N, D]`` (the kNN-VC matching set)."""
        return map_length_groups(lambda w: self.model.sig_to_feats(self._prepare(w.to(self._device()))),
                                 wav, lengths)[0]

    def decode_features(self, features: torch.Tensor, lengths: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        return self.model.feats_to_sig(features), lengths * self.hop
