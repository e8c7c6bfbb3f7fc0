"""The whole ``paper`` metric profile end to end, offline: UTMOS22-strong, DNSMOS, Whisper-small dWER
through faster-whisper and WavLM-SV Sim, each from a random-weight stand-in of its real architecture
(built here), over real clips; every paper code path runs and the rows of random stand-ins are flagged."""

from __future__ import annotations

from pathlib import Path

import pytest

from codecbench.config.profiles import resolve_profile
from codecbench.config.runconfig import from_dict
from codecbench.engine import runner
from codecbench.results.tables import load_rows, render
from tests.metrics.random_assets import tiny_utmos, tiny_wavlm_sv, tiny_whisper_ct2

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def paper_assets(tmp_path_factory: pytest.TempPathFactory) -> dict[str, str]:
    pytest.importorskip("transformers", reason="paper profile (extra 'paper') not installed")
    pytest.importorskip("ctranslate2", reason="faster-whisper / ctranslate2 not installed")
    root = tmp_path_factory.mktemp("paper-assets")
    return {"utmos22-strong": str(tiny_utmos(root / "utmos")),
            "whisper-small-ct2": str(tiny_whisper_ct2(root / "whisper-small")),
            "wavlm-base-sv": str(tiny_wavlm_sv(root / "wavlm-sv"))}


def test_paper_profile_runs_end_to_end_on_random_assets(paper_assets: dict[str, str], shared_data: Path,
                                                        tmp_path: Path) -> None:
    config = from_dict({
        "name": "paper", "output_dir": str(tmp_path / "run"), "metric_profile": "auto", "assets": paper_assets,
        "codecs": ["reference", "mulaw-8bit"],
        "datasets": {"clips": {"format": "manifest", "root": str(shared_data), "ids": ["p225_011", "LJ001-0004"]}},
    })
    runner.run(config, progress=False)
    assert resolve_profile("auto") == "paper"  # every paper asset is reachable: auto picks the paper stack
    rows = load_rows([tmp_path / "run"])
    scored = rows[rows["metric"].isin(["utmos", "dnsmos_p808", "dwer", "sim"])]
    assert len(scored) == 2 * 2 * 4 and scored["error"].isna().all()
    backends = dict(zip(scored["metric"], scored["backend"], strict=False))
    assert backends["utmos"].startswith("utmos22-strong:utmos22_strong_step7459_v1.pt")
    assert backends["dwer"].startswith("faster-whisper:small@") and backends["sim"].startswith("wavlm-base-sv")
    flagged = {m: all(e.get("random_weights") for e in scored[scored["metric"] == m]["extra"])
               for m in ("utmos", "dwer", "sim", "dnsmos_p808")}
    assert flagged == {"utmos": True, "dwer": True, "sim": True, "dnsmos_p808": False}  # DNSMOS ships its real model
    table = render([tmp_path / "run"])["resynthesis"]
    assert "clips UTMOS" in table and "reference †" in table and "RANDOM WEIGHTS" in table
