"""Shared adapter for transformers' neural codecs (EncodecModel, DacModel, MimiModel).

Weights are the codec's asset (its registry name; :mod:`bench.assets`: ``checkpoint=``, config
``assets:``, ``BENCH_ASSET_<NAME>``, the Hub when online); without them the real architecture is
built from its config with seeded random weights (flagged).
Equal-length groups run unpadded (:class:`bench.codec.GroupedCodec`).
"""

from __future__ import annotations

import importlib.util
import logging
from pathlib import Path
from typing import Any

from bench import assets
from bench.asset_checks import load_transformers
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
    unpadded ``[G, T]`` groups and set ``assets`` (one, named like the codec), ``model_class``,
    ``make_config``."""

    model_class: str = ""
    capabilities = Capabilities(multi_codebook=True, has_embeddings=True)

    def __init__(self, name: str, checkpoint: str | None = None) -> None:
        super().__init__()
        transformers = import_transformers()
        cls = getattr(transformers, self.model_class)
        found = self.resolve_weights(name, checkpoint)
        if found.location is not None:
            try:
                self.model = cls.from_pretrained(found.location, local_files_only=assets.offline())
            except OSError as err:
                raise assets.AssetNotFound(assets.missing_message(name, f"{found.location!r}: {err}")) from err
        else:
            self.model = cls(self.make_config(transformers))
        self.model.eval()
        self._id = self.weights_id

    @classmethod
    def verify_asset(cls, name: str, location: Path) -> str:
        """``bench assets verify``: the folder loaded by transformers as a run loads it, every weight accounted for."""
        return load_transformers(cls.model_class, location)

    def make_config(self, transformers: Any) -> Any:
        raise NotImplementedError

    def cache_id(self) -> str:
        return f"{type(self).__name__}:{self._id}"
