"""Resynthesis of noisy corpora scores against the clean recording, as the authors' harness."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import soundfile as sf

from bench import runner
from bench.config import from_dict
from bench.store import ResultStore
from tests.bench import mini_corpora as mini


def _run(root: Path, out: Path, metrics: list[str], **options) -> dict[tuple[str, str], float]:
    config = from_dict({
        "name": "noisy", "output_dir": str(out), "metric_profile": "offline", "codecs": ["reference"],
        "metrics": metrics, "task_options": {"resynthesis": options} if options else {},
        "datasets": {"vb": {"format": "voicebank", "root": str(root)}},
    })
    runner.run(config, progress=False)
    return {(r.utt_id, r.metric): r.value for r in ResultStore(out).rows() if r.metric in metrics}


def test_noisy_voicebank_is_scored_against_its_clean_recording(shared_data: Path, tmp_path: Path,
                                                                snr_metric: str) -> None:
    root = mini.voicebank(shared_data, tmp_path / "VoiceBank")
    scores = _run(root, tmp_path / "clean", [snr_metric])
    for utt in ("p226_006", "p257_003", "p287_007"):
        noisy, _ = sf.read(root / "noisy_testset_wav" / f"{utt}.wav", dtype="float32")
        clean, _ = sf.read(root / "clean_testset_wav" / f"{utt}.wav", dtype="float32")
        expected = 10 * np.log10(np.sum(clean**2) / np.sum((noisy - clean) ** 2))
        # the identity codec hands back the noisy input: its SNR is the mixture's against the clean file
        assert scores[(utt, snr_metric)] == pytest.approx(expected, abs=0.5)
    against_input = _run(root, tmp_path / "input", [snr_metric], reference="input")
    assert all(v > 60 for v in against_input.values())  # the input against itself


def test_noisy_reference_row_keeps_sim_below_one(shared_data: Path, tmp_path: Path) -> None:
    pytest.importorskip("resemblyzer", reason="the offline Sim backend is not installed")
    root = mini.voicebank(shared_data, tmp_path / "VoiceBank")
    sims = _run(root, tmp_path / "run", ["sim"])
    assert sims and all(v < 0.995 for v in sims.values())
    assert all(v > 0.999 for v in _run(root, tmp_path / "input", ["sim"], reference="input").values())


def test_an_unknown_resynthesis_option_fails_the_job(shared_data: Path, tmp_path: Path, snr_metric: str) -> None:
    root = mini.voicebank(shared_data, tmp_path / "VoiceBank")
    with pytest.raises(Exception, match="reference"):
        _run(root, tmp_path / "bad", [snr_metric], reference="noisy")
