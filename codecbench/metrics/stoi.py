"""STOI (short-time objective intelligibility) of the decoded audio against the original, after delay
compensation.

Off by default and outside the paper's tables: ask for it with ``metrics: [stoi]``. Needs the
``pystoi`` package (extra ``intrusive``).
"""

from __future__ import annotations

import numpy as np

from codecbench.api import MetricOutput, library_versions, register_metric

from ._alignment import AlignedIntrusiveMetric

PLUGIN_EXTRA = "intrusive"


@register_metric("stoi")
class STOI(AlignedIntrusiveMetric):
    """STOI (0-1), reference-aligned by cross-correlation."""

    name = "stoi"
    outputs = (MetricOutput("stoi", "STOI", True, order=210),)
    dependencies = ("pystoi",)
    module, function = "pystoi", "stoi"

    @property
    def backend(self) -> str:
        return f"pystoi:stoi-16k(xcorr-aligned){library_versions('pystoi')}"

    def score(self, hyp: np.ndarray, ref: np.ndarray) -> float:
        return float(self._fn(ref, hyp, 16000, extended=False))
