"""SpeechTokenizer (speechtokenizer_hubert_avg) with the first 2 of 8 RVQ codebooks (1 kbps).

The PyPI package's ``__init__`` imports its trainer (beartype, accelerate, lion_pytorch,
tensorboard, torchaudio): install it without dependencies and only the model's needs are used.
"""

from __future__ import annotations

import importlib.util
import sys
import types
from pathlib import Path
from typing import Annotated, Any

import torch

from codecbench.api import Capabilities, GroupedCodec, Range, assets, register_codec

PLUGIN_HINT = "pip install --no-deps speechtokenizer==1.0.1 einops scipy"
HUB_ID = "fnlp/SpeechTokenizer (speechtokenizer_hubert_avg/{config.json, SpeechTokenizer.pt})"
#: config/spt_base_cfg.json of the official repository (model keys only)
BASE_CONFIG: dict[str, Any] = {"n_filters": 64, "strides": [8, 5, 4, 2], "dimension": 1024, "semantic_dimension": 768,
                               "bidirectional": True, "dilation_base": 2, "residual_kernel_size": 3,
                               "n_residual_layers": 1, "lstm_layers": 2, "activation": "ELU", "sample_rate": 16000,
                               "codebook_size": 1024, "n_q": 8}

if importlib.util.find_spec("speechtokenizer") is None or importlib.util.find_spec("einops") is None:
    raise ModuleNotFoundError("speechtokenizer is not installed", name="speechtokenizer")


def _model_class() -> Any:
    """``speechtokenizer.model.SpeechTokenizer`` without importing the training stack."""
    if "speechtokenizer.trainer" not in sys.modules and importlib.util.find_spec("beartype") is None:
        stub = types.ModuleType("speechtokenizer.trainer")
        stub.SpeechTokenizerTrainer = object  # type: ignore[attr-defined]
        sys.modules["speechtokenizer.trainer"] = stub
    from speechtokenizer.model import SpeechTokenizer

    return SpeechTokenizer


@register_codec("speechtokenizer-2cb")
class SpeechTokenizer2cb(GroupedCodec):
    """SpeechTokenizer: 16 kHz, 50 Hz, first 2 codebooks x 1024 (the first one distilled from HuBERT)."""

    sample_rate = output_sample_rate = 16000
    nominal_frame_rate = 50.0
    capabilities = Capabilities(multi_codebook=True, has_embeddings=True)
    assets = (assets.Asset("speechtokenizer-2cb", "SpeechTokenizer hubert_avg: a folder with config.json + "
                           "SpeechTokenizer.pt", HUB_ID, files=("config.json", "SpeechTokenizer.pt"),
                           licence="Apache-2.0"),)

    def __init__(self, checkpoint: str | None = None, n_q: Annotated[int, Range(1, 8)] = 2) -> None:
        super().__init__()
        cls = _model_class()
        found = self.resolve_weights("speechtokenizer-2cb", checkpoint)
        if found.location is not None:
            folder = Path(found.location)
            if not folder.is_dir():
                raise assets.AssetNotFound(assets.missing_message("speechtokenizer-2cb", f"{folder} is not a folder"))
            self.model = cls.load_from_checkpoint(str(folder / "config.json"), str(folder / "SpeechTokenizer.pt"))
        else:
            self.model = cls(BASE_CONFIG)
        self.model.eval()
        self.n_q = n_q
        self.codebook_sizes = [1024] * n_q
        self.nominal_bitrate = 50.0 * 10 * n_q
        self._id = self.weights_id

    def _encode(self, wav: torch.Tensor) -> torch.Tensor:
        return self.model.encode(wav[:, None], n_q=self.n_q).permute(1, 2, 0)  # [K, B, N] -> [B, N, K]

    def _decode(self, codes: torch.Tensor) -> torch.Tensor:
        return self.model.decode(codes.permute(2, 0, 1))[:, 0]

    def embeddings(self) -> list[torch.Tensor]:
        return [layer._codebook.embed.detach().clone() for layer in self.model.quantizer.vq.layers[: self.n_q]]

    def cache_id(self) -> str:
        return f"speechtokenizer:{self._id}:nq={self.n_q}"
