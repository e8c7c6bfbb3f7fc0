"""WavTokenizer as a harness codec: 24 kHz, one 4096-way token per 600 samples (40 Hz, 0.48 kbps).

Weights: asset ``wavtokenizer-40hz`` (``checkpoint=``: the Lightning ``.ckpt``, a folder holding
``wavtokenizer_large_unify_600_24k.ckpt``, or the Hub id ``novateur/WavTokenizer-large-unify-40token``;
or ``CODECBENCH_ASSET_WAVTOKENIZER_40HZ``, config ``assets:``). Lightning checkpoints pickle training objects beside the
tensors: they load with ``torch.load(weights_only=True)`` when possible, else only with
``trust_checkpoint=True`` (full unpickling; use it for files you trust). Without weights the real
architecture runs with seeded random weights and every row is flagged.
"""

from __future__ import annotations

import pickle

import torch

from codecbench.api import Count, assets, register_codec

from .._blocks.checkpoint import fetch_file
from .._blocks.latent_codec import LatentVQCodec
from .model import LARGE_40HZ, WavTokenizer

HUB_ID = "novateur/WavTokenizer-large-unify-40token"
CKPT = "wavtokenizer_large_unify_600_24k.ckpt"


def load_lightning_state(path: str, trust_checkpoint: bool) -> dict[str, torch.Tensor]:
    """The ``state_dict`` of a Lightning checkpoint (or a plain state dict)."""
    try:
        ckpt = torch.load(path, map_location="cpu", weights_only=not trust_checkpoint)
    except pickle.UnpicklingError as err:
        raise assets.AssetNotFound(
            f"wavtokenizer: {path} holds pickled training objects that torch.load(weights_only=True) refuses; "
            "if you trust the file, pass params.trust_checkpoint: true") from err
    return ckpt.get("state_dict", ckpt)


@register_codec("wavtokenizer-40hz")
class WavTokenizerCodec(LatentVQCodec):
    """WavTokenizer large-unify (novateur/WavTokenizer-large-unify-40token): 24 kHz, 40 Hz, 1 x 4096; kNN-VC on
    latents."""

    sample_rate = output_sample_rate = 24000
    nominal_frame_rate = 40.0
    codebook_sizes = [4096]
    nominal_bitrate = 40.0 * 12
    assets = (assets.Asset("wavtokenizer-40hz", "WavTokenizer large-unify 40 Hz (Lightning checkpoint)",
                           f"{HUB_ID} ({CKPT})", hub_id=HUB_ID, licence="MIT", size="1.7 GB"),)

    def __init__(self, checkpoint: str | None = None, trust_checkpoint: bool = False, bandwidth_id: Count = 0,
                 model: WavTokenizer | None = None) -> None:
        """``model``: an in-memory model (parity replays) instead of the asset's weights."""
        super().__init__()
        if model is None:
            found = self.resolve_weights("wavtokenizer-40hz", checkpoint)
            model = WavTokenizer(**{**LARGE_40HZ, "bandwidth_id": bandwidth_id})
            if found.location is not None:
                path = fetch_file(found.location, CKPT, "wavtokenizer-40hz")
                model.load_official(load_lightning_state(path, trust_checkpoint))
        self.model = model.eval()
        self.hop = self.model.hop_length
        self._id = f"{self.weights_id}:bw={bandwidth_id}"

    def embeddings(self) -> list[torch.Tensor]:
        """The 512-d codebook ``[4096, 512]``."""
        return [layer._codebook.embed.detach().clone() for layer in self.model.quantizer.vq.layers]

    def cache_id(self) -> str:
        return f"wavtokenizer:{self._id}"
