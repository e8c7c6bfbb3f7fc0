"""Resynthesis of noisy corpora scores against the clean recording, as the authors' harness."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import soundfile as sf

from codecbench.config.runconfig import from_dict
from codecbench.engine import runner
from codecbench.engine.store import ResultStore
from tests.core import mini_corpora as mini


def _run(root: Path, out: Path, metrics: list[str], codec: str = "reference", **options
         ) -> dict[tuple[str, str], float]:
    config = from_dict({
        "name": "noisy", "output_dir": str(out), "metric_profile": "offline", "codecs": [codec],
        "metrics": metrics, "task_options": {"resynthesis": options} if options else {},
        "datasets": {"vb": {"format": "voicebank", "root": str(root)}},
    })
    runner.run(config, progress=False)
    return {(r.utt_id, r.metric): r.value for r in ResultStore(out).rows() if r.metric in metrics}


def test_noisy_voicebank_codecs_encode_the_mixture_and_are_scored_against_the_clean_recording(
        shared_data: Path, tmp_path: Path, snr_metric: str) -> None:
    root = mini.voicebank(shared_data, tmp_path / "VoiceBank")
    scores = _run(root, tmp_path / "clean", [snr_metric], codec="mulaw-8bit")
    as_input = _run(root, tmp_path / "old", [snr_metric], reference_row="input")  # the noisy input as the row
    reference = _run(root, tmp_path / "ref", [snr_metric])  # the paper's Reference row: clean against clean
    for utt in ("p226_006", "p257_003", "p287_007"):
        noisy, _ = sf.read(root / "noisy_testset_wav" / f"{utt}.wav", dtype="float32")
        clean, _ = sf.read(root / "clean_testset_wav" / f"{utt}.wav", dtype="float32")
        expected = 10 * np.log10(np.sum(clean**2) / np.sum((noisy - clean) ** 2))
        # a codec hears the noisy mixture: its SNR against the clean file is at most the mixture's
        assert scores[(utt, snr_metric)] == pytest.approx(expected, abs=1.0)
        assert as_input[(utt, snr_metric)] == pytest.approx(expected, abs=0.5)
        assert reference[(utt, snr_metric)] > 60  # the clean recording against itself
    against_input = _run(root, tmp_path / "input", [snr_metric], reference="input", reference_row="input")
    assert all(v > 60 for v in against_input.values())  # the input against itself


def test_the_noisy_reference_row_is_the_clean_recording_scored_against_itself(shared_data: Path,
                                                                             tmp_path: Path) -> None:
    """The paper's Reference row on VoiceBank / Libri1Mix: dWER 0 and Sim 1.0 (DNSMOS of the clean files), while a
    codec's row is its output of the noisy input against the clean recording."""
    pytest.importorskip("resemblyzer", reason="the offline Sim backend is not installed")
    pytest.importorskip("faster_whisper", reason="the offline dWER backend is not installed")
    root = mini.voicebank(shared_data, tmp_path / "VoiceBank")
    scores = _run(root, tmp_path / "run", ["sim", "dwer"])
    sims = {k: v for k, v in scores.items() if k[1] == "sim"}
    assert len(sims) == 3 and all(v > 0.999 for v in sims.values())
    assert [v for k, v in scores.items() if k[1] == "dwer"] == [0.0] * 3
    assert all(v < 0.995 for v in _run(root, tmp_path / "codec", ["sim"], codec="mulaw-8bit").values())
    assert all(v < 0.995 for v in _run(root, tmp_path / "input", ["sim"], reference_row="input").values())


def test_an_unknown_resynthesis_option_fails_the_job(shared_data: Path, tmp_path: Path, snr_metric: str) -> None:
    root = mini.voicebank(shared_data, tmp_path / "VoiceBank")
    with pytest.raises(Exception, match="reference"):
        _run(root, tmp_path / "bad", [snr_metric], reference="noisy")
