"""Delay compensation for intrusive metrics (some codecs shift their output in time), and the base
class of the metrics that score an aligned (hypothesis, reference) pair."""

from __future__ import annotations

import importlib
from collections.abc import Callable, Sequence
from typing import Any, ClassVar

import numpy as np

from codecbench.api import Backend, Metric, Score, Utterance


def align_to_reference(hyp: np.ndarray, ref: np.ndarray, max_lag: int = 4000) -> tuple[np.ndarray, np.ndarray, int]:
    """``(hyp, ref)`` shifted by the lag that maximises their cross-correlation (within ``max_lag``
    samples) and cut to their common length, and that lag (positive: ``hyp`` is late)."""
    n = len(hyp) + len(ref) - 1
    size = 1 << (n - 1).bit_length()
    corr = np.fft.irfft(np.fft.rfft(hyp, size) * np.conj(np.fft.rfft(ref, size)), size)
    lags = np.concatenate([np.arange(0, max_lag + 1), np.arange(-max_lag, 0)])
    values = corr[lags % size]
    lag = int(lags[int(np.argmax(values))])
    if lag > 0:
        hyp = hyp[lag:]
    elif lag < 0:
        ref = ref[-lag:]
    length = min(len(hyp), len(ref))
    return hyp[:length], ref[:length], lag


class AlignedIntrusiveMetric(Metric):
    """An intrusive metric, off by default, scored on delay-compensated pairs at 16 kHz.

    Subclasses set ``name``, ``outputs`` (one), ``module`` / ``function`` (the scoring function of
    the package in ``dependencies``) and implement :meth:`score`.
    """

    profiles = {"paper": Backend(default=False), "offline": Backend(default=False)}
    reference = "source"
    extra = "intrusive"
    module: ClassVar[str]
    function: ClassVar[str]

    def __init__(self) -> None:
        try:
            self._fn: Callable[..., Any] = getattr(importlib.import_module(self.module), self.function)
        except ModuleNotFoundError as err:
            raise ModuleNotFoundError(f"{self.name} needs the {self.dependencies[0]} package: pip install "
                                      "'codecbench[intrusive]'") from err

    def score(self, hyp: np.ndarray, ref: np.ndarray) -> float:
        """The metric of an aligned pair (float64, 16 kHz)."""
        raise NotImplementedError

    def compute(
        self, hyp: Sequence[np.ndarray], ref: Sequence[np.ndarray], meta: Sequence[Utterance]
    ) -> list[dict[str, Score]]:
        scores = []
        for h, r in zip(hyp, ref, strict=True):
            h_aligned, r_aligned, lag = align_to_reference(np.asarray(h, np.float64), np.asarray(r, np.float64))
            scores.append({self.outputs[0].name: Score(self.score(h_aligned, r_aligned), extra={"lag_samples": lag})})
        return scores
