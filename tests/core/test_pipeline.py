"""End-to-end runs: bad input, resume after interruption, identical re-runs, tables."""

from __future__ import annotations

import uuid
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf
import torch

from codecbench.codecs.mulaw import MuLawCodec
from codecbench.config.runconfig import from_dict
from codecbench.engine import runner
from codecbench.engine.store import ResultStore
from codecbench.plugins.registry import CODECS
from codecbench.results.tables import load_rows, render, summarize
from tests.conftest import tone


def _config(root: Path, out: Path, codecs: list, metrics: list | None = None, **extra: object):
    return from_dict({
        "name": "t", "output_dir": str(out), "codecs": codecs, "metric_profile": "offline",
        "metrics": [] if metrics is None else metrics, "batch_size": 3,
        "datasets": {"d": {"format": "folder", "root": str(root)}}, **extra,
    })


@pytest.fixture
def messy_dir(tmp_path: Path) -> Path:
    """Real-world mix: rates, stereo, FLAC/WAV, and every kind of broken file."""
    root = tmp_path / "data"
    root.mkdir()
    sf.write(root / "ok_16k.wav", tone(1.0), 16000)
    sf.write(root / "ok_22k.flac", tone(1.0, 22050), 22050)
    sf.write(root / "ok_44k.wav", tone(1.0, 44100), 44100, subtype="FLOAT")
    sf.write(root / "ok_48k_stereo.flac", np.stack([tone(1.0, 48000), tone(1.0, 48000, 300)], 1), 48000)
    (root / "corrupt.wav").write_bytes(b"RIFF....garbage")
    (root / "empty.wav").write_bytes(b"")
    sf.write(root / "zeros.wav", np.zeros(16000, np.float32), 16000)
    sf.write(root / "nan.wav", np.array([0.1, np.nan] * 8000, np.float32), 16000, subtype="FLOAT")
    sf.write(root / "too_short.wav", tone(0.01), 16000)
    sf.write(root / "too_long.wav", tone(3.0), 16000)
    return root


def test_bad_inputs_become_error_rows_and_the_run_continues(messy_dir: Path, tmp_path: Path) -> None:
    config = _config(messy_dir, tmp_path / "run", ["reference", "codec2-3200"], max_seconds=2.0)
    store = runner.run(config, progress=False)
    rows = list(store.rows())
    errors = {(r.codec, r.utt_id): r.error for r in rows if r.metric == "error"}
    for utt in ("corrupt", "empty", "zeros", "nan", "too_long"):
        assert (("reference", utt) in errors) and (("codec2-3200", utt) in errors)
    assert "all zeros" in errors[("reference", "zeros")] and "NaN" in errors[("reference", "nan")]
    assert "longer than max_seconds" in errors[("reference", "too_long")]
    assert "shorter than the minimum" in errors[("codec2-3200", "too_short")]  # 40 ms frames
    assert ("reference", "too_short") not in errors
    good = {r.utt_id for r in rows if r.metric == "bitrate" and r.codec == "codec2-3200"}
    assert good == {"ok_16k", "ok_22k", "ok_44k", "ok_48k_stereo"}
    summary = summarize(load_rows([tmp_path / "run"]))
    ref = summary[(summary.codec == "reference") & (summary.metric == "bitrate")].iloc[0]
    assert ref.value == pytest.approx(256.0) and ref.errors == 5  # kbps


class CountingMuLaw(MuLawCodec):
    """mu-law that counts its encodes of 0.5 s clips, the utterances of these tests (to prove resume does not
    recompute); the longer clips of the run's codec-contract check are not counted."""

    calls = 0

    def encode(self, wav: torch.Tensor, lengths: torch.Tensor):  # type: ignore[override]
        CountingMuLaw.calls += int((lengths == self.sample_rate // 2).sum())
        return super().encode(wav, lengths)

    def cache_id(self) -> str:
        return f"counting-{uuid.uuid4()}"  # never served from the token cache


@pytest.fixture
def counting_codec():
    CODECS.register("counting-mulaw", CountingMuLaw)
    CountingMuLaw.calls = 0
    yield CountingMuLaw
    CODECS._items.pop("counting-mulaw", None)


def test_interrupted_run_resumes_without_recomputing(tmp_path: Path, counting_codec) -> None:
    data = tmp_path / "data"
    data.mkdir()
    for i in range(6):
        sf.write(data / f"u{i}.wav", tone(0.5, seed=i, freq=150 + 20 * i), 16000)
    out = tmp_path / "run"
    runner.run(_config(data, out, ["counting-mulaw"]), progress=False)
    assert counting_codec.calls == 6
    full = (out / "rows.jsonl").read_text()
    lines = full.splitlines(keepends=True)
    # simulate a kill: the last utterance's rows lost, the row before it torn mid-write
    (out / "rows.jsonl").write_text("".join(lines[:-2]) + lines[-2][:10])
    counting_codec.calls = 0
    runner.run(_config(data, out, ["counting-mulaw"]), progress=False)
    assert counting_codec.calls == 1  # only the unfinished utterance
    counting_codec.calls = 0
    runner.run(_config(data, out, ["counting-mulaw"]), progress=False)
    assert counting_codec.calls == 0
    assert sorted(full.splitlines()) == sorted((out / "rows.jsonl").read_text().splitlines())


def test_codec_that_cannot_be_built_gives_error_rows(audio_dir: Path, tmp_path: Path) -> None:
    config = _config(audio_dir, tmp_path / "run", [{"name": "bad", "codec": "bigcodec",
                                                     "params": {"checkpoint": str(tmp_path / "missing.pt")}},
                                                    "reference"])
    store = runner.run(config, progress=False)
    errors = [r for r in store.rows() if r.metric == "error"]
    assert len(errors) == 2 and all("codec-load" in (r.error or "") for r in errors)
    assert any(r.codec == "reference" and r.metric == "bitrate" for r in store.rows())


def test_identical_reruns_give_identical_tables(audio_dir: Path, tmp_path: Path) -> None:
    codecs = ["reference", "mulaw-8bit", "opus-6kbps", "codec2-700c"]
    tables = []
    for name in ("a", "b"):
        runner.run(_config(audio_dir, tmp_path / name, codecs), progress=False)
        render([tmp_path / name])
        tables.append({p.name: p.read_text() for p in (tmp_path / name / "tables").iterdir()})
    assert tables[0] == tables[1]
    md = tables[0]["resynthesis.md"]
    assert "Frame Rate" in md and "Bitrate" in md and "| reference" in md


def test_run_with_real_offline_metrics_on_shared_clips(shared_data: Path, tmp_path: Path) -> None:
    """Real clips, real offline metric models: numbers in sane ranges, ordering as expected."""
    pytest.importorskip("faster_whisper", reason="offline metric profile not installed")
    config = from_dict({
        "name": "real", "output_dir": str(tmp_path / "run"), "metric_profile": "offline",
        "codecs": ["reference", "codec2-700c"], "batch_size": 2,
        "datasets": {"s": {"format": "manifest", "root": str(shared_data),
                           "ids": ["84-121123-0001", "p257_003"]}},
    })
    runner.run(config, progress=False)
    summary = summarize(load_rows([tmp_path / "run"])).set_index(["codec", "metric"])["value"]
    assert summary[("reference", "dwer")] == 0.0 and summary[("reference", "sim")] > 0.99
    assert summary[("codec2-700c", "dwer")] > 0 and summary[("codec2-700c", "sim")] < 0.9
    assert 1.0 < summary[("codec2-700c", "dnsmos_p808")] < summary[("reference", "dnsmos_p808")]
    assert summary[("codec2-700c", "bitrate")] == pytest.approx(0.7, rel=0.01)  # kbps
    rows = list(ResultStore(tmp_path / "run").rows())
    assert all(r.backend for r in rows if r.metric in ("dwer", "sim", "dnsmos_p808"))


def test_quickstart_cli_with_user_data(messy_dir: Path, tmp_path: Path, capsys) -> None:
    """`codecbench quickstart --data DIR` on mixed real-world files: table printed and written."""
    from codecbench.cli.main import main

    out = tmp_path / "qs"
    code = main(["quickstart", "--data", str(messy_dir), "--out", str(out), "--no-progress",
                 "metrics=[]", "codecs=[reference, opus-6kbps]"])
    assert code == 0
    printed = capsys.readouterr().out
    assert "| opus-6kbps" in printed and "Errors" in printed
    assert (out / "tables" / "resynthesis.md").is_file() and (out / "tables" / "resynthesis.tex").is_file()


def test_cli_reports_config_errors_with_exit_code_2(tmp_path: Path, capsys) -> None:
    from codecbench.cli.main import main

    assert main(["run", str(tmp_path / "missing.yaml")]) == 2
    assert "not found" in capsys.readouterr().err


@pytest.mark.slow
def test_table1_measures_rates_codebooks_and_parameters(audio_dir: Path, tmp_path: Path, capsys) -> None:
    from codecbench.cli.main import main

    out = tmp_path / "t1"
    assert main(["table1", "--data", str(audio_dir), "--codecs", "mulaw-8bit", "codec2-700c", "dycast-ca",
                 "--out", str(out)]) == 0
    import pandas as pd

    table = pd.read_csv(out / "table1.csv").set_index("codec")
    assert table.loc["mulaw-8bit", "frame_rate_hz"] == pytest.approx(16000)
    assert table.loc["codec2-700c", "bitrate_kbps"] == pytest.approx(0.7, rel=0.05)
    assert table.loc["codec2-700c", "codebooks"] == "4x256"
    for codec in ("mulaw-8bit", "codec2-700c"):  # entropy coding can only save bits; usage is a share
        assert 0 < table.loc[codec, "entropy_bitrate_kbps"] <= table.loc[codec, "bitrate_kbps"] + 1e-9
        assert 0 < table.loc[codec, "codebook_usage_pct"] <= 100
    assert 0 < table.loc["dycast-ca", "frame_rate_hz"] < 60  # random-weight MMS-layout aligner: runs offline
    assert "| mulaw-8bit" in capsys.readouterr().out


def test_save_audio_writes_the_first_n_outputs_as_flac(audio_dir: Path, tmp_path: Path) -> None:
    import soundfile as sf

    from codecbench.config.runconfig import from_dict
    from codecbench.engine import runner
    from codecbench.results.tables import load_rows

    def config(save: object) -> object:
        return from_dict({"name": "a", "output_dir": str(tmp_path / "run"), "metric_profile": "offline",
                          "metrics": [], "save_audio": save,
                          "codecs": ["mulaw-8bit", {"name": "dy", "codec": "dycast-bp3",
                                                    "params": {"random_preset": "tiny"}}],
                          "datasets": {"d": {"format": "folder", "root": str(audio_dir)}}})

    runner.run(config(1), progress=False)
    rates = load_rows([tmp_path / "run"]).query("metric == 'frame_rate'").set_index(["codec", "utt_id"])
    saved = rates.loc[("mulaw-8bit", "utt0"), "extra"]["audio"]
    data, rate = sf.read(tmp_path / "run" / saved)
    assert rate == 16000 and len(data) == 24000  # the metrics' input: 16 kHz, the original's length
    assert "audio" not in rates.loc[("mulaw-8bit", "utt1"), "extra"]  # only the first utterance
    dy = rates.loc[("dy", "utt0"), "extra"]
    assert sum(dy["token_durations"]) > 0 and (tmp_path / "run" / dy["audio"]).is_file()
    for bad in (-1, "some", True):
        with pytest.raises(ValueError, match="save_audio"):
            config(bad)
