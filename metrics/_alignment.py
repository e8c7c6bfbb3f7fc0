"""Delay compensation for intrusive metrics: some codecs shift their output in time."""

from __future__ import annotations

import numpy as np


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
