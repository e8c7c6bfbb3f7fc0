"""Shared test fixtures: offline environment, a private cache, tiny audio files, real clips."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf

from codecbench.api.contract import tone  # noqa: F401 - the tests take their probe signal from here

os.environ.setdefault("HF_HUB_OFFLINE", "1")


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line("markers", "extra(name): needs the project's optional extra NAME; skipped, naming it, "
                                       "where that extra is not installed")
    config.addinivalue_line("markers", "system(tool): needs a system tool a user's install does not bring (Chromium, "
                                       "a SLURM cluster); skips without it, CI installs it and runs these")


def pytest_runtest_setup(item: pytest.Item) -> None:
    """A test marked ``extra("NAME")`` skips with the extra's name and install line when it is absent."""
    from tests.extras import skip_reason

    for mark in item.iter_markers("extra"):
        for extra in mark.args:
            reason = skip_reason(extra)
            if reason:
                pytest.skip(reason)


#: the harness's own measured tolerances: tests that gate a baseline of their own name them, as a user would
TOLERANCES = str(Path(__file__).resolve().parents[1] / "configs" / "tolerances.yaml")


@pytest.fixture(autouse=True)
def _fresh_registries() -> Iterator[None]:
    """Every test sees the registries, asset catalogue and config overrides as discovery left them:
    what a test registers (or a plugin it imports) is gone after it."""
    from codecbench import assets
    from codecbench.plugins import registry

    registry.discover()
    saved = {kind: reg.snapshot() for kind, reg in registry.ALL.items()}
    catalogue, overrides = dict(assets._CATALOGUE), dict(assets._overrides)
    yield
    for kind, reg in registry.ALL.items():
        reg.restore(saved[kind])
    registry._discovered = True
    assets._CATALOGUE.clear()
    assets._CATALOGUE.update(catalogue)
    assets._overrides.clear()
    assets._overrides.update(overrides)


@pytest.fixture(autouse=True, scope="session")
def _private_cache(tmp_path_factory: pytest.TempPathFactory) -> None:
    """Every test session gets its own cache unless CODECBENCH_CACHE is set (CI reuses one)."""
    if "CODECBENCH_CACHE" not in os.environ:
        os.environ["CODECBENCH_CACHE"] = str(tmp_path_factory.mktemp("bench-cache"))


@pytest.fixture
def audio_dir(tmp_path: Path) -> Path:
    """A folder with two valid WAVs and transcripts (beside the runs a test writes into ``tmp_path``, never above
    them: a run's output may not sit inside its data)."""
    data = tmp_path / "data"
    data.mkdir(exist_ok=True)
    for i, freq in enumerate((180.0, 240.0)):
        sf.write(data / f"utt{i}.wav", tone(1.5, freq=freq, seed=i), 16000)
        (data / f"utt{i}.txt").write_text(f"sentence number {i}")
    return data


@pytest.fixture(scope="session")
def shared_data() -> Path:
    from codecbench.util.paths import shared_data_dir

    root = shared_data_dir()
    if root is None:
        pytest.skip("../shared/data (real speech clips) not found; set CODECBENCH_SHARED_DATA to run this test")
    return root


@pytest.fixture
def snr_metric() -> str:
    """Registers ``snr``, a delay-compensated signal-to-noise ratio in numpy alone: an intrusive metric
    for tests of the runner that need one but no optional extra. Returns its name."""
    from codecbench.api.metric import Backend, MetricOutput
    from codecbench.metrics._alignment import AlignedIntrusiveMetric
    from codecbench.plugins.registry import METRICS

    class SNR(AlignedIntrusiveMetric):
        """SNR (dB) of the aligned hypothesis against the reference."""

        name = "snr"
        outputs = (MetricOutput("snr", "SNR (dB)", True, order=220),)
        profiles = {"offline": Backend(default=False), "paper": Backend(default=False)}
        extra = None

        def __init__(self) -> None:
            pass

        @property
        def backend(self) -> str:
            return "numpy:snr-db(xcorr-aligned)"

        def score(self, hyp: np.ndarray, ref: np.ndarray) -> float:
            noise = float(np.sum((hyp - ref) ** 2))
            return float(10 * np.log10((float(np.sum(ref**2)) + 1e-12) / (noise + 1e-12)))

    METRICS.register("snr", SNR)
    return "snr"
