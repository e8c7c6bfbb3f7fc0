"""UTMOS22-strong in-tree: the official key layout, parity with the official code's fixtures (every
stage within 1e-5), strict loading, and the metric scoring real clips from local weights."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np
import pytest
import torch

from codecbench import assets
from codecbench.cli.main import main
from codecbench.plugins.registry import METRICS

SHARED = Path(__file__).resolve().parents[3] / "shared"
FIXTURES = SHARED / "fixtures" / "utmos_parity"
KEYS = SHARED / "reference" / "utmos" / "state_dict_keys.tsv"
pytestmark = pytest.mark.slow  # builds the real architecture


def _fixtures() -> Path:
    if not (FIXTURES / "io.safetensors").is_file():
        pytest.skip("../shared/fixtures/utmos_parity not found")
    return FIXTURES


def test_official_widths_give_the_official_key_layout() -> None:
    if not KEYS.is_file():
        pytest.skip("../shared/reference/utmos/state_dict_keys.tsv not found")
    from codecbench.metrics._utmos_model import UTMOS22Strong

    state = UTMOS22Strong().state_dict()
    rows = [line.split("\t") for line in KEYS.read_text().splitlines()[1:]]
    expected = {key: tuple(int(d) for d in shape.split("x")) for key, shape, _ in rows}
    assert {k: tuple(v.shape) for k, v in state.items()} == expected
    assert sum(v.numel() for v in state.values()) == 102_772_865


def test_parity_with_the_official_fixtures(capsys: pytest.CaptureFixture) -> None:
    assert main(["parity", "utmos", str(_fixtures())]) == 0
    out = capsys.readouterr().out
    assert "parity OK: 15 outputs agree" in out


def test_parity_fails_on_changed_weights(tmp_path: Path) -> None:
    from safetensors.torch import load_file, save_file

    from codecbench.metrics._utmos_model import check_folder

    for item in _fixtures().iterdir():
        shutil.copy(item, tmp_path / item.name)
    state = load_file(tmp_path / "model.safetensors")
    state["judge_emb"] = state["judge_emb"] + 0.01
    save_file(state, tmp_path / "model.safetensors")
    failing = {c.key for c in check_folder(tmp_path) if not c.ok}
    assert failing and failing <= {"blstm", "frame_scores", "score"}  # the encoder does not see judge_emb


def test_metric_scores_clips_from_a_local_state_dict_and_loads_strictly(tmp_path: Path,
                                                                         monkeypatch: pytest.MonkeyPatch) -> None:
    from safetensors.torch import load_file

    fixtures = _fixtures()
    io = load_file(fixtures / "io.safetensors")
    folder = tmp_path / "utmos"
    folder.mkdir()
    (folder / "config.json").write_text((fixtures / "config.json").read_text())
    state = load_file(fixtures / "model.safetensors")
    torch.save(state, folder / "utmos22_strong_step7459_v1.pt")  # the official file name and format
    monkeypatch.setenv(assets.env_var("utmos22-strong"), str(folder))
    metric = METRICS.get("utmos")()
    wave = io["1.wave"][0].numpy()
    (score,) = metric.compute([wave], [wave], [None])  # type: ignore[list-item]
    assert score["utmos"].value == pytest.approx(float(io["1.score"][0]), abs=1e-5)
    assert metric.backend.startswith("utmos22-strong:utmos22_strong_step7459_v1.pt")
    del state["judge_emb"]
    torch.save(state, folder / "utmos22_strong_step7459_v1.pt")
    with pytest.raises(RuntimeError, match="judge_emb"):
        METRICS.get("utmos")()
    assert json.loads((folder / "config.json").read_text())["tiny"]["ssl"] == 64
    assert np.isfinite(score["utmos"].value)
