"""STOI (short-time objective intelligibility) of the decoded audio against the original, after delay
compensation.

Off by default and outside the paper's tables: ask for it with ``metrics: [stoi]``. Needs the
``pystoi`` package (extra ``intrusive``).
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from bench.datasets import Utterance
from bench.metric import Backend, Metric, MetricOutput, Score
from bench.registry import register_metric

from ._alignment import align_to_reference

PLUGIN_EXTRA = "intrusive"


@register_metric("stoi")
class STOI(Metric):
    """STOI (0-1), reference-aligned by cross-correlation."""

    name = "stoi"
    outputs = (MetricOutput("stoi", "STOI", True, order=210),)
    profiles = {"paper": Backend(default=False), "offline": Backend(default=False)}
    reference = "source"
    dependencies = ("pystoi",)
    extra = "intrusive"

    def __init__(self) -> None:
        try:
            from pystoi import stoi
        except ModuleNotFoundError as err:
            raise ModuleNotFoundError("STOI needs pystoi: pip install 'speech-tokenizer-bench[intrusive]'") from err
        self._stoi = stoi

    @property
    def backend(self) -> str:
        return "pystoi:stoi-16k(xcorr-aligned)"

    def compute(
        self, hyp: Sequence[np.ndarray], ref: Sequence[np.ndarray], meta: Sequence[Utterance]
    ) -> list[dict[str, Score]]:
        scores = []
        for h, r in zip(hyp, ref, strict=True):
            h_aligned, r_aligned, lag = align_to_reference(np.asarray(h, np.float64), np.asarray(r, np.float64))
            scores.append({"stoi": Score(float(self._stoi(r_aligned, h_aligned, 16000, extended=False)),
                                         extra={"lag_samples": lag})})
        return scores
