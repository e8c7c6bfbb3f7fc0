"""`codecbench report`: a static report from a small real run (tables, plots, listening pages with saved audio and
DyCAST token boundaries), checked in a real headless Chromium where one is installed."""

from __future__ import annotations

import json
import re
import subprocess
import sys
from pathlib import Path

import pytest

pytest.importorskip("matplotlib", reason="codecbench report needs matplotlib: pip install 'codecbench[report]'")

from codecbench.cli.main import main  # noqa: E402
from codecbench.config.runconfig import from_dict  # noqa: E402
from codecbench.engine import runner  # noqa: E402

ROOT = Path(__file__).parents[2]


@pytest.fixture(scope="module")
def report(tmp_path_factory: pytest.TempPathFactory) -> Path:
    from codecbench.util.paths import shared_data_dir

    data = shared_data_dir()
    if data is None:
        pytest.skip("../shared/data (real speech clips) not found; set CODECBENCH_SHARED_DATA to run this test")
    tmp = tmp_path_factory.mktemp("report")
    config = from_dict({
        "name": "r", "output_dir": str(tmp / "run"), "metric_profile": "offline", "metrics": ["dnsmos", "sim"],
        "save_audio": 2, "tasks": ["resynthesis"],
        "codecs": ["reference", "mulaw-8bit", "codec2-700c",
                   {"name": "dycast-bp3-random", "codec": "dycast-bp3", "params": {"random_preset": "tiny"}}],
        "datasets": {"clean": {"format": "manifest", "root": str(data),
                               "ids": ["84-121123-0001", "p225_011", "LJ001-0004"]}},
    })
    runner.run(config, progress=False)
    assert main(["report", str(tmp / "run"), "--out", str(tmp / "report")]) == 0
    return tmp / "report"


def test_report_structure(report: Path) -> None:
    index = (report / "index.html").read_text()
    assert "<table>" in index and "dycast-bp3-random †" in index and "95% CI [" in index
    assert "paired p vs best" in index and "class='best'" in index
    plots = sorted((report / "plots").glob("*.png"))
    assert len(plots) == 2 and all(p.stat().st_size > 5000 for p in plots)  # DNSMOS and Sim against bitrate
    page = (report / "resynthesis+clean.html").read_text()
    audio = re.findall(r"<audio[^>]*src='([^']+)'", page)
    assert len(audio) == 2 * 5  # two saved utterances: the original and four codecs
    assert all((report / a).is_file() for a in audio) and "http" not in page  # self-contained
    assert len(re.findall(r"<img class='spec'", page)) == 8
    assert "ΔDNSMOS vs reference" in page  # sortable by the delta to the original
    assert "weights: random:dycast" in index and "registry name dycast-bp3" in index
    assert json.loads((report / "report.json").read_text())["pages"] == [["resynthesis", "clean", 2]]
    assert {"ci_low", "ci_high", "p_vs_best"} <= set((report / "summary.csv").read_text().splitlines()[0].split(","))


@pytest.mark.system("chromium")
def test_report_in_headless_chromium(report: Path) -> None:
    proc = subprocess.run([sys.executable, str(ROOT / "scripts" / "check_report.py"), str(report)],
                          capture_output=True, text=True, timeout=600)
    if proc.returncode == 77:
        pytest.skip("no Chromium installed here (apt-get install chromium): the browser check is skipped")
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "ok   resynthesis+clean.html: {'audio': 10, 'audio_playable': 10" in proc.stdout
    assert (report / "screenshot.png").stat().st_size > 10000
