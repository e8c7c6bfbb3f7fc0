"""DyCAST: the top-level model, its public methods and the official config / checkpoint format."""

from __future__ import annotations

import json
import os
import warnings
from pathlib import Path
from typing import Any

import torch
from torch import nn

from .._blocks.checkpoint import apply_overrides
from .._blocks.codec_model import WavLMCodecMixin
from .._blocks.focal import FocalDecoder, FocalEncoder
from .._blocks.vocos import Vocos
from .._blocks.wavlm import WavLM
from .aligner import MMS
from .boundary import HazardModel
from .duration import NegBinModel
from .pooling import RepeatInterleaveUnpool, SelectLastPool
from .quantizer import ScalarSphericalQuantizer
from .retriever import LatentIVF

REGISTRY: dict[str, type[nn.Module]] = {
    cls.__name__: cls
    for cls in (FocalDecoder, FocalEncoder, HazardModel, LatentIVF, MMS, NegBinModel, RepeatInterleaveUnpool,
                ScalarSphericalQuantizer, SelectLastPool, Vocos, WavLM)
}
SLOTS = ("encoder", "compressor", "boundary_predictor", "downsampler", "quantizer", "duration_predictor",
         "upsampler", "decompressor", "decoder", "char_aligner", "retriever")
OPTIONAL_SLOTS = ("char_aligner", "retriever")


def build_modules(config: dict[str, Any]) -> dict[str, Any]:
    """Each slot's module, built by the class name the config gives (``None`` for an absent optional slot)."""
    modules: dict[str, Any] = {}
    for slot in SLOTS:
        name = config.get(f"{slot}_name")
        if name is None:
            if slot not in OPTIONAL_SLOTS:
                raise ValueError(f"DyCAST config has no {slot}_name")
            modules[slot] = None
            continue
        if name not in REGISTRY:
            raise ValueError(f"unknown module {name!r} for {slot}; known: {sorted(REGISTRY)}")
        modules[slot] = REGISTRY[name](**(config.get(f"{slot}_config") or {}))
    return modules


class DyCAST(WavLMCodecMixin, nn.Module):
    """Variable-frame-rate speech codec: WavLM features -> chunks -> SSQ tokens -> durations -> Vocos."""

    __version__ = "0.0.1"

    def __init__(self, encoder: WavLM, compressor: FocalEncoder, boundary_predictor: HazardModel,
                 downsampler: SelectLastPool, quantizer: ScalarSphericalQuantizer, duration_predictor: NegBinModel,
                 upsampler: RepeatInterleaveUnpool, decompressor: FocalDecoder, decoder: Vocos,
                 char_aligner: MMS | None = None, retriever: LatentIVF | None = None) -> None:
        super().__init__()
        self.encoder, self.compressor, self.boundary_predictor = encoder, compressor, boundary_predictor
        self.downsampler, self.quantizer, self.duration_predictor = downsampler, quantizer, duration_predictor
        self.upsampler, self.decompressor, self.decoder = upsampler, decompressor, decoder
        self.char_aligner, self.retriever = char_aligner, retriever
        self.model_id: str | None = None

    # ---- properties -------------------------------------------------------------------------
    @property
    def causal(self) -> bool:
        parts = [self.encoder, self.compressor, self.boundary_predictor, self.duration_predictor,
                 self.decompressor, self.decoder]
        extra = [m for m in (self.char_aligner, self.retriever) if m is not None]
        return all(bool(getattr(m, "causal", False)) for m in parts + extra)

    @property
    def codebook(self) -> torch.Tensor:
        return self.quantizer.codebook

    @classmethod
    def from_config(cls, config: str | os.PathLike, pretrained: bool = False,
                    skip_char_aligner_state_dict: bool = True, overrides: dict[str, Any] | None = None,
                    **hf_kwargs: Any) -> "DyCAST":
        """Build from ``config.json`` (a file, a folder holding one, or a Hub id); optionally load weights."""
        from .._blocks.checkpoint import resolve_files

        files = resolve_files(str(config), pretrained, **hf_kwargs)
        data = apply_overrides(json.loads(Path(files.config).read_text()), overrides)
        model = cls(**build_modules(data))
        if pretrained:
            from .._blocks.checkpoint import load_weights

            model.load_checked_state_dict(load_weights(files.weights), skip_char_aligner_state_dict)
            if model.retriever is not None and files.index is not None:
                model.retriever.load_index(files.index)
        model.model_id = str(config)
        return model

    @classmethod
    def from_pretrained(cls, config: str | os.PathLike = "lucadellalib/dycast", overrides: dict[str, Any] | None = None,
                        **kwargs: Any) -> "DyCAST":
        return cls.from_config(config, pretrained=True, overrides=overrides, **kwargs)

    def load_checked_state_dict(self, state: dict[str, torch.Tensor], skip_char_aligner: bool = True) -> None:
        """Official checking: missing keys are errors (except ``char_aligner.*``), unexpected keys warn."""
        result = self.load_state_dict(state, strict=False)
        missing = [k for k in result.missing_keys if not (skip_char_aligner and k.startswith("char_aligner."))]
        if missing:
            raise RuntimeError(f"checkpoint is missing {len(missing)} keys, e.g. {missing[:5]}")
        if result.unexpected_keys:
            warnings.warn(f"checkpoint has {len(result.unexpected_keys)} unexpected keys, e.g. "
                          f"{result.unexpected_keys[:5]}", UserWarning, stacklevel=2)

    def to_config(self, path: str | os.PathLike, pretrained: bool = False,
                  skip_char_aligner_state_dict: bool = True) -> Path:
        """Write ``config.json`` (and, with ``pretrained``, the weights and the FAISS index beside it)."""
        from .._blocks.checkpoint import module_config, save_weights

        path = Path(path)
        path = path if path.suffix == ".json" else Path(str(path) + ".json")
        config: dict[str, Any] = {}
        for slot in SLOTS:
            module = getattr(self, slot)
            if module is not None:
                config[f"{slot}_name"] = type(module).__name__
                config[f"{slot}_config"] = module_config(module)
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(json.dumps(config, indent=2))
        if pretrained:
            state = {k: v.detach().cpu() for k, v in self.state_dict().items()
                     if not (skip_char_aligner_state_dict and k.startswith("char_aligner."))}
            save_weights(state, path.with_suffix(".safetensors"))
            if self.retriever is not None and self.retriever.index is not None:
                self.retriever.save_index(path.with_suffix(".faiss"))
        return path

    def to_pretrained(self, path: str | os.PathLike) -> Path:
        return self.to_config(path, pretrained=True)

    # ---- component methods --------------------------------------------------------------------
    def sig_to_durs(self, sig: torch.Tensor, aligner_state: Any = (), length: torch.Tensor | None = None,
                    return_transcript: bool = False, return_state: bool = False, **aligner_kwargs: Any) -> Any:
        if self.char_aligner is None:
            raise RuntimeError("this DyCAST has no char_aligner (boundary_source='char_aligner' needs MMS)")
        durs, transcripts = self.char_aligner(sig, length=length, **aligner_kwargs)
        out: tuple = ((durs,) + ((transcripts,) if return_transcript else ())
                      + ((aligner_state,) if return_state else ()))
        return out if len(out) > 1 else durs

    def feats_to_durs(self, feats: torch.Tensor, boundary_predictor_state: Any = (), length: torch.Tensor | None = None,
                      sample: bool = False, return_state: bool = False, **kwargs: Any) -> Any:
        logits, state = self.boundary_predictor(feats, boundary_predictor_state)
        decode = self.boundary_predictor.sample if sample else self.boundary_predictor.decode
        durs = decode(logits, length, **kwargs)
        return (durs, state) if return_state else durs

    def lats_to_plats(self, lats: torch.Tensor, durs: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor | None]:
        plats = self.downsampler(lats, durs)
        return plats, _relative_length((durs > 0).sum(dim=1), durs.shape[1])

    def plats_to_toks(self, plats: torch.Tensor) -> torch.Tensor:
        return self.quantizer.lats_to_toks(plats)

    def plats_to_pcodes(self, plats: torch.Tensor) -> torch.Tensor:
        return self.quantizer.lats_to_codes(plats)

    def toks_to_pcodes(self, toks: torch.Tensor) -> torch.Tensor:
        return self.quantizer.toks_to_codes(toks)

    def pcodes_to_toks(self, pcodes: torch.Tensor) -> torch.Tensor:
        return self.quantizer.codes_to_toks(pcodes)

    def pcodes_to_durs(self, pcodes: torch.Tensor, duration_predictor_state: Any = (),
                       length: torch.Tensor | None = None, sample: bool = False, return_state: bool = False,
                       **kwargs: Any) -> Any:
        mu_free, state = self.duration_predictor(pcodes, duration_predictor_state)
        decode = self.duration_predictor.sample if sample else self.duration_predictor.decode
        durs = decode(mu_free, length, **kwargs)
        return (durs, state) if return_state else durs

    def pcodes_to_codes(self, pcodes: torch.Tensor, durs: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor | None]:
        codes = self.upsampler(pcodes, durs)
        return codes, _relative_length(durs.sum(dim=1).to(codes.device), codes.shape[1])

    def codes_to_qfeats(self, codes: torch.Tensor, decompressor_state: Any = (), return_state: bool = False) -> Any:
        qfeats, state = self.decompressor(codes, decompressor_state)
        return (qfeats, state) if return_state else qfeats

    def qfeats_to_feats(self, qfeats: torch.Tensor, retriever_state: Any = (), sim_threshold: float = 0.97,
                        blend: float = 1.0, return_state: bool = False) -> Any:
        if self.retriever is None:
            raise RuntimeError("this DyCAST has no retriever (use_retriever=True needs one)")
        feats, c_state, d_state = self.retriever(qfeats, sim_threshold=sim_threshold, blend=blend)
        return (feats, [c_state, d_state]) if return_state else feats

    def forward(self, sig: torch.Tensor, encoder_state: Any = (), compressor_state: Any = (),
                boundary_predictor_state: Any = (), duration_predictor_state: Any = (), decompressor_state: Any = (),
                decoder_state: Any = (), aligner_state: Any = (), retriever_state: Any = (),
                length: torch.Tensor | None = None, boundary_source: str = "boundary_decode",
                duration_source: str = "duration_decode", budget_decode: bool = False, use_retriever: bool = False,
                sim_threshold: float = 0.97, blend: float = 1.0, matching_set: torch.Tensor | None = None,
                topk: int = 4, num_splits: int = 1, output_length: int | None = None, return_state: bool = False,
                aligner_kwargs: dict | None = None, boundary_predictor_kwargs: dict | None = None,
                duration_predictor_kwargs: dict | None = None) -> tuple:
        """Encode and decode; returns ``(toks, pcodes, rec_sig)`` (plus the states with ``return_state``).

        Unlike the reference, a ``num_frames`` inferred for ``budget_decode`` is not written back
        into the caller's ``duration_predictor_kwargs``.
        """
        if boundary_source not in ("char_aligner", "boundary_decode", "boundary_sample"):
            raise ValueError(f"unknown boundary_source {boundary_source!r}")
        if duration_source not in ("original", "duration_decode", "duration_sample"):
            raise ValueError(f"unknown duration_source {duration_source!r}")
        dur_kwargs = dict(duration_predictor_kwargs or {})
        feats, encoder_state = self.sig_to_feats(sig, encoder_state, length, return_state=True)
        if budget_decode and "num_frames" not in dur_kwargs:
            frames = feats.shape[1]
            dur_kwargs["num_frames"] = (torch.full((feats.shape[0],), frames, dtype=torch.long, device=feats.device)
                                        if length is None else torch.round(length.to(feats.device) * frames).long())
        if boundary_source == "char_aligner":
            durs_enc = self.sig_to_durs(sig, length=length, **(aligner_kwargs or {}))
        else:
            durs_enc, boundary_predictor_state = self.feats_to_durs(
                feats, boundary_predictor_state, length, sample=boundary_source == "boundary_sample",
                return_state=True, **(boundary_predictor_kwargs or {}))
        lats, compressor_state = self.feats_to_lats(feats, compressor_state, return_state=True)
        plats, plats_length = self.lats_to_plats(lats, durs_enc)
        toks, pcodes = self.plats_to_toks(plats), self.plats_to_pcodes(plats)
        if duration_source == "original":
            durs_dec = durs_enc
        else:
            durs_dec, duration_predictor_state = self.pcodes_to_durs(
                pcodes, duration_predictor_state, plats_length, sample=duration_source == "duration_sample",
                return_state=True, **dur_kwargs)
        codes, _ = self.pcodes_to_codes(pcodes, durs_dec)
        qfeats, decompressor_state = self.codes_to_qfeats(codes, decompressor_state, return_state=True)
        if use_retriever:
            qfeats, retriever_state = self.qfeats_to_feats(qfeats, retriever_state, sim_threshold, blend,
                                                           return_state=True)
        rec_sig, decoder_state = self.feats_to_sig(qfeats, decoder_state, matching_set, topk, num_splits,
                                                   output_length, return_state=True)
        if not return_state:
            return toks, pcodes, rec_sig
        return (toks, pcodes, rec_sig, encoder_state, compressor_state, boundary_predictor_state,
                duration_predictor_state, decompressor_state, decoder_state, aligner_state, retriever_state)

def _relative_length(valid: torch.Tensor, total: int) -> torch.Tensor | None:
    if total == 0 or bool((valid == total).all()):
        return None
    return valid.float() / total
