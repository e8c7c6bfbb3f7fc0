"""DyCAST as a harness codec: variants, decoding modes, measured rates, features, embeddings.

Weights: a local folder or Hub id (``checkpoint=`` or asset ``dycast``: ``BENCH_ASSET_DYCAST``).
Without one, the real architecture is built with seeded random weights and every row is
flagged: random-weight numbers are not DyCAST numbers.
"""

from __future__ import annotations

import dataclasses
import logging
import os
from functools import partial

import torch

from bench.codec import Capabilities, Codec, Tokens
from bench.registry import CODECS

from .model import DyCAST, build_modules
from .presets import preset

log = logging.getLogger(__name__)
MODES = ("tokens+length", "tokens+durations", "tokens")
VARIANTS = {"dycast-ca": dict(boundary="char_aligner"), "dycast-bp1": dict(min_gap=1),
            "dycast-bp3": dict(min_gap=3), "dycast-bp5": dict(min_gap=5)}


def elias_gamma_bits(durations: torch.Tensor) -> torch.Tensor:
    """Bits of a self-delimiting Elias-gamma code of each duration (>= 1): 2*floor(log2 d) + 1."""
    d = durations.clamp_min(1).double()
    return 2 * torch.floor(torch.log2(d)) + 1


class DyCASTCodec(Codec):
    """Variable-rate tokens: one 32-stream token (4 levels each, 64 bits) per character-like chunk."""

    sample_rate = output_sample_rate = 16000
    nominal_frame_rate = None
    capabilities = Capabilities(variable_rate=True, character_aligned=True, has_features=True, has_embeddings=True)

    def __init__(self, checkpoint: str | None = None, boundary: str = "boundary_decode", min_gap: int = 1,
                 threshold: float = 0.5, max_gap: int | None = None, mode: str = "tokens+length",
                 use_retriever: bool = False, sim_threshold: float = 0.97, random_preset: str = "default",
                 max_silence_s: float | None = None, index: str | None = None) -> None:
        super().__init__()
        if mode not in MODES:
            raise ValueError(f"DyCAST mode must be one of {MODES}, got {mode!r}")
        if boundary not in ("boundary_decode", "char_aligner"):
            raise ValueError(f"boundary must be 'boundary_decode' or 'char_aligner', got {boundary!r}")
        self.mode, self.boundary = mode, boundary
        self.boundary_kwargs = {"threshold": threshold, "min_gap": min_gap, "max_gap": max_gap}
        self.aligner_kwargs = {"max_silence_s": max_silence_s}
        self.use_retriever, self.sim_threshold = use_retriever, sim_threshold
        checkpoint = checkpoint or os.environ.get("BENCH_ASSET_DYCAST")
        overrides = None if boundary == "char_aligner" else {"char_aligner_name": None}
        if checkpoint:
            self.model = DyCAST.from_pretrained(checkpoint, overrides=overrides)
            random_weights = False
        else:
            config = preset(random_preset, retriever=use_retriever)
            if boundary == "char_aligner":
                config.update(char_aligner_name="MMS", char_aligner_config={})
            log.warning("DyCAST: no checkpoint (checkpoint= or BENCH_ASSET_DYCAST); using RANDOM weights of "
                        "the %s architecture: numbers are not DyCAST's", random_preset)
            self.model = DyCAST(**build_modules(config))
            random_weights = True
        self.model.eval()
        if index is not None:
            if self.model.retriever is None:
                raise ValueError("index= given but this DyCAST has no retriever")
            self.model.retriever.load_index(index)
        if use_retriever and (self.model.retriever is None or self.model.retriever.index is None):
            raise FileNotFoundError("use_retriever=True needs a FAISS index: the checkpoint's index.faiss or "
                                    "index=PATH (build one with `bench rad pool` + `bench rad index`)")
        if boundary == "char_aligner":
            self.model.char_aligner._load()  # fail now (missing transformers / MMS weights), not per utterance
        self.codebook_sizes = [self.model.quantizer.n_levels] * self.model.quantizer.dim
        self.capabilities = dataclasses.replace(type(self).capabilities, random_weights=random_weights)
        self._checkpoint = checkpoint or f"random:{random_preset}:seed={torch.initial_seed()}"

    # ---- contract ------------------------------------------------------------------------------
    def encode(self, wav: torch.Tensor, lengths: torch.Tensor) -> Tokens:
        m = self.model
        rel = None if bool((lengths == wav.shape[1]).all()) else lengths.float() / wav.shape[1]
        feats = m.sig_to_feats(wav, length=rel)
        if self.boundary == "char_aligner":
            durs = m.sig_to_durs(wav, length=rel, **self.aligner_kwargs)
        else:
            durs = m.feats_to_durs(feats, length=rel, **self.boundary_kwargs)
        plats, _ = m.lats_to_plats(m.feats_to_lats(feats), durs)
        toks = m.plats_to_toks(plats)
        counts = (durs > 0).sum(dim=1)
        return Tokens(codes=toks, lengths=counts.cpu(), num_samples=lengths.cpu(), durations=durs.cpu())

    def _durations(self, tokens: Tokens, pcodes: torch.Tensor) -> torch.Tensor:
        rel = tokens.lengths.to(pcodes.device).float() / pcodes.shape[1]
        rel = None if bool((rel == 1).all()) else rel
        if self.mode == "tokens+durations":
            if tokens.durations is None:
                raise ValueError("tokens+durations mode needs Tokens.durations")
            return tokens.durations.to(pcodes.device)
        if self.mode == "tokens+length":
            frames = torch.tensor([self.model.encoder.num_frames(int(n)) for n in tokens.num_samples],
                                  device=pcodes.device)
            return self.model.pcodes_to_durs(pcodes, length=rel, num_frames=frames)
        return self.model.pcodes_to_durs(pcodes, length=rel)

    def features(self, tokens: Tokens) -> torch.Tensor:
        """Continuous pre-decoder features ``[B, T', 1024]`` (decompressor output, after RAD if on)."""
        pcodes = self.model.toks_to_pcodes(tokens.codes)
        codes, _ = self.model.pcodes_to_codes(pcodes, self._durations(tokens, pcodes))
        qfeats = self.model.codes_to_qfeats(codes)
        if self.use_retriever:
            qfeats = self.model.qfeats_to_feats(qfeats, sim_threshold=self.sim_threshold)
        return qfeats

    def decode(self, tokens: Tokens) -> tuple[torch.Tensor, torch.Tensor]:
        pcodes = self.model.toks_to_pcodes(tokens.codes)
        durs = self._durations(tokens, pcodes)
        qfeats = self.model.codes_to_qfeats(self.model.pcodes_to_codes(pcodes, durs)[0])
        if self.use_retriever:
            qfeats = self.model.qfeats_to_feats(qfeats, sim_threshold=self.sim_threshold)
        return self.model.feats_to_sig(qfeats), durs.sum(dim=1).cpu() * self.model.decoder.upsample_factor

    def decode_features(self, features: torch.Tensor, lengths: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        return self.model.feats_to_sig(features), lengths * self.model.decoder.upsample_factor

    def encoder_features(self, wav: torch.Tensor, lengths: torch.Tensor) -> torch.Tensor:
        """WavLM features ``[B, T, 1024]`` of raw audio (the kNN-VC matching set)."""
        rel = None if bool((lengths == wav.shape[1]).all()) else lengths.float() / wav.shape[1]
        return self.model.sig_to_feats(wav, length=rel)

    def embeddings(self) -> list[torch.Tensor]:
        """One ``[4, 1]`` table per stream: the SSQ levels of that dimension."""
        return [row[:, None].clone() for row in self.model.codebook]

    def cache_id(self) -> str:
        """Tokens depend on weights and boundary settings, not on the decoding mode or RAD."""
        return (f"dycast:{self._checkpoint}:{self.boundary}:{sorted(self.boundary_kwargs.items())}:"
                f"{sorted(self.aligner_kwargs.items())}")

    def measured_bits(self, tokens: Tokens) -> torch.Tensor:
        """64 bits per token, plus Elias-gamma-coded durations in tokens+durations mode."""
        bits = tokens.lengths.double() * self.bits_per_token
        if self.mode == "tokens+durations" and tokens.durations is not None:
            bits = bits + elias_gamma_bits(tokens.durations).mul(tokens.durations > 0).sum(dim=1)
        return bits


for _name, _kwargs in VARIANTS.items():
    CODECS.register(_name, partial(DyCASTCodec, **_kwargs))
