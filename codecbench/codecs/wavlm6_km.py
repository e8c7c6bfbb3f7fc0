"""WavLM6-KM (lucadellalib/discrete-wavlm-codec): WavLM-large layer 6 -> k-means 512 tokens at 50 Hz
(49 per second) -> conformer dequantizer -> HiFi-GAN, through the official torch.hub code.

The official code needs SpeechBrain (which imports torchaudio, unusable beside the CPU torch 2.13
wheel): it runs in the ``wavlmkm`` tox environment (torch 2.9.1 + torchaudio 2.9.1 + speechbrain).
Offline, point asset ``wavlm6-km-repo`` (``params.repo``, ``CODECBENCH_ASSET_WAVLM6_KM_REPO`` or config
``assets:``) at a clone of the repository
and have ``microsoft/wavlm-large`` and ``lucadellalib/discrete-wavlm-codec`` in the Hugging Face cache.
"""

from __future__ import annotations

import importlib.util
from pathlib import Path
from typing import Any

import torch

from codecbench.api import Capabilities, Count, GroupedCodec, Tokens, assets, map_length_groups, register_codec

PLUGIN_HINT = ("tox -e wavlmkm (torch 2.9.1 + torchaudio + speechbrain; the official code is torch.hub-only: "
               "github.com/lucadellalib/discrete-wavlm-codec)")
HUB_REPO = "lucadellalib/discrete-wavlm-codec"

if importlib.util.find_spec("speechbrain") is None:
    raise ModuleNotFoundError("speechbrain is not installed", name="speechbrain")


def load_hub_model(repo: str | None, layer_ids: tuple[int, ...]) -> Any:
    """The official ``discrete_wavlm_large`` codec from a local clone or (online) GitHub."""
    local = repo and Path(repo).expanduser().is_dir()
    if not local and assets.offline():
        raise assets.AssetNotFound(
            f"wavlm6-km: the model code lives only on GitHub ({HUB_REPO}, torch.hub). Offline, clone it "
            f"elsewhere and set {assets.env_var('wavlm6-km-repo')}=/path/to/clone or params.repo")
    try:
        return torch.hub.load(str(Path(str(repo)).expanduser()) if local else HUB_REPO, "discrete_wavlm_large",
                              source="local" if local else "github", layer_ids=layer_ids, trust_repo=True)
    except Exception as err:  # noqa: BLE001 - re-raised with what to do
        raise assets.AssetNotFound(
            f"wavlm6-km: could not build {HUB_REPO}:discrete_wavlm_large ({type(err).__name__}: {err}); it downloads "
            "microsoft/wavlm-large and quantizer/dequantizer/vocoder_6.safetensors from the Hub") from err


@register_codec("wavlm6-km")
class WavLM6KM(GroupedCodec):
    """WavLM-large layer 6 + k-means (512 centroids), 16 kHz, 50 Hz; kNN-VC on WavLM features."""

    sample_rate = output_sample_rate = 16000
    nominal_frame_rate = 50.0
    capabilities = Capabilities(has_features=True, has_embeddings=True)
    assets = (assets.Asset("wavlm6-km-repo", "a clone of the discrete-wavlm-codec repository (torch.hub code)",
                           f"github.com/{HUB_REPO}", files=("hubconf.py",), licence="Apache-2.0"),)

    def __init__(self, repo: str | None = None, layer_ids: tuple[Count, ...] = (6,)) -> None:
        super().__init__()
        self.layer_ids = tuple(layer_ids)
        self.model = load_hub_model(assets.locate("wavlm6-km-repo", repo).location, self.layer_ids).eval()
        self.codebook_sizes = [512] * len(self.layer_ids)
        self.nominal_bitrate = 50.0 * 9 * len(self.layer_ids)
        self._id = f"{HUB_REPO}:{'-'.join(map(str, self.layer_ids))}"

    def _encode(self, wav: torch.Tensor) -> torch.Tensor:
        return self.model.feats_to_toks(self.model.sig_to_feats(wav.to(self._device())))  # [B, N, K]

    def _decode(self, codes: torch.Tensor) -> torch.Tensor:
        feats = self.model.qfeats_to_feats(self.model.toks_to_qfeats(codes))
        return self.model.feats_to_sig(feats)[:, 0]

    def embeddings(self) -> list[torch.Tensor]:
        """The k-means centroids, ``[512, 1024]`` per layer."""
        toks = torch.arange(512, device=self._device())[:, None].expand(-1, len(self.layer_ids))
        return list(self.model.toks_to_qfeats(toks).movedim(-1, 0))  # [C, H, K] -> K x [C, H]

    def features(self, tokens: Tokens) -> torch.Tensor:
        """Centroids of the tokens ``[B, N, 1024]`` (averaged over layers): the kNN-VC query."""
        return self.model.toks_to_qfeats(tokens.codes.to(self._device())).mean(dim=-1)

    def encoder_features(self, wav: torch.Tensor, lengths: torch.Tensor) -> torch.Tensor:
        """WavLM features ``[B, N, 1024]`` (averaged over layers): the kNN-VC matching set."""
        return map_length_groups(lambda w: self.model.sig_to_feats(w.to(self._device())).mean(dim=-1),
                                 wav, lengths)[0]

    def decode_features(self, features: torch.Tensor, lengths: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """The vocoder on continuous features (the dequantizer is skipped, as in the paper's kNN-VC)."""
        feats = features[..., None].expand(*features.shape, len(self.layer_ids))
        return self.model.feats_to_sig(feats)[:, 0], lengths * 320

    def cache_id(self) -> str:
        return f"wavlm6-km:{self._id}"
