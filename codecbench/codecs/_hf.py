"""Shared adapter for transformers' neural codecs (EncodecModel, DacModel, MimiModel).

Weights are the codec's asset (its registry name; :mod:`codecbench.assets`: ``checkpoint=``, config
``assets:``, ``CODECBENCH_ASSET_<NAME>``, the Hub when online); without them the real architecture is
built from its config with seeded random weights (flagged).
Equal-length groups run unpadded (:class:`codecbench.api.codec.GroupedCodec`).
"""

from __future__ import annotations

import importlib.util
import json
import logging
import tempfile
from pathlib import Path
from typing import Any, cast

import torch
from safetensors.torch import load_file, save_file

from codecbench.api import Capabilities, Check, GroupedCodec, assets, load_transformers

from ._blocks.replay import replay_cases
from ._blocks.seeded import seeded_state

log = logging.getLogger(__name__)

if importlib.util.find_spec("transformers") is None:  # lets `codecbench list` show the extra to install
    raise ModuleNotFoundError("transformers is not installed", name="transformers")


def import_transformers() -> Any:
    try:
        import transformers
    except ModuleNotFoundError as err:
        raise ModuleNotFoundError(
            "this codec runs through transformers: pip install 'codecbench[paper]'") from err
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
        """``codecbench assets verify``: the folder loaded by transformers as a run loads it, every weight accounted
        for."""
        return load_transformers(cls.model_class, location)

    def make_config(self, transformers: Any) -> Any:
        raise NotImplementedError

    def cache_id(self) -> str:
        return f"{type(self).__name__}:{self._id}"

    def latent(self, wav: torch.Tensor) -> torch.Tensor:
        """The encoder's ``[N, D]`` output of a ``[T]`` waveform (parity replays compare it)."""
        raise NotImplementedError(f"{type(self).__name__} compares no latent")

    @classmethod
    def parity_checkpoint(cls, config: dict[str, Any], state: dict[str, torch.Tensor]
                          ) -> tuple[dict[str, Any], dict[str, torch.Tensor]]:
        """The transformers config and state dict a parity folder's recorded model becomes (its own, by default)."""
        return config, state

    @classmethod
    def replay_parity(cls, folder: str | Path) -> list[Check]:
        """Replay a parity folder recorded from transformers 4.46.3 (``scripts/baseline_record_fixtures.py``): its
        config and seeded weights written as a transformers checkpoint (the official tensor names; the buffers it
        recorded), loaded by this codec the way it loads the Hub's, then every recorded tensor compared."""
        folder = Path(folder)
        manifest = json.loads((folder / "manifest.json").read_text())
        ref = load_file(folder / "cases.safetensors")
        state = seeded_state(manifest["parameters"]["model"], int(manifest["seed"]))
        state.update({k.removeprefix("buffer.model."): v for k, v in ref.items() if k.startswith("buffer.model.")})
        config, state = cls.parity_checkpoint(manifest["config"], state)
        with tempfile.TemporaryDirectory() as tmp:
            (Path(tmp) / "config.json").write_text(json.dumps(config))
            save_file({k: v.contiguous() for k, v in state.items()}, str(Path(tmp) / "model.safetensors"),
                      metadata={"format": "pt"})
            check = load_transformers(cls.model_class, Path(tmp))  # every weight used, none left random
            codec = cast(Any, cls)(checkpoint=tmp).eval()  # a concrete codec: its only argument the weights
        hop = round(codec.sample_rate / float(codec.nominal_frame_rate or 1.0))
        latent = codec.latent if any(k.endswith(".latent") for k in ref) else None
        checks = replay_cases(codec, ref, hop, latent)
        return [Check("manifest.json", "weights", "int", 0.0, 0.0, check), *checks]
