"""Shared adapter for transformers' neural codecs (EncodecModel, DacModel, MimiModel).

Weights come from a local folder or Hub id (``checkpoint=`` or ``BENCH_ASSET_<NAME>``); without
one the real architecture is built from its config with seeded random weights (flagged).
Equal-length groups run unpadded, so results never depend on batching.
"""

from __future__ import annotations

import dataclasses
import importlib.util
import logging
import os
from typing import Any, Callable

import torch

from bench import assets
from bench.codec import Capabilities, Codec, Tokens, length_groups, pad_batch

log = logging.getLogger(__name__)

if importlib.util.find_spec("transformers") is None:  # lets `bench list` show the extra to install
    raise ModuleNotFoundError("transformers is not installed", name="transformers")


def import_transformers() -> Any:
    try:
        import transformers
    except ModuleNotFoundError as err:
        raise ModuleNotFoundError(
            "this codec runs through transformers: pip install 'speech-tokenizer-bench[paper]'") from err
    return transformers


class HFCodec(Codec):
    """Base of the transformers-backed codecs. Subclasses implement ``_encode`` / ``_decode`` on
    unpadded ``[G, T]`` groups and set ``hub_id``, ``model_class``, ``make_config``."""

    hub_id: str = ""
    model_class: str = ""
    capabilities = Capabilities(multi_codebook=True, has_embeddings=True)

    def __init__(self, name: str, checkpoint: str | None = None) -> None:
        super().__init__()
        transformers = import_transformers()
        cls = getattr(transformers, self.model_class)
        env = "BENCH_ASSET_" + name.upper().replace("-", "_").replace(".", "_")
        checkpoint = checkpoint or os.environ.get(env)
        if checkpoint:
            try:
                self.model = cls.from_pretrained(checkpoint, local_files_only=assets.offline())
            except OSError as err:
                raise assets.AssetNotFound(
                    f"{name}: weights {checkpoint!r} not available ({err}); download {self.hub_id} where you "
                    f"have network and set {env}=/path or params.checkpoint") from err
            random_weights = False
        else:
            log.warning("%s: no checkpoint (%s or params.checkpoint; official: %s): RANDOM weights", name, env,
                        self.hub_id)
            self.model = cls(self.make_config(transformers))
            random_weights = True
        self.model.eval()
        self.capabilities = dataclasses.replace(type(self).capabilities, random_weights=random_weights)
        self._id = checkpoint or f"random:{name}:seed={torch.initial_seed()}"

    def make_config(self, transformers: Any) -> Any:
        raise NotImplementedError

    def _encode(self, wav: torch.Tensor) -> torch.Tensor:
        """``[G, T]`` -> codes ``[G, N, K]``."""
        raise NotImplementedError

    def _decode(self, codes: torch.Tensor) -> torch.Tensor:
        """codes ``[G, N, K]`` -> waveform ``[G, T']``."""
        raise NotImplementedError

    def encode(self, wav: torch.Tensor, lengths: torch.Tensor) -> Tokens:
        items: list[Tokens | None] = [None] * wav.shape[0]
        for group in length_groups(lengths):
            n = int(lengths[group[0]])
            codes = self._encode(wav[group, :n]).long().cpu()
            for j, i in enumerate(group):
                items[i] = Tokens(codes=codes[j:j + 1], lengths=torch.tensor([codes.shape[1]]),
                                  num_samples=torch.tensor([n]))
        return Tokens.collate([t for t in items if t is not None])

    def _grouped(self, tokens: Tokens, fn: Callable[[torch.Tensor], torch.Tensor]) -> tuple[torch.Tensor, torch.Tensor]:
        outs: list[torch.Tensor | None] = [None] * tokens.batch_size
        device = next(self.model.parameters()).device
        for group in length_groups(tokens.lengths):
            n = int(tokens.lengths[group[0]])
            result = fn(tokens.codes[group, :n].to(device))
            for j, i in enumerate(group):
                outs[i] = result[j]
        return pad_batch([o for o in outs if o is not None])

    def decode(self, tokens: Tokens) -> tuple[torch.Tensor, torch.Tensor]:
        return self._grouped(tokens, self._decode)

    def cache_id(self) -> str:
        return f"{type(self).__name__}:{self._id}"
