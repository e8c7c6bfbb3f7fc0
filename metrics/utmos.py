"""UTMOS22 strong learner (the paper's MOS predictor), through the SpeechMOS torch.hub entry.

No PyPI package carries its weights. Provide a local clone of ``tarepan/SpeechMOS`` at tag
v1.2.0 (asset ``utmos22-strong``); its hub entry loads ``utmos22_strong_step7459_v1.pt``
from the torch hub cache (``$TORCH_HOME/hub/checkpoints``), where it must already be when
running offline.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import numpy as np
import torch

from bench import assets
from bench.datasets import Utterance
from bench.metric import Backend, Metric, MetricOutput, Score
from bench.registry import register_metric

ASSET = assets.Asset(
    "utmos22-strong", "UTMOS22 strong learner (paper UTMOS): a local clone of the SpeechMOS repo with hubconf.py; "
    "its checkpoint in the torch hub cache",
    "tarepan/SpeechMOS v1.2.0 (torch.hub) + utmos22_strong_step7459_v1.pt", files=("hubconf.py",),
    licence="MIT")


@register_metric("utmos")
class UTMOS(Metric):
    """UTMOS22-strong MOS of the decoded audio (reference-free)."""

    name = "utmos"
    outputs = (MetricOutput("utmos", "UTMOS", True, order=10),)
    profiles = {"paper": Backend(assets=("utmos22-strong",))}
    assets = (ASSET,)
    dependencies = ("torch",)
    extra = "paper"

    def __init__(self, device: str = "cpu") -> None:
        repo = assets.local_path("utmos22-strong")
        if repo is None:
            raise assets.AssetNotFound(assets.missing_message(
                "utmos22-strong", "no local SpeechMOS clone configured"))
        try:
            model = torch.hub.load(str(repo), "utmos22_strong", source="local", trust_repo=True)
        except Exception as err:
            raise assets.AssetNotFound(assets.missing_message("utmos22-strong", str(err))) from err
        self._model = model.to(device).eval()
        self._device = device
        self._id = f"utmos22-strong:{Path(repo).name}"

    @property
    def backend(self) -> str:
        return self._id

    @torch.inference_mode()
    def compute(
        self, hyp: Sequence[np.ndarray], ref: Sequence[np.ndarray], meta: Sequence[Utterance]
    ) -> list[dict[str, Score]]:
        scores = []
        for audio in hyp:
            x = torch.from_numpy(np.asarray(audio, np.float32)).unsqueeze(0).to(self._device)
            scores.append({"utmos": Score(float(self._model(x, 16000)[0]))})
        return scores
