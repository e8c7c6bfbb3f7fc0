"""PESQ and STOI: off by default, delay-compensated by cross-correlation, sensible on real speech."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from codecbench.config.profiles import metric_settings
from codecbench.metrics._alignment import align_to_reference
from codecbench.plugins.registry import METRICS
from codecbench.util.audio import load_audio, resample


def test_alignment_finds_the_delay() -> None:
    rng = np.random.default_rng(0)
    ref = rng.standard_normal(16000)
    for lag in (0, 160, -80):
        hyp = np.roll(ref, lag)
        h, r, found = align_to_reference(hyp, ref)
        assert found == lag and len(h) == len(r) == 16000 - abs(lag)


def test_intrusive_metrics_are_off_by_default_and_on_when_asked() -> None:
    assert not {"pesq", "stoi"} & set(metric_settings("offline", None))
    assert set(metric_settings("offline", ["pesq", "stoi"])) == {"pesq", "stoi"}


@pytest.mark.extra("intrusive")
@pytest.mark.parametrize("name", ["pesq", "stoi"])
def test_identity_and_delay_score_the_same_and_noise_scores_lower(name: str, shared_data: Path) -> None:
    clip = sorted((shared_data / "clips").rglob("*.flac"))[0]
    audio = load_audio(clip)
    x = resample(audio.samples, audio.sample_rate, 16000)
    delayed = np.concatenate([np.zeros(320, np.float32), x])[: len(x)]
    noisy = (0.5 * x + 0.05 * np.random.default_rng(0).standard_normal(len(x))).astype(np.float32)
    same, late, worse = (s[name] for s in METRICS.get(name)().compute([x, delayed, noisy], [x, x, x], [None] * 3))
    assert late.value == pytest.approx(same.value, abs=0.02) and late.extra["lag_samples"] == 320
    assert worse.value < same.value - 0.3
