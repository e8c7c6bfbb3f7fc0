"""The Python front door (issue 40): ``import codecbench`` is light; ``evaluate`` takes a Codec made in this process
and keys its rows and caches by its code, state dict and settings; ``run`` / ``load_results`` give the CLI's
tables, gate and report as DataFrames; no global state leaks out of a call."""

from __future__ import annotations

import random
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import torch

import codecbench
from codecbench.api import Codec, Tokens
from tests.conftest import TOLERANCES


class Gain(Codec):
    """An 8-bit uniform quantiser of the waveform times a learnable gain: a codec a researcher just trained."""

    codebook_sizes = [256]

    def __init__(self, gain: float = 1.0, name: str | None = None) -> None:
        super().__init__()
        self.gain = torch.nn.Parameter(torch.tensor(float(gain)))
        self.nominal_frame_rate = float(self.sample_rate)
        self.encodes = 0
        if name is not None:
            self.name = name

    def encode(self, wav: torch.Tensor, lengths: torch.Tensor) -> Tokens:
        self.encodes += int(wav.shape[0])
        codes = torch.round(((wav * self.gain).clamp(-1, 1) + 1) / 2 * 255).long()
        return Tokens(codes=codes[..., None], lengths=lengths.clone(), num_samples=lengths.clone())

    def decode(self, tokens: Tokens) -> tuple[torch.Tensor, torch.Tensor]:
        wav = (tokens.codes[..., 0].float() / 255 * 2 - 1) / self.gain.detach()
        return wav, tokens.lengths.clone()


def test_importing_the_package_imports_no_torch() -> None:
    code = "import sys, codecbench; print('torch' in sys.modules, sorted(codecbench.__all__))"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.split("\n")[0] == "False ['Results', 'evaluate', 'load_results', 'run', 'score']"


def test_evaluate_an_in_memory_codec_reuses_or_recomputes_by_its_state(audio_dir: Path, tmp_path: Path,
                                                                      monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CODECBENCH_CACHE", str(tmp_path / "cache"))

    def evaluate(codec: Gain, out: str) -> codecbench.Results:
        return codecbench.evaluate([codec, "mulaw-8bit"], audio_dir, tasks=["resynthesis"], metrics=[],
                                   profile="offline", out=tmp_path / out, progress=False, save_audio="all")

    first = evaluate(Gain(0.5, name="mine"), "a")
    table = first.table()
    assert list(table.index) == ["mine", "mulaw-8bit"] and table.loc["mine", "Bitrate (kbps)"] == pytest.approx(128)
    assert first.outcome is not None and not first.outcome.failed
    again = Gain(0.5, name="mine")
    evaluate(again, "b")
    assert again.encodes == 0  # the same code, state and settings: every token (and the contract verdict) cached
    changed = Gain(0.5, name="mine")
    with torch.no_grad():
        changed.gain.fill_(0.7)
    evaluate(changed, "c")
    assert changed.encodes > 0  # another state dict: recomputed
    rows = {out: codecbench.load_results(tmp_path / out).rows for out in ("a", "b", "c")}
    variant = {out: set(df.loc[df["codec"] == "mine", "variant"]) for out, df in rows.items()}
    assert variant["a"] == variant["b"] != variant["c"]
    saved = {out: sorted(f for f in (tmp_path / out / "audio").rglob("*.flac") if "mine" in str(f.parent))
             for out in ("a", "c")}
    assert saved["a"] and [p.read_bytes() for p in saved["a"]] != [p.read_bytes() for p in saved["c"]]


def test_no_global_state_leaks_from_a_call(audio_dir: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from codecbench import assets

    monkeypatch.setenv("CODECBENCH_THREADS", "1")
    random.seed(11)
    np.random.seed(12)
    torch.manual_seed(13)
    threads = torch.get_num_threads()
    expected = (random.random(), np.random.random(), torch.rand(1).item())
    random.seed(11)
    np.random.seed(12)
    torch.manual_seed(13)
    for folder in ("mine", "other"):
        (tmp_path / folder).mkdir()
        for name in ("config.json", "model.safetensors"):  # a complete folder as the asset declares it
            (tmp_path / folder / name).write_text("{}")
    with assets.overridden({"dycast": str(tmp_path / "mine")}):
        codecbench.evaluate(["mulaw-8bit"], audio_dir, tasks=["resynthesis"], metrics=[], profile="offline",
                            out=tmp_path / "run", progress=False, seed=5, assets={"dycast": str(tmp_path / "other")})
        assert assets.locate("dycast").location == str(tmp_path / "mine")
    assert (random.random(), np.random.random(), torch.rand(1).item()) == expected
    assert torch.get_num_threads() == threads


def test_run_and_load_results_give_the_clis_tables_and_gate(audio_dir: Path, tmp_path: Path) -> None:
    config = {"name": "p", "output_dir": str(tmp_path / "run"), "codecs": ["reference", "mulaw-8bit"],
              "datasets": {"d": {"format": "folder", "root": str(audio_dir)}}, "metric_profile": "offline",
              "metrics": [], "tasks": ["resynthesis"]}
    results = codecbench.run(config, "batch_size=1", progress=False)
    assert set(results.summary()["metric"]) == {"frame_rate", "bitrate", "token_rate"}
    loaded = codecbench.load_results(tmp_path / "run")
    assert loaded.table("resynthesis").equals(results.table())
    from codecbench.cli.main import main

    assert main(["check", str(tmp_path / "run"), "--baseline", str(tmp_path / "b.csv"), "--write"]) == 0
    verdict = loaded.check(tmp_path / "b.csv", TOLERANCES)
    assert verdict.passed and verdict.failed_utterances.empty
    with pytest.raises(ValueError, match="no rows of task 'vc'"):
        loaded.table("vc")
    with pytest.raises(FileNotFoundError, match="not a run folder"):
        codecbench.load_results(tmp_path / "nowhere")
    with pytest.raises(ValueError, match="config: unknown key 'sed'; did you mean 'seed'"):
        codecbench.evaluate(["mulaw-8bit"], audio_dir, out=tmp_path / "x", sed=3)
    with pytest.raises(ValueError, match="codecs must be a non-empty list"):
        codecbench.evaluate("mulaw-8bit", audio_dir)
    with pytest.raises(ValueError, match="in-memory codecs run in this process only"):
        codecbench.evaluate([Gain()], audio_dir, out=tmp_path / "y", executor={"kind": "local"})
