"""SemantiCodec (haoheliu/SemantiCodec-inference) at 0.65 kbps: token_rate 50 = 25 Hz x 2 streams
(semantic k-means 8192 + acoustic VQ 8192), decoded by latent diffusion (DDIM 50 steps, cfg 2.0).

The package is git-only, imports torchaudio and downloads its weights (``haoheliu/SemantiCodec``)
when built: it runs in the ``semanticodec`` tox environment with network or a filled Hugging Face
cache, realistically on a GPU (about 1B parameters, 50 diffusion steps per 10.24 s window). Each
item goes through the package's own file-based ``encode(path)`` / ``decode(tokens)``.
"""

from __future__ import annotations

import importlib.util
import tempfile
from pathlib import Path
from typing import Any, Literal

import numpy as np
import soundfile as sf
import torch

from codecbench.api import Capabilities, GroupedCodec, PositiveFloat, PositiveInt, assets, register_codec

PLUGIN_GPU = "a GPU in practice (its decoder is a latent diffusion model)"
PLUGIN_HINT = ("tox -e semanticodec (git-only package with torchaudio: "
               "pip install git+https://github.com/haoheliu/SemantiCodec-inference@8dc464c; a GPU in practice)")

if importlib.util.find_spec("semanticodec") is None:
    raise ModuleNotFoundError("semanticodec is not installed", name="semanticodec")


def load_model(token_rate: int, semantic_vocab_size: int, ddim_sample_step: int, cfg_scale: float) -> Any:
    if assets.offline():
        raise assets.AssetNotFound(
            "semanticodec: the package downloads haoheliu/SemantiCodec in its constructor; unset HF_HUB_OFFLINE "
            "where you have network (or a Hugging Face cache that holds it)")
    from semanticodec import SemantiCodec

    return SemantiCodec(token_rate=token_rate, semantic_vocab_size=semantic_vocab_size,
                        ddim_sample_step=ddim_sample_step, cfg_scale=cfg_scale)


@register_codec("semanticodec-0.65kbps")
class SemantiCodec2cb(GroupedCodec):
    """SemantiCodec: 16 kHz, 25 Hz x (semantic 8192 + acoustic 8192) = 0.65 kbps; diffusion decoder."""

    sample_rate = output_sample_rate = 16000
    capabilities = Capabilities(multi_codebook=True, has_embeddings=True)

    def __init__(self, token_rate: Literal[25, 50, 100] = 50, semantic_vocab_size: PositiveInt = 8192,
                 ddim_sample_step: PositiveInt = 50, cfg_scale: PositiveFloat = 2.0,
                 tables: Literal["tokens", "authors"] = "tokens") -> None:
        super().__init__()
        self.tables = tables
        self.model = load_model(token_rate, semantic_vocab_size, ddim_sample_step, cfg_scale)
        self.nominal_frame_rate = token_rate / 2
        self.codebook_sizes = [semantic_vocab_size, 8192]
        self.nominal_bitrate = self.nominal_frame_rate * float(np.log2(semantic_vocab_size) + 13)
        self._id = f"semanticodec:{token_rate}:{semantic_vocab_size}:{ddim_sample_step}:{cfg_scale}"

    def _device(self) -> torch.device:
        return torch.device(getattr(self.model, "device", "cpu") or "cpu")

    def _encode(self, wav: torch.Tensor) -> torch.Tensor:
        """Each item through ``encode(path)``: tokens ``[1, N, 2]`` (semantic, acoustic)."""
        codes = []
        with tempfile.TemporaryDirectory() as tmp:
            for i, item in enumerate(wav.float().cpu().numpy()):
                path = Path(tmp) / f"{i}.wav"
                sf.write(path, item, self.sample_rate, subtype="FLOAT")
                codes.append(torch.as_tensor(self.model.encode(str(path))).reshape(-1, 2))
        return torch.stack(codes)

    def _decode(self, codes: torch.Tensor) -> torch.Tensor:
        outs = [torch.as_tensor(np.asarray(self.model.decode(c[None]))).reshape(-1) for c in codes]
        return torch.stack(outs).float()

    def embeddings(self) -> list[torch.Tensor]:
        """Semantic centroids and acoustic VQ vectors (the paper concatenates them, 1536-d), in the tokens' order
        (``tables: tokens``), or swapped as the authors' ``audiocodecs/semanticodec.py`` ``embs()`` returns them
        (``tables: authors``: acoustic first, so the semantic stream starts from acoustic vectors; the paper's
        Table 4 SemantiCodec rows were made that way)."""
        enc = self.model.encoder
        idx = torch.arange(self.codebook_sizes[0], device=self._device())[None]
        semantic = enc.unquant(idx).reshape(self.codebook_sizes[0], -1)
        acoustic = enc.quantizer.get_output_from_indices(torch.arange(8192, device=self._device())[None])
        tables = [semantic.detach().cpu(), acoustic.reshape(8192, -1).detach().cpu()]
        return tables[::-1] if self.tables == "authors" else tables

    def cache_id(self) -> str:
        return self._id
