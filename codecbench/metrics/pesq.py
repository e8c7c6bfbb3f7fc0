"""PESQ (ITU-T P.862.2 wide band) of the decoded audio against the original, after delay compensation.

Off by default and outside the paper's tables: ask for it with ``metrics: [pesq]``. Needs the
``pesq`` package (extra ``intrusive``).
"""

from __future__ import annotations

import numpy as np

from codecbench.api import MetricOutput, library_versions, register_metric

from ._alignment import AlignedIntrusiveMetric

PLUGIN_EXTRA = "intrusive"


@register_metric("pesq")
class PESQ(AlignedIntrusiveMetric):
    """Wide-band PESQ (MOS-LQO, 1.04-4.64), reference-aligned by cross-correlation."""

    name = "pesq"
    outputs = (MetricOutput("pesq", "PESQ", True, order=200),)
    dependencies = ("pesq",)
    module, function = "pesq", "pesq"

    @property
    def backend(self) -> str:
        return f"pesq:wb-16k(xcorr-aligned){library_versions('pesq')}"

    def score(self, hyp: np.ndarray, ref: np.ndarray) -> float:
        return float(self._fn(16000, ref, hyp, "wb"))
