"""DyCAST as a harness codec: variants, decoding modes, measured rates, features, embeddings.

Weights: asset ``dycast`` (``checkpoint=``: a local folder or Hub id; or ``CODECBENCH_ASSET_DYCAST``,
config ``assets:``).
Without one, the real architecture is built with seeded random weights and every row is
flagged: random-weight numbers are not DyCAST numbers.
"""

from __future__ import annotations

import dataclasses
from pathlib import Path
from typing import Annotated, Any, Iterator, Literal

import torch

from codecbench.api import (
    Asset,
    Capabilities,
    Codec,
    Fraction,
    PositiveFloat,
    PositiveInt,
    Range,
    Tokens,
    elias_gamma_bits,
    length_groups,
    load_transformers,
    pad_batch,
    register_codec,
    weights_or_random,
)

from .._blocks.codec_model import WavLMFeaturesPlugin
from .aligner import MMS
from .model import DyCAST, build_modules
from .presets import preset

MODES = ("tokens+length", "tokens+durations", "tokens")
VARIANTS: dict[str, dict[str, Any]] = {"dycast-ca": {"boundary": "char_aligner"}, "dycast-bp1": {"min_gap": 1},
            "dycast-bp3": {"min_gap": 3}, "dycast-bp5": {"min_gap": 5}}


@register_codec(VARIANTS)
class DyCASTCodec(WavLMFeaturesPlugin, Codec):
    """Variable-rate tokens: one 32-stream token (4 levels each, 64 bits) per character-like chunk."""

    families = {"dycast-bp1": "dycast-bp", "dycast-bp3": "dycast-bp", "dycast-bp5": "dycast-bp"}  # BP min gaps

    model: DyCAST

    sample_rate = output_sample_rate = 16000
    nominal_frame_rate = None
    capabilities = Capabilities(variable_rate=True, character_aligned=True, has_features=True, has_embeddings=True)
    assets = (Asset("dycast", "DyCAST (config.json + model.safetensors [+ index.faiss])", "lucadellalib/dycast",
                    hub_id="lucadellalib/dycast", files=("config.json",), licence="Apache-2.0"),
              Asset("mms-1b-all", "MMS-1b-all Wav2Vec2 CTC character aligner (DyCAST-CA boundaries)",
                    "facebook/mms-1b-all", hub_id="facebook/mms-1b-all", files=("config.json",),
                    licence="CC-BY-NC-4.0", size="3.9 GB"))
    test_params = {"random_preset": "tiny"}

    @classmethod
    def variant_assets(cls, params: dict) -> tuple[Asset, ...]:
        """The MMS aligner only for character-aligner boundaries."""
        return tuple(a for a in cls.assets if a.name != "mms-1b-all" or params.get("boundary") == "char_aligner")

    @classmethod
    def verify_asset(cls, name: str, location: Path) -> str:
        """``codecbench assets verify``: the MMS aligner's folder loaded by transformers as DyCAST-CA loads it (model
        and processor, every weight used); DyCAST's own folder through its constructor (on the meta device)."""
        if name == "mms-1b-all":
            return load_transformers("Wav2Vec2ForCTC", location, processor=True)
        return ""

    def __init__(self, checkpoint: str | None = None, boundary: Literal["boundary_decode", "char_aligner"] =
                 "boundary_decode", min_gap: PositiveInt = 1, threshold: Fraction = 0.5,
                 max_gap: PositiveInt | None = None, mode: Literal["tokens+length", "tokens+durations", "tokens"] =
                 "tokens+length", use_retriever: bool = False, sim_threshold: Annotated[float, Range(-1, 1)] = 0.97,
                 random_preset: Literal["default", "tiny"] = "default", max_silence_s: PositiveFloat | None = None,
                 index: str | None = None, aligner: str | None = None) -> None:
        super().__init__()
        if mode not in MODES:
            raise ValueError(f"DyCAST mode must be one of {MODES}, got {mode!r}")
        if boundary not in ("boundary_decode", "char_aligner"):
            raise ValueError(f"boundary must be 'boundary_decode' or 'char_aligner', got {boundary!r}")
        self.mode, self.boundary = mode, boundary
        if mode == "tokens":  # durations predicted freely: the decoded length follows the tokens, not the input
            self.capabilities = dataclasses.replace(self.capabilities, free_length=True)
        self.boundary_kwargs: dict[str, Any] = {"threshold": threshold, "min_gap": min_gap, "max_gap": max_gap}
        self.aligner_kwargs: dict[str, Any] = {"max_silence_s": max_silence_s}
        self.use_retriever, self.sim_threshold = use_retriever, sim_threshold
        found = self.resolve_weights("dycast", checkpoint)
        overrides: dict = {"char_aligner_name": None}
        if boundary == "char_aligner":  # MMS weights, or a seeded random-weight aligner of its layout
            mms = weights_or_random("mms-1b-all", aligner, owner="dycast-ca aligner")
            overrides = {"char_aligner_name": "MMS", "char_aligner_config":
                         {"checkpoint": mms.location} if mms.location else {"checkpoint": None, "random_size": "tiny"}}
            if mms.random:
                self.capabilities = dataclasses.replace(self.capabilities, random_weights=True)
                self.weights_id += ":aligner=random-tiny"
        else:
            self.capabilities = dataclasses.replace(self.capabilities, character_aligned=False)
        if found.location is not None:
            self.model = DyCAST.from_pretrained(found.location, overrides=overrides)
        else:
            config = preset(random_preset, retriever=use_retriever)
            config.update(overrides)
            self.model = DyCAST(**build_modules(config))
        self.model.eval()
        if index is not None:
            if self.model.retriever is None:
                raise ValueError("index= given but this DyCAST has no retriever")
            self.model.retriever.load_index(index)
        if use_retriever and (self.model.retriever is None or self.model.retriever.index is None):
            raise FileNotFoundError("use_retriever=True needs a FAISS index: the checkpoint's index.faiss or "
                                    "index=PATH (build one with `codecbench rad pool` + `codecbench rad index`)")
        if boundary == "char_aligner":
            self._aligner()._load()  # fail now (missing transformers / MMS weights), not per utterance
        self.codebook_sizes = [self.model.quantizer.n_levels] * self.model.quantizer.dim
        self._checkpoint = self.weights_id + ("" if found.location else f":{random_preset}")

    def _aligner(self) -> MMS:
        """The character aligner the ``char_aligner`` boundary uses (dycast-ca's checkpoint has one)."""
        if self.model.char_aligner is None:
            raise ValueError("boundary='char_aligner' needs a DyCAST checkpoint with a char_aligner (dycast-ca's)")
        return self.model.char_aligner

    # ---- contract ------------------------------------------------------------------------------
    def encode(self, wav: torch.Tensor, lengths: torch.Tensor) -> Tokens:
        """Equal-length groups run unpadded, so an item's tokens never depend on its batch."""
        m = self.model
        items: list[Tokens | None] = [None] * wav.shape[0]
        for group in length_groups(lengths):
            n = int(lengths[group[0]])
            sig = wav[group, :n]
            feats = m.sig_to_feats(sig)
            chars: list[str] | None = None
            if self.boundary == "char_aligner":
                durs, chars = self._aligner().align(sig, **self.aligner_kwargs)
            else:
                durs = m.feats_to_durs(feats, **self.boundary_kwargs)
            toks = m.plats_to_toks(m.lats_to_plats(m.feats_to_lats(feats), durs)[0])
            for j, i in enumerate(group):
                count = int((durs[j] > 0).sum())
                items[i] = Tokens(codes=toks[j:j + 1, :count].cpu(), lengths=torch.tensor([count]),
                                  num_samples=torch.tensor([n]), durations=durs[j:j + 1, :count].cpu(),
                                  extra={"chars": [chars[j][:count]]} if chars is not None else {})
        return Tokens.collate([t for t in items if t is not None])

    def _durations(self, tokens: Tokens, pcodes: torch.Tensor) -> torch.Tensor:
        """Decoder-side durations of unpadded items (``pcodes [B, N, L]`` with N valid tokens each)."""
        if self.mode == "tokens+durations":
            if tokens.durations is None:
                raise ValueError("tokens+durations mode needs Tokens.durations")
            return tokens.durations[:, : pcodes.shape[1]].to(pcodes.device)
        if self.mode == "tokens+length":
            frames = torch.tensor([self.model.encoder.num_frames(int(n)) for n in tokens.num_samples],
                                  device=pcodes.device)
            return self.model.pcodes_to_durs(pcodes, num_frames=frames)
        return self.model.pcodes_to_durs(pcodes)

    def _qfeats_groups(self, tokens: Tokens) -> Iterator[tuple[list[int], torch.Tensor]]:
        """Decoded features of items grouped so that nothing is ever padded: ``(indices, [G, T', D])``."""
        device = self.model.quantizer.step.device
        keys = [(int(n), int(s)) for n, s in zip(tokens.lengths, tokens.num_samples, strict=True)]
        for group in length_groups(keys):
            n = keys[group[0]][0]
            sub = Tokens(codes=tokens.codes[group, :n].to(device), lengths=tokens.lengths[group],
                         num_samples=tokens.num_samples[group],
                         durations=None if tokens.durations is None else tokens.durations[group, :n])
            pcodes = self.model.toks_to_pcodes(sub.codes)
            durs = self._durations(sub, pcodes)
            for part in length_groups(durs.sum(dim=1).cpu()):
                qfeats = self.model.codes_to_qfeats(self.model.pcodes_to_codes(pcodes[part], durs[part])[0])
                if self.use_retriever:
                    qfeats = self.model.qfeats_to_feats(qfeats, sim_threshold=self.sim_threshold)
                yield [group[j] for j in part], qfeats

    def features(self, tokens: Tokens) -> torch.Tensor:
        """Continuous pre-decoder features ``[B, T', 1024]`` (decompressor output, after RAD if on)."""
        outs: list[torch.Tensor | None] = [None] * tokens.batch_size
        for indices, qfeats in self._qfeats_groups(tokens):
            for j, i in enumerate(indices):
                outs[i] = qfeats[j]
        return pad_batch([o for o in outs if o is not None])[0]

    def decode(self, tokens: Tokens) -> tuple[torch.Tensor, torch.Tensor]:
        outs: list[torch.Tensor | None] = [None] * tokens.batch_size
        for indices, qfeats in self._qfeats_groups(tokens):
            sig = self.model.feats_to_sig(qfeats)
            for j, i in enumerate(indices):
                outs[i] = sig[j]
        return pad_batch([o for o in outs if o is not None])

    def embeddings(self) -> list[torch.Tensor]:
        """One ``[levels, dim]`` table per stream k: row v is level v on axis k (zeros elsewhere), so
        summing the streams' embeddings rebuilds the (unnormalised) SSQ code vector."""
        codebook = self.model.codebook  # [dim, levels]
        dim = codebook.shape[0]
        return [codebook[k][:, None] * torch.eye(dim, device=codebook.device)[k][None] for k in range(dim)]

    def counted_modules(self) -> list[torch.nn.Module]:
        """Every DyCAST module but the MMS aligner (an external model; the paper's 269 M leave it out)."""
        return [m for name, m in self.model.named_children() if name != "char_aligner"]

    cache_id_complete = True  # cache_id names the weights and every setting the tokens depend on

    def cache_id(self) -> str:
        """Tokens depend on weights and boundary settings, not on the decoding mode or RAD."""
        return (f"dycast:{self._checkpoint}:{self.boundary}:{sorted(self.boundary_kwargs.items())}:"
                f"{sorted(self.aligner_kwargs.items())}" + (":chars" if self.boundary == "char_aligner" else ""))

    def measured_bits(self, tokens: Tokens) -> torch.Tensor:
        """64 bits per token, plus Elias-gamma-coded durations in tokens+durations mode."""
        bits = tokens.lengths.double() * self.bits_per_token
        if self.mode == "tokens+durations" and tokens.durations is not None:
            bits = bits + elias_gamma_bits(tokens.durations).mul(tokens.durations > 0).sum(dim=1)
        return bits

