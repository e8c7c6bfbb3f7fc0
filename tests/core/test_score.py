"""Scoring audio made elsewhere (issue 41, item 6): a folder of outputs named by item id is scored with the same
protocol, caches and rows as a codec the harness runs, resynthesis- and VC-style; its rows are keyed by the files'
digest; tasks that need tokens refuse it."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import soundfile as sf

import codecbench
from codecbench.cli.main import main


def _outputs(audio_dir: Path, folder: Path, gain: float = 0.8) -> Path:
    """Every clip of ``audio_dir``, quieter and at 24 kHz: what another system might have written."""
    from codecbench.api import resample

    folder.mkdir(parents=True, exist_ok=True)
    for wav in sorted(audio_dir.glob("*.wav")):
        samples, rate = sf.read(wav, dtype="float32")
        sf.write(folder / wav.name, gain * resample(samples, rate, 24000), 24000)
    return folder


def test_outputs_made_elsewhere_are_scored_and_keyed_by_their_files(audio_dir: Path, tmp_path: Path,
                                                                     monkeypatch: pytest.MonkeyPatch, capsys) -> None:
    monkeypatch.setenv("CODECBENCH_CACHE", str(tmp_path / "cache"))
    outputs = _outputs(audio_dir, tmp_path / "outputs")
    assert main(["score", str(outputs), "--data", str(audio_dir), "--label", "their-system", "--metrics", "sim",
                 "--profile", "offline", "--out", str(tmp_path / "run"), "--no-progress"]) == 0
    assert "their-system" in capsys.readouterr().out
    rows = codecbench.load_results(tmp_path / "run").rows
    assert set(rows["metric"]) == {"sim"} and len(rows) == 2  # no tokens: no frame rate, no bitrate
    assert (rows["value"] > 0.9).all()  # the same speech, quieter and resampled
    first = set(rows["variant"])
    again = codecbench.score(outputs, audio_dir, "their-system", metrics=["sim"], profile="offline",
                             out=tmp_path / "run", progress=False)
    assert set(again.rows["variant"]) == first and len(again.rows) == 2  # unchanged files: nothing recomputed
    samples, rate = sf.read(outputs / "utt0.wav", dtype="float32")
    sf.write(outputs / "utt0.wav", np.zeros_like(samples) + 0.01 * np.sin(np.arange(len(samples))), rate)
    changed = codecbench.score(outputs, audio_dir, "their-system", metrics=["sim"], profile="offline",
                               out=tmp_path / "run", progress=False)
    assert set(changed.rows["variant"]) != first  # a changed file: the folder's rows are rescored
    (outputs / "utt1.wav").unlink()
    missing = codecbench.score(outputs, audio_dir, "their-system", metrics=["sim"], profile="offline",
                               out=tmp_path / "run2", progress=False)
    errors = missing.rows[missing.rows["metric"] == "error"]
    assert list(errors["utt_id"]) == ["utt1"] and "no recorded output for 'utt1'" in errors["error"].iloc[0]
    with pytest.raises(ValueError, match="needs a codec's tokens"):
        codecbench.score(outputs, audio_dir, "their-system", task="si_probe", out=tmp_path / "run3", progress=False)


def test_voice_conversions_made_elsewhere_are_scored_against_the_target(shared_data: Path, tmp_path: Path,
                                                                        monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CODECBENCH_CACHE", str(tmp_path / "cache"))
    data = {"format": "manifest", "root": str(shared_data), "ids": ["p225_003", "p225_008", "p226_003", "p226_008"]}
    from codecbench.api import DatasetSpec, load_dataset

    utts = {u.utt_id: u for u in load_dataset(DatasetSpec("vctk", "manifest", str(shared_data), ids=data["ids"]))}
    outputs = tmp_path / "conversions"
    outputs.mkdir()
    for source, target in (("p225_003", "p226_003"), ("p225_008", "p226_008")):  # the ideal conversion
        samples, rate = sf.read(utts[target].path, dtype="float32")
        sf.write(outputs / f"{source}->p226.wav", samples, rate)
    results = codecbench.score(outputs, data, "ideal-vc", task="vc", metrics=["sim"], profile="offline",
                               out=tmp_path / "run", progress=False)
    rows = results.rows
    assert sorted(rows["utt_id"]) == ["p225_003->p226", "p225_008->p226"] and set(rows["metric"]) == {"sim"}
    assert (rows["value"] > 0.99).all()  # scored against the target's parallel utterance: itself
