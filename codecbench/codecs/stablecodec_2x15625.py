"""Stable Codec (stabilityai/stable-codec-speech-16k) with the post-hoc residual FSQ bottleneck
``2x15625_700bps``: 25 Hz x 2 codebooks of 5^6 levels.

``stable-codec`` pins torch 2.4 / stable-audio-tools 0.0.17 and needs FlashAttention (sliding-window
attention, no CPU inference): it runs in the ``stablecodec`` tox environment on a CUDA machine, with
the weights (Stability AI Community License) from the Hub or ``params.checkpoint`` (a local folder
holding model_config.json + the checkpoint). Inputs are zero-padded to 320 samples and not
loudness-normalised, as in the paper's wrapper.
"""

from __future__ import annotations

import importlib.util
import math
from pathlib import Path
from typing import Any

import torch
import torch.nn.functional as F

from codecbench.api import Capabilities, GroupedCodec, PositiveInt, assets, register_codec

PLUGIN_GPU = "a CUDA GPU with flash-attn (stable-codec's transformer needs it)"
PLUGIN_HINT = "tox -e stablecodec (stable-codec==0.1.2 pins torch 2.4; needs a CUDA GPU with flash-attn)"
HUB_ID = "stabilityai/stable-codec-speech-16k"
PRESETS = {(1, 46656): "1x46656_400bps", (2, 15625): "2x15625_700bps", (4, 729): "4x729_1000bps"}
WINDOW = 320

if importlib.util.find_spec("stable_codec") is None:
    raise ModuleNotFoundError("stable_codec is not installed", name="stable_codec")


def load_model(checkpoint: str | None, preset: str) -> Any:
    """The official model from a local folder (model_config.json + one .ckpt/.safetensors) or the Hub."""
    if checkpoint is None and assets.offline():
        raise assets.AssetNotFound(f"stablecodec: no params.checkpoint and HF_HUB_OFFLINE is set; download {HUB_ID} "
                                   "(model_config.json + checkpoint) where you have network and pass the folder")
    from stable_codec import StableCodec

    try:
        if checkpoint:
            folder = Path(checkpoint).expanduser()
            weights = sorted([*folder.glob("*.ckpt"), *folder.glob("*.safetensors")])
            if not (folder / "model_config.json").is_file() or not weights:
                raise FileNotFoundError(f"{folder} lacks model_config.json or a .ckpt/.safetensors file")
            model = StableCodec(model_config_path=str(folder / "model_config.json"), ckpt_path=str(weights[0]))
        else:
            model = StableCodec(pretrained_model=HUB_ID)
    except Exception as err:  # noqa: BLE001 - re-raised with what to do
        raise assets.AssetNotFound(f"stablecodec: could not load {checkpoint or HUB_ID} ({type(err).__name__}: "
                                   f"{err}); download {HUB_ID} where you have network and pass the folder") from err
    model.set_posthoc_bottleneck(preset)
    return model


@register_codec("stablecodec-2x15625")
class StableCodec2x15625(GroupedCodec):
    """Stable Codec: 16 kHz, 25 Hz, 2 x 15625 residual FSQ (0.70 kbps)."""

    sample_rate = output_sample_rate = 16000
    nominal_frame_rate = 25.0
    capabilities = Capabilities(multi_codebook=True, has_embeddings=True)

    def __init__(self, checkpoint: str | None = None, num_codebooks: PositiveInt = 2,
                 vocab_size: PositiveInt = 15625) -> None:
        super().__init__()
        if (num_codebooks, vocab_size) not in PRESETS:
            raise ValueError(f"stablecodec: no post-hoc bottleneck {num_codebooks}x{vocab_size}; "
                             f"choose one of {sorted(PRESETS)}")
        self.model = load_model(checkpoint, PRESETS[(num_codebooks, vocab_size)])
        self.codebook_sizes = [vocab_size] * num_codebooks
        self.nominal_bitrate = 25.0 * num_codebooks * math.log2(vocab_size)
        self._id = f"stablecodec:{checkpoint or HUB_ID}:{num_codebooks}x{vocab_size}"

    def _device(self) -> torch.device:
        return next(iter(self.model.parameters())).device

    def _encode(self, wav: torch.Tensor) -> torch.Tensor:
        wav = F.pad(wav, (0, -wav.shape[-1] % WINDOW)).to(self._device())
        _, tokens = self.model.encode(wav[:, None], posthoc_bottleneck=True)  # K x [B, N, 1]
        return torch.cat(list(tokens), dim=-1)

    def _decode(self, codes: torch.Tensor) -> torch.Tensor:
        return self.model.decode(list(codes[..., None, :].unbind(dim=-1)), posthoc_bottleneck=True)[:, 0]

    def embeddings(self) -> list[torch.Tensor]:
        """The 6-d FSQ code of every index, per stage (``[15625, 6]`` each)."""
        idx = torch.arange(self.codebook_sizes[0], device=self._device())[:, None, None]
        return [q.indices_to_codes(idx).reshape(self.codebook_sizes[0], -1).detach().cpu()
                for q in self.model.residual_fsq.quantizers]

    def cache_id(self) -> str:
        return self._id
