"""DAC 16 kHz with 2 of 12 codebooks (1 kbps), through transformers' DacModel (the Hub's descript/dac_16khz, which
transformers converted from descript-audio-codec's released weights: module names mapped, weight norm folded in).

The authors ran ``descript-audio-codec`` 1.0.0 itself. ``codecbench parity dac DIR`` replays fixtures of that package
(``scripts/baseline_record_fixtures.py dac``): its seeded weights go through :func:`from_descript` (the same
conversion, written here from transformers' ``convert_dac_checkpoint.py`` mapping) into this plugin."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Annotated, Any

import numpy as np
import torch

from codecbench.api import Asset, Check, Range, register_codec, register_parity

from ._hf import HFCodec, import_transformers

PLUGIN_EXTRA = "paper"


_ENCODER_UNIT = re.compile(r"^encoder\.block\.(\d+)\.block\.(\d+)\.block\.(\d+)\.(.+)$")
_ENCODER_BLOCK = re.compile(r"^encoder\.block\.(\d+)\.block\.([34])\.(.+)$")
_DECODER_UNIT = re.compile(r"^decoder\.model\.(\d+)\.block\.(\d+)\.block\.(\d+)\.(.+)$")
_DECODER_BLOCK = re.compile(r"^decoder\.model\.(\d+)\.block\.([01])\.(.+)$")
_UNIT_PARTS = ("snake1", "conv1", "snake2", "conv2")


def _descript_name(name: str) -> str:
    """A descript-audio-codec parameter name as transformers' DacModel names it."""
    tops = {"encoder.block.0.": "encoder.conv1.", "encoder.block.5.": "encoder.snake1.",
            "encoder.block.6.": "encoder.conv2.", "decoder.model.0.": "decoder.conv1.",
            "decoder.model.5.": "decoder.snake1.", "decoder.model.6.": "decoder.conv2."}
    for old, new in tops.items():
        if name.startswith(old):
            return new + name[len(old):]
    if m := _ENCODER_UNIT.match(name):
        block, unit, part, leaf = int(m[1]), int(m[2]), int(m[3]), m[4]
        return f"encoder.block.{block - 1}.res_unit{unit + 1}.{_UNIT_PARTS[part]}.{leaf}"
    if m := _ENCODER_BLOCK.match(name):
        return f"encoder.block.{int(m[1]) - 1}.{'snake1' if m[2] == '3' else 'conv1'}.{m[3]}"
    if m := _DECODER_UNIT.match(name):
        block, unit, part, leaf = int(m[1]), int(m[2]), int(m[3]), m[4]
        return f"decoder.block.{block - 1}.res_unit{unit - 1}.{_UNIT_PARTS[part]}.{leaf}"
    if m := _DECODER_BLOCK.match(name):
        return f"decoder.block.{int(m[1]) - 1}.{'snake1' if m[2] == '0' else 'conv_t1'}.{m[3]}"
    return name  # quantizer.* keeps its names


def from_descript(state: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
    """A descript-audio-codec state dict as transformers' DacModel loads it: names mapped, every weight-normed
    ``weight_g`` / ``weight_v`` pair folded into its ``weight`` (``g * v / ||v||`` over every dimension but the
    first)."""
    out: dict[str, torch.Tensor] = {}
    for name, value in state.items():
        if name.endswith(".weight_v"):
            base = name.removesuffix(".weight_v")
            gain = state[base + ".weight_g"]
            out[_descript_name(base + ".weight")] = torch._weight_norm(value, gain, 0)
        elif not name.endswith(".weight_g"):
            out[_descript_name(name)] = value
    return out


@register_codec("dac-16khz-2cb")
class DAC16kHz(HFCodec):
    """Descript Audio Codec (descript/dac_16khz), 50 Hz, first 2 codebooks x 1024."""

    assets = (Asset("dac-16khz-2cb", "DAC 16 kHz (transformers DacModel weights)", "descript/dac_16khz",
                    hub_id="descript/dac_16khz", licence="MIT"),)
    model_class = "DacModel"
    sample_rate = output_sample_rate = 16000
    nominal_frame_rate = 50.0

    def __init__(self, checkpoint: str | None = None, n_quantizers: Annotated[int, Range(1, 12)] = 2) -> None:
        super().__init__("dac-16khz-2cb", checkpoint)
        self.n_quantizers = n_quantizers
        self.codebook_sizes = [1024] * n_quantizers
        self.nominal_bitrate = 50.0 * 10 * n_quantizers

    @classmethod
    def parity_checkpoint(cls, config: dict[str, Any], state: dict[str, torch.Tensor]
                          ) -> tuple[dict[str, Any], dict[str, torch.Tensor]]:
        """A descript-audio-codec model (its keyword arguments and state dict) as transformers' checkpoint."""
        transformers = import_transformers()
        hf = transformers.DacConfig(
            encoder_hidden_size=config["encoder_dim"], downsampling_ratios=config["encoder_rates"],
            decoder_hidden_size=config["decoder_dim"], upsampling_ratios=config["decoder_rates"],
            n_codebooks=config["n_codebooks"], codebook_size=config["codebook_size"],
            codebook_dim=config["codebook_dim"], sampling_rate=config["sample_rate"],
            hop_length=int(np.prod(config["encoder_rates"])))
        return hf.to_dict(), from_descript(state)

    def latent(self, wav: torch.Tensor) -> torch.Tensor:
        return self.model.encoder(wav[None, None].to(self._device()))[0].T

    def make_config(self, transformers: Any) -> Any:
        return transformers.DacConfig(encoder_hidden_size=64, downsampling_ratios=[2, 4, 5, 8],
                                      decoder_hidden_size=1536, upsampling_ratios=[8, 5, 4, 2], n_codebooks=12,
                                      codebook_size=1024, codebook_dim=8, sampling_rate=16000, hop_length=320)

    def _encode(self, wav: torch.Tensor) -> torch.Tensor:
        return self.model.encode(wav[:, None], n_quantizers=self.n_quantizers).audio_codes.transpose(1, 2)

    def _decode(self, codes: torch.Tensor) -> torch.Tensor:
        return self.model.decode(audio_codes=codes.transpose(1, 2)).audio_values

    def embeddings(self) -> list[torch.Tensor]:
        """Post-projection code vectors (as the paper's harness): out_proj(codebook) per stream."""
        tables = []
        for q in self.model.quantizer.quantizers[: self.n_quantizers]:
            codebook = q.codebook.weight.detach()
            tables.append(q.out_proj(codebook[..., None]).squeeze(-1).detach())
        return tables


@register_parity("dac")
def check_folder(folder: str | Path) -> list[Check]:
    """``codecbench parity dac DIR``: fixtures of descript-audio-codec 1.0.0 (the authors' DAC) replayed."""
    return DAC16kHz.replay_parity(folder)
