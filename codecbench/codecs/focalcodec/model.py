"""FocalCodec: top-level model with the official (v0.0.2) public API and config format.

Pipeline: WavLM -> FocalEncoder -> L2 norm -> binary spherical quantizer -> FocalDecoder ->
Vocos (16 kHz) or WaveNeXt (24 kHz). One token per compressor frame.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

import torch
from torch import nn

from .._blocks.checkpoint import apply_overrides, load_weights, resolve_files, save_weights
from .._blocks.codec_model import WavLMCodecMixin
from .._blocks.focal import FocalDecoder, FocalEncoder
from .._blocks.vocos import Vocos
from .._blocks.wavlm import WavLM
from .bsq import BinarySphericalQuantizer
from .legacy import remap_state_dict
from .wavenext import WaveNeXt

REGISTRY: dict[str, type[nn.Module]] = {
    cls.__name__: cls for cls in (BinarySphericalQuantizer, FocalDecoder, FocalEncoder, Vocos, WaveNeXt, WavLM)
}
SLOTS = ("encoder", "compressor", "quantizer", "decompressor", "decoder")
DEFAULT_NAMES = {"encoder": "WavLM", "compressor": "FocalEncoder", "quantizer": "BinarySphericalQuantizer",
                 "decompressor": "FocalDecoder", "decoder": "WaveNeXt"}
#: v0.0.2 defaults that differ from the shared blocks' DyCAST-oriented defaults.
SLOT_DEFAULTS = {"compressor": {"output_dim": 12}, "decompressor": {"input_dim": 12}}
DEFAULT_CONFIGS = ("lucadellalib/focalcodec_50hz", "lucadellalib/focalcodec_50hz_65k_causal",
                   "lucadellalib/focalcodec_50hz_4k_causal", "lucadellalib/focalcodec_50hz_2k_causal",
                   "lucadellalib/focalcodec_25hz", "lucadellalib/focalcodec_12_5hz")


class FocalCodec(WavLMCodecMixin, nn.Module):
    """Low-bitrate single-codebook speech codec (FocalCodec, FocalCodec-Stream)."""

    __version__ = "0.0.2"
    # the stages, built by name from the config (the official classes for each slot)
    encoder: WavLM
    compressor: FocalEncoder
    quantizer: BinarySphericalQuantizer
    decompressor: FocalDecoder
    decoder: WaveNeXt | Vocos

    def __init__(self, encoder_name: str = "WavLM", encoder_config: dict | None = None,
                 compressor_name: str = "FocalEncoder", compressor_config: dict | None = None,
                 quantizer_name: str = "BinarySphericalQuantizer", quantizer_config: dict | None = None,
                 decompressor_name: str = "FocalDecoder", decompressor_config: dict | None = None,
                 decoder_name: str = "WaveNeXt", decoder_config: dict | None = None) -> None:
        super().__init__()
        names = dict(zip(SLOTS, (encoder_name, compressor_name, quantizer_name, decompressor_name, decoder_name),
                         strict=True))
        configs = dict(zip(SLOTS, (encoder_config, compressor_config, quantizer_config, decompressor_config,
                                   decoder_config), strict=True))
        for slot in SLOTS:
            name, config = names[slot], configs[slot] or {}
            if name not in REGISTRY:
                raise ValueError(f"unknown module {name!r} for {slot}; known: {sorted(REGISTRY)}")
            setattr(self, f"{slot}_name", name)
            setattr(self, f"{slot}_config", config)
            kwargs = {**SLOT_DEFAULTS.get(slot, {}), **config} if name in ("FocalEncoder", "FocalDecoder") else config
            setattr(self, slot, REGISTRY[name](**kwargs))
        self.model_id: str | None = None

    # ---- properties ---------------------------------------------------------------------------
    @property
    def causal(self) -> bool:
        return all(bool(getattr(m, "causal", False)) for m in (self.encoder, self.compressor, self.decompressor,
                                                               self.decoder))

    @property
    def codebook(self) -> torch.Tensor:
        return self.quantizer.codebook.clone()

    @classmethod
    def from_config(cls, config: str | os.PathLike, pretrained: bool = False, overrides: dict | None = None,
                    **hf_kwargs: Any) -> "FocalCodec":
        """Build from ``config.json`` (file, folder or Hub id); with ``pretrained``, load the weights
        strictly after remapping legacy (v0.0.1) key names."""
        files = resolve_files(str(config), pretrained, **hf_kwargs)
        data = apply_overrides(json.loads(Path(files.config).read_text()), overrides)
        unknown = set(data) - {f"{s}_{k}" for s in SLOTS for k in ("name", "config")}
        if unknown:
            raise TypeError(f"FocalCodec config has unknown keys {sorted(unknown)}")
        model = cls(**data)
        if pretrained:
            state = remap_state_dict(load_weights(files.weights), list(model.state_dict()))
            model.load_state_dict(state, strict=True)
        model.model_id = str(config)
        return model

    @classmethod
    def from_pretrained(cls, config: str | os.PathLike = "lucadellalib/focalcodec_50hz", overrides: dict | None = None,
                        **kwargs: Any) -> "FocalCodec":
        return cls.from_config(config, pretrained=True, overrides=overrides, **kwargs)

    def to_config(self, path: str | os.PathLike, pretrained: bool = False) -> Path:
        path = Path(path)
        path = path if path.suffix == ".json" else Path(str(path) + ".json")
        path.parent.mkdir(parents=True, exist_ok=True)
        data = {f"{s}_{k}": getattr(self, f"{s}_{k}") for s in SLOTS for k in ("name", "config")}
        path.write_text(json.dumps(data, indent=2))
        if pretrained:
            save_weights({k: v.detach().cpu() for k, v in self.state_dict().items()}, path.with_suffix(".safetensors"))
        return path

    def to_pretrained(self, path: str | os.PathLike) -> Path:
        return self.to_config(path, pretrained=True)

    # ---- stages -------------------------------------------------------------------------------
    def lats_to_toks(self, lats: torch.Tensor) -> torch.Tensor:
        return self.quantizer.lats_to_toks(lats)

    def lats_to_codes(self, lats: torch.Tensor) -> torch.Tensor:
        return self.quantizer.lats_to_codes(lats)

    def toks_to_codes(self, toks: torch.Tensor) -> torch.Tensor:
        return self.quantizer.toks_to_codes(toks)

    def codes_to_toks(self, codes: torch.Tensor) -> torch.Tensor:
        return self.quantizer.codes_to_toks(codes)

    def codes_to_qfeats(self, codes: torch.Tensor, decompressor_state: Any = (), return_state: bool = False) -> Any:
        qfeats, state = self.decompressor(codes, decompressor_state)
        return (qfeats, state) if return_state else qfeats

    def sig_to_lats(self, sig: torch.Tensor, encoder_state: Any = (), compressor_state: Any = (),
                    length: torch.Tensor | None = None, return_state: bool = False) -> Any:
        feats, enc = self.sig_to_feats(sig, encoder_state, length, return_state=True)
        lats, comp = self.feats_to_lats(feats, compressor_state, return_state=True)
        return (lats, enc, comp) if return_state else lats

    def sig_to_toks(self, sig: torch.Tensor, encoder_state: Any = (), compressor_state: Any = (),
                    length: torch.Tensor | None = None, return_state: bool = False) -> Any:
        lats, enc, comp = self.sig_to_lats(sig, encoder_state, compressor_state, length, return_state=True)
        toks = self.lats_to_toks(lats)
        return (toks, enc, comp) if return_state else toks

    def sig_to_codes(self, sig: torch.Tensor, encoder_state: Any = (), compressor_state: Any = (),
                     length: torch.Tensor | None = None, return_state: bool = False) -> Any:
        lats, enc, comp = self.sig_to_lats(sig, encoder_state, compressor_state, length, return_state=True)
        codes = self.lats_to_codes(lats)
        return (codes, enc, comp) if return_state else codes

    def sig_to_qfeats(self, sig: torch.Tensor, encoder_state: Any = (), compressor_state: Any = (),
                      decompressor_state: Any = (), length: torch.Tensor | None = None,
                      return_state: bool = False) -> Any:
        codes, enc, comp = self.sig_to_codes(sig, encoder_state, compressor_state, length, return_state=True)
        qfeats, decomp = self.codes_to_qfeats(codes, decompressor_state, return_state=True)
        return (qfeats, enc, comp, decomp) if return_state else qfeats

    def sig_to_sig(self, sig: torch.Tensor, encoder_state: Any = (), compressor_state: Any = (),
                   decompressor_state: Any = (), decoder_state: Any = (), length: torch.Tensor | None = None,
                   return_state: bool = False) -> Any:
        out = self.forward(sig, encoder_state, compressor_state, decompressor_state, decoder_state, length,
                           return_state=True)
        return (out[2], *out[3:]) if return_state else out[2]

    def feats_to_toks(self, feats: torch.Tensor, compressor_state: Any = (), return_state: bool = False) -> Any:
        lats, comp = self.feats_to_lats(feats, compressor_state, return_state=True)
        return (self.lats_to_toks(lats), comp) if return_state else self.lats_to_toks(lats)

    def feats_to_codes(self, feats: torch.Tensor, compressor_state: Any = (), return_state: bool = False) -> Any:
        lats, comp = self.feats_to_lats(feats, compressor_state, return_state=True)
        return (self.lats_to_codes(lats), comp) if return_state else self.lats_to_codes(lats)

    def feats_to_qfeats(self, feats: torch.Tensor, compressor_state: Any = (), decompressor_state: Any = (),
                        return_state: bool = False) -> Any:
        codes, comp = self.feats_to_codes(feats, compressor_state, return_state=True)
        qfeats, decomp = self.codes_to_qfeats(codes, decompressor_state, return_state=True)
        return (qfeats, comp, decomp) if return_state else qfeats

    def lats_to_qfeats(self, lats: torch.Tensor, decompressor_state: Any = (), return_state: bool = False) -> Any:
        return self.codes_to_qfeats(self.lats_to_codes(lats), decompressor_state, return_state)

    def toks_to_qfeats(self, toks: torch.Tensor, decompressor_state: Any = (), return_state: bool = False) -> Any:
        return self.codes_to_qfeats(self.toks_to_codes(toks), decompressor_state, return_state)

    def codes_to_sig(self, codes: torch.Tensor, decompressor_state: Any = (), decoder_state: Any = (),
                     matching_set: torch.Tensor | None = None, topk: int = 4, num_splits: int = 1,
                     output_length: int | None = None, return_state: bool = False) -> Any:
        qfeats, decomp = self.codes_to_qfeats(codes, decompressor_state, return_state=True)
        sig, dec = self.feats_to_sig(qfeats, decoder_state, matching_set, topk, num_splits, output_length,
                                     return_state=True)
        return (sig, decomp, dec) if return_state else sig

    def toks_to_sig(self, toks: torch.Tensor, decompressor_state: Any = (), decoder_state: Any = (),
                    matching_set: torch.Tensor | None = None, topk: int = 4, num_splits: int = 1,
                    output_length: int | None = None, return_state: bool = False) -> Any:
        """The decoding entry point: tokens ``[B, T']`` -> waveform (no length fix unless asked)."""
        return self.codes_to_sig(self.toks_to_codes(toks), decompressor_state, decoder_state, matching_set, topk,
                                 num_splits, output_length, return_state)

    def forward(self, sig: torch.Tensor, encoder_state: Any = (), compressor_state: Any = (),
                decompressor_state: Any = (), decoder_state: Any = (), length: torch.Tensor | None = None,
                return_state: bool = False) -> tuple:
        """``(toks, codes, rec_sig)``; rec is cut or replicate-padded to ``int(S * sr_out / sr_in)``."""
        lats, enc, comp = self.sig_to_lats(sig, encoder_state, compressor_state, length, return_state=True)
        codes = self.lats_to_codes(lats)
        toks = self.codes_to_toks(codes)
        output_length = int(sig.shape[-1] * self.sample_rate_output / self.sample_rate_input)
        rec, decomp, dec = self.codes_to_sig(codes, decompressor_state, decoder_state,
                                             output_length=output_length, return_state=True)
        return (toks, codes, rec, enc, comp, decomp, dec) if return_state else (toks, codes, rec)
