"""The regression gate catches regressions: per-utterance comparison within measured noise. Three realistic
bugs (a codec off by one step, DNSMOS windows every 2 s, transcripts no longer normalised) each fail the
default gate, naming the metric and the utterances; an unchanged re-run on one thread passes."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import torch

from codecbench.cli.main import main
from codecbench.config.runconfig import from_dict
from codecbench.engine import runner
from codecbench.results.gate import gate, load_tolerances, rows_path, write_baseline
from tests.conftest import TOLERANCES

ROOT = Path(__file__).resolve().parents[2]
CLIPS = ["1688-142285-0000", "1688-142285-0001", "p227_023"]  # 15, 12.6 and 11.4 s: several DNSMOS windows


def _run(shared_data: Path, out: Path) -> Path:
    runner.run(from_dict({"name": "g", "output_dir": str(out), "metric_profile": "offline",
                          "metrics": ["dnsmos", "dwer"], "codecs": ["reference", "mulaw-8bit"], "batch_size": 2,
                          "datasets": {"clips": {"format": "manifest", "root": str(shared_data), "ids": CLIPS}}}),
               progress=False)
    return out


@pytest.fixture(scope="module")
def baseline(tmp_path_factory: pytest.TempPathFactory) -> Path:
    pytest.importorskip("faster_whisper", reason="the offline metrics (extra: offline) are needed")
    from codecbench.util.paths import shared_data_dir

    data = shared_data_dir()
    if data is None:
        pytest.skip("../shared/data (real speech clips) not found; set CODECBENCH_SHARED_DATA to run this test")
    tmp = tmp_path_factory.mktemp("gate")
    mp = pytest.MonkeyPatch()
    mp.setenv("CODECBENCH_CACHE", str(tmp / "cache"))
    try:
        run = _run(data, tmp / "base")
    finally:
        mp.undo()
    write_baseline(run, tmp / "baseline.csv")
    return tmp / "baseline.csv"


def _fresh_run(shared_data: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv("CODECBENCH_CACHE", str(tmp_path / "cache"))  # a patch changes no source file: no cache reuse
    return _run(shared_data, tmp_path / "run")


def _mulaw_off_by_one(monkeypatch: pytest.MonkeyPatch) -> None:
    from codecbench.codecs.mulaw import MuLawCodec

    encode = MuLawCodec.encode

    def shifted(self, wav, lengths):
        tokens = encode(self, wav, lengths)
        tokens.codes[wav[..., None] > 0] += 1  # positive samples one step up
        tokens.codes.clamp_(0, self.mu)
        return tokens

    monkeypatch.setattr(MuLawCodec, "encode", shifted)


def _dnsmos_two_second_hop(monkeypatch: pytest.MonkeyPatch) -> None:
    from codecbench.metrics import dnsmos

    windows = dnsmos._windows
    monkeypatch.setattr(dnsmos, "_windows", lambda audio, fs=16000: windows(audio, fs)[::2])


def _dwer_unnormalised(monkeypatch: pytest.MonkeyPatch) -> None:
    from codecbench.metrics.dwer import DWER

    init = DWER.__init__

    def raw(self, *args, **kwargs):
        init(self, *args, **kwargs)
        self.normalize = lambda text: text

    monkeypatch.setattr(DWER, "__init__", raw)


@pytest.mark.slow
@pytest.mark.parametrize("patch, metric, codecs", [
    (_mulaw_off_by_one, "dnsmos_p808", {"mulaw-8bit"}),
    (_dnsmos_two_second_hop, "dnsmos_p808", {"reference", "mulaw-8bit"}),
    (_dwer_unnormalised, "dwer", {"reference", "mulaw-8bit"}),
], ids=["codec-bug", "dnsmos-windows", "unnormalised-dwer"])
def test_each_regression_fails_the_default_gate_naming_metric_and_utterances(
        patch, metric: str, codecs: set[str], baseline: Path, shared_data: Path, tmp_path: Path,
        monkeypatch: pytest.MonkeyPatch) -> None:
    patch(monkeypatch)
    run = _fresh_run(shared_data, tmp_path, monkeypatch)
    monkeypatch.undo()
    tolerances = load_tolerances(ROOT / "configs" / "tolerances.yaml")
    result = gate(run, baseline, tolerances)
    assert not result.passed
    bad = result.failed_utterances
    hit = bad[bad["metric"] == metric]
    assert set(hit["codec"]) >= codecs and set(hit["utt_id"]) <= set(CLIPS) and len(hit)
    assert bad["score"].is_monotonic_decreasing  # the largest moves first
    report = result.report()
    assert metric in report and hit.iloc[0]["utt_id"] in report


@pytest.mark.slow
def test_an_unchanged_rerun_on_one_thread_passes(baseline: Path, shared_data: Path, tmp_path: Path,
                                                 monkeypatch: pytest.MonkeyPatch, capsys) -> None:
    threads = torch.get_num_threads()
    monkeypatch.setenv("CODECBENCH_THREADS", "1")
    try:
        run = _fresh_run(shared_data, tmp_path, monkeypatch)
    finally:
        torch.set_num_threads(threads)
    assert main(["check", str(run), "--baseline", str(baseline), "--tolerances", TOLERANCES]) == 0
    assert "check passed (utterance policy)" in capsys.readouterr().out


def test_baselines_keep_utterances_and_discrete_values_compare_exactly(tmp_path: Path, audio_dir: Path) -> None:
    config = from_dict({"name": "u", "output_dir": str(tmp_path / "run"), "metric_profile": "offline", "metrics": [],
                        "codecs": ["mulaw-8bit"], "datasets": {"d": {"format": "folder", "root": str(audio_dir)}}})
    runner.run(config, progress=False)
    write_baseline(tmp_path / "run", tmp_path / "b.csv")
    assert rows_path(tmp_path / "b.csv").name == "b.rows.csv" and rows_path(tmp_path / "b.csv").is_file()
    tolerances = load_tolerances(ROOT / "configs" / "tolerances.yaml")
    assert gate(tmp_path / "run", tmp_path / "b.csv", tolerances).passed
    rows = rows_path(tmp_path / "b.csv")
    text = rows.read_text().splitlines()
    bits = next(i for i, line in enumerate(text) if ",bitrate," in line)
    parts = text[bits].split(",")
    parts[6] = str(float(parts[6]) + 8)  # 8 more bits in one utterance: a count that must be exact
    text[bits] = ",".join(parts)
    rows.write_text("\n".join(text) + "\n")
    result = gate(tmp_path / "run", tmp_path / "b.csv", tolerances)
    assert not result.passed and result.failed_utterances["metric"].tolist() == ["bitrate"]
    assert gate(tmp_path / "run", tmp_path / "b.csv", tolerances, policy="aggregate").passed  # aggregates untouched
    (tmp_path / "b.rows.csv").unlink()
    with pytest.raises(FileNotFoundError, match="per-utterance"):
        gate(tmp_path / "run", tmp_path / "b.csv", tolerances)
    assert np.isfinite(tolerances.measured("bitrate", "utterance"))


def test_a_code_edit_alone_passes_and_a_model_change_fails(tmp_path: Path, audio_dir: Path, snr_metric: str) -> None:
    """Backends differing only in ``code=`` (a metric's source edited, values unchanged) pass, marked; a
    different model or decoding rule fails, per utterance and in aggregate."""
    config = from_dict({"name": "c", "output_dir": str(tmp_path / "run"), "metric_profile": "offline",
                        "metrics": [snr_metric], "codecs": ["mulaw-8bit"],
                        "datasets": {"d": {"format": "folder", "root": str(audio_dir)}}})
    runner.run(config, progress=False)
    write_baseline(tmp_path / "run", tmp_path / "b.csv")
    tolerances = load_tolerances(ROOT / "configs" / "tolerances.yaml")
    originals = {name: (tmp_path / name).read_text() for name in ("b.csv", "b.rows.csv")}
    assert "numpy:snr-db(xcorr-aligned) code=" in originals["b.rows.csv"]

    def rewrite(old: str, new: str) -> None:
        for name, text in originals.items():
            (tmp_path / name).write_text(text.replace(old, new))

    rewrite("xcorr-aligned) code=", "xcorr-aligned) code=0")  # another fingerprint
    result = gate(tmp_path / "run", tmp_path / "b.csv", tolerances)
    assert result.passed and "ok (code changed)" in set(result.utterances["status"])
    rewrite("numpy:snr-db(xcorr-aligned)", "numpy:snr-db(unaligned)")
    result = gate(tmp_path / "run", tmp_path / "b.csv", tolerances)
    assert not result.passed and result.failed_utterances["status"].str.startswith("backend changed").all()
    assert result.failed_aggregates["metric"].tolist() == ["snr"]


def test_your_baseline_needs_your_tolerances_and_calibration_writes_only_your_file(
        tmp_path: Path, audio_dir: Path, monkeypatch: pytest.MonkeyPatch, capsys) -> None:
    """A gate in your own repository: the harness's tolerances (measured for its CI codecs) are refused for your
    baseline; ``--calibrate`` measures yours into ``./tolerances.yaml`` (never into the installed package, never
    over a file it did not write), and the gate then runs on them."""
    import yaml

    config = tmp_path / "mine.yaml"
    config.write_text(yaml.safe_dump({"name": "mine", "output_dir": str(tmp_path / "run"), "metric_profile": "offline",
                                      "metrics": [], "codecs": ["mulaw-8bit"], "tasks": ["resynthesis"],
                                      "datasets": {"d": {"format": "folder", "root": str(audio_dir)}}}))
    assert main(["run", str(config), "--no-progress", "--no-table"]) == 0
    base = tmp_path / "b.csv"
    assert main(["check", str(tmp_path / "run"), "--baseline", str(base), "--write"]) == 0
    capsys.readouterr()
    assert main(["check", str(tmp_path / "run"), "--baseline", str(base)]) == 2
    assert "pass --tolerances FILE" in capsys.readouterr().err
    import codecbench

    inside = Path(codecbench.__file__).parent / "tolerances.yaml"
    assert main(["check", "--calibrate", str(config), "--tolerances", str(inside)]) == 2
    assert "inside the installed codecbench package" in capsys.readouterr().err and not inside.exists()
    foreign = tmp_path / "notes.yaml"
    foreign.write_text("mine: 1\n")
    assert main(["check", "--calibrate", str(config), "--tolerances", str(foreign)]) == 2
    assert foreign.read_text() == "mine: 1\n"
    monkeypatch.chdir(tmp_path)
    assert main(["check", "--calibrate", str(config), "--perturbations", "threads-1",
                 "--workdir", str(tmp_path / "cal")]) == 0
    measured = yaml.safe_load((tmp_path / "tolerances.yaml").read_text())["measured"]
    assert set(measured["utterance"]) == {"frame_rate", "bitrate", "token_rate"}  # mu-law: identical under one thread
    assert measured["utterance"]["bitrate"] == 0.0
    capsys.readouterr()
    assert main(["check", str(tmp_path / "run"), "--baseline", str(base), "--tolerances", "tolerances.yaml"]) == 0
    assert "tolerances: tolerances.yaml" in capsys.readouterr().out
    assert main(["check", "--calibrate", str(config), "--perturbations", "threads-1",
                 "--workdir", str(tmp_path / "cal2")]) == 0  # its own file: rewritten


def test_reports_print_tolerances_in_scientific_notation_in_every_table() -> None:
    """A 5.09e-06 tolerance prints as such in the aggregate table too (not re-parsed into 0.0000); the other
    numbers keep the table's format."""
    from codecbench.results.gate import GateResult, GateStatus

    aggregates = pd.DataFrame([{"codec": "c", "task": "t", "dataset": "d", "metric": "sim", "baseline": 0.5,
                                "run": 0.50001, "delta": 1e-05, "tolerance": 5.09e-06,
                                "status": GateStatus.EXCEEDS, "detail": ""}])
    text = GateResult(aggregates, None, []).report()
    assert "5.09e-06" in text and "0.5000" in text and "1e-05" not in text  # the delta in the table's format
