""""One file, nothing else", three ways: a codec, a task and a metric, each a module in a temporary
package registered the way a third party would (an installed distribution's entry point), reach
``codecbench list``, the run and the rendered table without any edit to the harness."""

from __future__ import annotations

import importlib
import textwrap
from pathlib import Path

import pandas as pd
import pytest

from codecbench.cli.main import main
from codecbench.config.runconfig import from_dict
from codecbench.engine.runner import run
from codecbench.plugins import registry
from codecbench.results.tables import render


def install_plugin(root: Path, monkeypatch: pytest.MonkeyPatch, module: str, source: str, group: str,
                   name: str) -> None:
    """Write ``module.py`` and a ``.dist-info`` with one entry point under ``root``; put it on sys.path."""
    site = root / "site"
    site.mkdir(exist_ok=True)
    (site / f"{module}.py").write_text(textwrap.dedent(source))
    info = site / f"{module}-0.1.dist-info"
    info.mkdir()
    (info / "METADATA").write_text(f"Metadata-Version: 2.1\nName: {module}\nVersion: 0.1\n")
    (info / "entry_points.txt").write_text(f"[{group}]\n{name} = {module}\n")
    monkeypatch.syspath_prepend(str(site))
    import os  # a child process (check-codec runs its checks in one) finds the plugin too

    monkeypatch.setenv("PYTHONPATH", os.pathsep.join(p for p in (str(site), os.environ.get("PYTHONPATH")) if p))
    importlib.invalidate_caches()
    monkeypatch.setattr(registry, "_discovered", False)  # a new process would discover it afresh
    monkeypatch.delitem(__import__("sys").modules, module, raising=False)


CODEC = '''
    """A 4-bit uniform quantizer: a third-party codec in one file."""
    import torch

    from codecbench.api import Codec, Tokens, register_codec


    @register_codec({"quant4": {"bits": 4}})
    class UniformQuantizer(Codec):
        """Uniform scalar quantizer of the waveform (third party)."""

        def __init__(self, bits: int = 4) -> None:
            super().__init__()
            self.levels = 2 ** bits
            self.codebook_sizes = [self.levels]
            self.nominal_frame_rate = float(self.sample_rate)

        def encode(self, wav, lengths):
            codes = torch.round((wav.clamp(-1, 1) + 1) / 2 * (self.levels - 1)).long()
            return Tokens(codes=codes[..., None], lengths=lengths.clone(), num_samples=lengths.clone())

        def decode(self, tokens):
            return tokens.codes[..., 0].float() / (self.levels - 1) * 2 - 1, tokens.lengths.clone()
'''

TASK = '''
    """Loudness of the decoded audio: a third-party task in one file."""
    import numpy as np
    import torch

    from codecbench.api import MetricOutput, Task, load_audio, register_task


    @register_task("loudness")
    class Loudness(Task):
        """RMS level of each decoded utterance in dB."""

        name = "loudness"
        outputs = (MetricOutput("rms_db", "RMS (dB)", None, order=5),)

        def run(self, ctx):
            todo = [u for u in ctx.utterances if ctx.missing(self.name, u.utt_id, ["rms_db"])]
            if not todo:
                return
            codec = ctx.get_codec()
            for utt in todo:
                audio = load_audio(utt.path)
                x = torch.from_numpy(audio.samples)[None]
                wav, lengths = codec.decode(codec.encode(x, torch.tensor([x.shape[1]])))
                rms = float(np.sqrt(np.mean(wav[0, : int(lengths[0])].numpy() ** 2)))
                ctx.add_rows([ctx.row(self.name, utt.utt_id, "rms_db", value=20 * np.log10(rms + 1e-9),
                                       backend="numpy")])
'''

METRIC = '''
    """Peak level: a third-party metric in one file, with an offline backend."""
    import numpy as np

    from codecbench.api import Backend, Metric, MetricOutput, Score, register_metric


    @register_metric("peak")
    class Peak(Metric):
        """Absolute peak of the decoded audio."""

        name = "peak"
        outputs = (MetricOutput("peak", "Peak", None, order=90),)
        profiles = {"offline": Backend()}

        @property
        def backend(self):
            return "numpy-peak"

        def compute(self, hyp, ref, meta):
            return [{"peak": Score(float(np.abs(h).max()))} for h in hyp]
'''


def _config(tmp_path: Path, audio_dir: Path, **keys: object):
    return from_dict({"name": "third", "output_dir": str(tmp_path / "run"), "metric_profile": "offline",
                      "datasets": {"tones": {"format": "folder", "root": str(audio_dir)}}, **keys})


def test_a_codec_in_one_file_reaches_list_and_the_resynthesis_table(
        tmp_path: Path, audio_dir: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture) -> None:
    install_plugin(tmp_path, monkeypatch, "third_codec", CODEC, "codecbench.codecs", "quant4")
    assert main(["list", "codecs"]) == 0
    assert "quant4" in capsys.readouterr().out
    config = _config(tmp_path, audio_dir, codecs=["reference", "quant4"], metrics=[])
    run(config, progress=False)
    table = render([config.output_dir])["resynthesis"]
    assert "| quant4" in table and "Bitrate (kbps)" in table
    wide = pd.read_csv(config.output_dir / "tables" / "resynthesis.csv", index_col=0)
    assert wide.loc["quant4", "Bitrate (kbps)"] == pytest.approx(64.0)  # 4 bits x 16 kHz, measured


def test_bench_check_codec_runs_the_contract_on_a_third_party_codec(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture) -> None:
    """``codecbench check-codec NAME`` passes a codec that keeps the contract and names the check a broken one fails."""
    install_plugin(tmp_path, monkeypatch, "third_codec", CODEC, "codecbench.codecs", "quant4")
    assert main(["check-codec", "quant4"]) == 0
    out = capsys.readouterr().out
    assert "6 of 6 checks passed" in out and "ok      frame_rate" in out
    broken = CODEC.replace("float(self.sample_rate)", "50.0").replace('"quant4"', '"quant4-wrong-rate"')
    (tmp_path / "b").mkdir()
    install_plugin(tmp_path / "b", monkeypatch, "third_broken", broken, "codecbench.codecs", "quant4-wrong-rate")
    assert main(["check-codec", "quant4-wrong-rate"]) == 1
    out = capsys.readouterr().out
    assert "FAILED  frame_rate" in out and "declared 50.0 Hz" in out and "5 of 6 checks passed" in out


def test_a_task_in_one_file_gets_its_own_column_into_the_table(
        tmp_path: Path, audio_dir: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    install_plugin(tmp_path, monkeypatch, "third_task", TASK, "codecbench.tasks", "loudness")
    config = _config(tmp_path, audio_dir, codecs=["reference"], tasks=["loudness"], metrics=[])
    run(config, progress=False)
    table = render([config.output_dir])["loudness"]
    assert "tones RMS (dB)" in table and "| reference" in table


def test_a_metric_in_one_file_joins_the_offline_profile(
        tmp_path: Path, audio_dir: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    install_plugin(tmp_path, monkeypatch, "third_metric", METRIC, "codecbench.metrics", "peak")
    from codecbench.config.profiles import metric_settings, profiles

    assert "peak" in profiles()["offline"] and "peak" not in profiles().get("paper", {})
    assert "peak" in metric_settings("offline", None)
    config = _config(tmp_path, audio_dir, codecs=["mulaw-8bit"], metrics=["peak"])
    run(config, progress=False)
    table = render([config.output_dir])["resynthesis"]
    assert "tones Peak" in table
