"""PESQ (ITU-T P.862.2 wide band) of the decoded audio against the original, after delay compensation.

Off by default and outside the paper's tables: ask for it with ``metrics: [pesq]``. Needs the
``pesq`` package (extra ``intrusive``).
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from bench.datasets import Utterance
from bench.metric import Backend, Metric, MetricOutput, Score
from bench.registry import register_metric

from ._alignment import align_to_reference

PLUGIN_EXTRA = "intrusive"


@register_metric("pesq")
class PESQ(Metric):
    """Wide-band PESQ (MOS-LQO, 1.04-4.64), reference-aligned by cross-correlation."""

    name = "pesq"
    outputs = (MetricOutput("pesq", "PESQ", True, order=200),)
    profiles = {"paper": Backend(default=False), "offline": Backend(default=False)}
    reference = "source"
    dependencies = ("pesq",)
    extra = "intrusive"

    def __init__(self) -> None:
        try:
            from pesq import pesq
        except ModuleNotFoundError as err:
            raise ModuleNotFoundError("PESQ needs the pesq package: pip install "
                                      "'speech-tokenizer-bench[intrusive]'") from err
        self._pesq = pesq

    @property
    def backend(self) -> str:
        return "pesq:wb-16k(xcorr-aligned)"

    def compute(
        self, hyp: Sequence[np.ndarray], ref: Sequence[np.ndarray], meta: Sequence[Utterance]
    ) -> list[dict[str, Score]]:
        scores = []
        for h, r in zip(hyp, ref, strict=True):
            h_aligned, r_aligned, lag = align_to_reference(np.asarray(h, np.float64), np.asarray(r, np.float64))
            value = float(self._pesq(16000, r_aligned, h_aligned, "wb"))
            scores.append({"pesq": Score(value, extra={"lag_samples": lag})})
        return scores
