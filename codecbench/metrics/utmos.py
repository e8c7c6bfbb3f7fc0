"""UTMOS22 strong learner (the paper's MOS predictor), in-tree: no torch.hub, no clone.

The model (:mod:`._utmos_model`) is key-compatible with SpeechMOS v1.2.0's
``utmos22_strong_step7459_v1.pt``, a plain state dict loaded strictly with ``weights_only=True``.
Asset ``utmos22-strong``: that file (or a folder holding it), from ``params``/``assets:``/
``CODECBENCH_ASSET_UTMOS22_STRONG``, or its release URL when online (downloaded once into the cache).
A folder with ``config.json`` (widths) and ``model.safetensors`` also loads, e.g. the parity
fixture: the real architecture at small widths. Utterances are scored one at a time, as the
paper's harness does (the model has no length mask).
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import torch

from codecbench.api import (
    Backend,
    BatchSize,
    Metric,
    MetricOutput,
    Score,
    Utterance,
    assets,
    length_groups,
    library_versions,
    register_metric,
)

from ._utmos_model import UTMOS22Strong, widths

CKPT = "utmos22_strong_step7459_v1.pt"
URL = f"https://github.com/tarepan/SpeechMOS/releases/download/v1.0.0/{CKPT}"
ASSET = assets.Asset("utmos22-strong", f"UTMOS22 strong learner weights ({CKPT}, a plain state dict)",
                     f"tarepan/SpeechMOS release v1.0.0 ({CKPT})", url=URL, licence="MIT", size="0.4 GB")


def load_model(location: str) -> tuple[UTMOS22Strong, str]:
    """The model and its weights id from a ``.pt`` / ``.safetensors`` file, a folder, or the URL."""
    path = Path(location).expanduser()
    if location.startswith(("http://", "https://")):
        try:
            path = assets.fetch("utmos22-strong")  # once, into the cache; later runs find it there
        except Exception as err:  # noqa: BLE001 - offline or unreachable: say how to provide it
            raise assets.AssetNotFound(assets.missing_message("utmos22-strong", f"download failed: {err}")) from err
    config: dict = {}
    if path.is_dir():
        if (path / "config.json").is_file():
            raw = json.loads((path / "config.json").read_text())
            config = widths(raw.get("widths", raw.get("tiny", {})))
        candidates = (path / CKPT, path / "model.safetensors", path / "model.pt")
        path = next((p for p in candidates if p.is_file()), path / CKPT)
    if not path.is_file():
        raise assets.AssetNotFound(assets.missing_message("utmos22-strong", f"{path} does not exist"))
    if path.suffix == ".safetensors":
        from safetensors.torch import load_file

        state = load_file(path)
    else:
        state = torch.load(path, map_location="cpu", weights_only=True)
    model = UTMOS22Strong(**config)
    model.load_state_dict(state, strict=True)
    label = "" if not config else ":" + ",".join(f"{k}={v}" for k, v in sorted(config.items()))
    return model.eval(), f"utmos22-strong:{path.name}{label}{library_versions('torch')}"


@register_metric("utmos")
class UTMOS(Metric):
    """UTMOS22-strong MOS of the decoded audio (reference-free)."""

    name = "utmos"
    outputs = (MetricOutput("utmos", "UTMOS", True, order=10),)
    profiles = {"paper": Backend(assets=("utmos22-strong",))}
    tunable = ("batch_size",)  # leaves the numbers alone (metric_options)
    assets = (ASSET,)
    dependencies = ("torch",)
    extra = "paper"

    def __init__(self, device: str = "cpu", checkpoint: str | None = None,
                 batch_size: BatchSize | None = None) -> None:
        found = assets.locate("utmos22-strong", checkpoint)
        if found.location is None:
            raise assets.AssetNotFound(assets.missing_message("utmos22-strong", "nothing configured"))
        model, self._id = load_model(found.location)
        self._model = model.to(device)
        self._device = device
        # > 1 batches clips of equal length (no length mask); 1 keeps each score independent of its neighbours
        self.batch_size = batch_size or 1

    @property
    def backend(self) -> str:
        return self._id

    @torch.inference_mode()
    def compute(
        self, hyp: Sequence[np.ndarray], ref: Sequence[np.ndarray], meta: Sequence[Utterance]
    ) -> list[dict[str, Score]]:
        values: dict[int, float] = {}
        for group in length_groups([len(a) for a in hyp]):  # no length mask: only equal lengths share a pass
            for start in range(0, len(group), self.batch_size):
                chunk = group[start:start + self.batch_size]
                x = torch.from_numpy(np.stack([np.asarray(hyp[i], np.float32) for i in chunk])).to(self._device)
                values.update(zip(chunk, (float(v) for v in self._model(x)), strict=True))
        return [{"utmos": Score(values[i])} for i in range(len(hyp))]
