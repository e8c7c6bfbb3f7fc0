"""Shared adapter for transformers' neural codecs (EncodecModel, DacModel, MimiModel).

Weights come from a local folder or Hub id (``checkpoint=`` or ``BENCH_ASSET_<NAME>``); without
one the real architecture is built from its config with seeded random weights (flagged).
Equal-length groups run unpadded (:class:`bench.codec.GroupedCodec`).
"""

from __future__ import annotations

import dataclasses
import importlib.util
import logging
import os
from typing import Any

import torch

from bench import assets
from bench.codec import Capabilities, GroupedCodec

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


class HFCodec(GroupedCodec):
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

    def cache_id(self) -> str:
        return f"{type(self).__name__}:{self._id}"
