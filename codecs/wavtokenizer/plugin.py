"""WavTokenizer as a harness codec: 24 kHz, one 4096-way token per 600 samples (40 Hz, 0.48 kbps).

Weights: ``checkpoint=`` (the Lightning ``.ckpt``, a folder holding
``wavtokenizer_large_unify_600_24k.ckpt``, or the Hub id ``novateur/WavTokenizer-large-unify-40token``)
or ``BENCH_ASSET_WAVTOKENIZER_40HZ``. Lightning checkpoints pickle training objects beside the
tensors: they load with ``torch.load(weights_only=True)`` when possible, else only with
``trust_checkpoint=True`` (full unpickling; use it for files you trust). Without weights the real
architecture runs with seeded random weights and every row is flagged.
"""

from __future__ import annotations

import dataclasses
import logging
import os
import pickle

import torch

from bench import assets

from .._blocks.checkpoint import fetch_file
from .._blocks.latent_codec import LatentVQCodec
from .model import LARGE_40HZ, WavTokenizer

HUB_ID = "novateur/WavTokenizer-large-unify-40token"
CKPT = "wavtokenizer_large_unify_600_24k.ckpt"
ENV = "BENCH_ASSET_WAVTOKENIZER_40HZ"
log = logging.getLogger(__name__)


def load_lightning_state(path: str, trust_checkpoint: bool) -> dict[str, torch.Tensor]:
    """The ``state_dict`` of a Lightning checkpoint (or a plain state dict)."""
    try:
        ckpt = torch.load(path, map_location="cpu", weights_only=not trust_checkpoint)
    except pickle.UnpicklingError as err:
        raise assets.AssetNotFound(
            f"wavtokenizer: {path} holds pickled training objects that torch.load(weights_only=True) refuses; "
            "if you trust the file, pass params.trust_checkpoint: true") from err
    return ckpt.get("state_dict", ckpt)


class WavTokenizerCodec(LatentVQCodec):
    """WavTokenizer large-unify (novateur/WavTokenizer-large-unify-40token): 24 kHz, 40 Hz, 1 x 4096; kNN-VC on latents."""

    sample_rate = output_sample_rate = 24000
    nominal_frame_rate = 40.0
    codebook_sizes = [4096]
    nominal_bitrate = 40.0 * 12

    def __init__(self, checkpoint: str | None = None, trust_checkpoint: bool = False, bandwidth_id: int = 0) -> None:
        super().__init__()
        checkpoint = checkpoint or os.environ.get(ENV)
        path = fetch_file(checkpoint, CKPT, "wavtokenizer-40hz") if checkpoint else None
        self.model = WavTokenizer(**{**LARGE_40HZ, "bandwidth_id": bandwidth_id})
        if path:
            self.model.load_official(load_lightning_state(path, trust_checkpoint))
            random_weights = False
        else:
            log.warning("wavtokenizer-40hz: no checkpoint (%s or params.checkpoint; official: %s %s): RANDOM weights",
                        ENV, HUB_ID, CKPT)
            random_weights = True
        self.model.eval()
        self.hop = self.model.hop_length
        self.capabilities = dataclasses.replace(type(self).capabilities, random_weights=random_weights)
        weights_id = checkpoint or f"random:seed={torch.initial_seed()}"
        self._id = f"{weights_id}:bw={bandwidth_id}"

    def embeddings(self) -> list[torch.Tensor]:
        """The 512-d codebook ``[4096, 512]``."""
        return [layer._codebook.embed.detach().clone() for layer in self.model.quantizer.vq.layers]

    def cache_id(self) -> str:
        return f"wavtokenizer:{self._id}"
