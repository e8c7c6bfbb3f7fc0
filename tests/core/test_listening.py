"""MUSHRA listening tests (``codecbench listen``): built from a run's saved outputs, driven in headless Chromium by two
scripted participants (one rates the hidden reference low, so the BS.1534 post-screening excludes them), imported
back as rows, shown as a table with intervals."""

from __future__ import annotations

import json
import re
import shutil
import subprocess
import tempfile
from pathlib import Path
from urllib.parse import quote

import numpy as np
import pytest
import soundfile as sf

from codecbench.cli.main import main
from codecbench.config.runconfig import from_dict
from codecbench.engine import runner
from codecbench.results import listening
from codecbench.results.tables import load_rows, render


@pytest.fixture(scope="module")
def run_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    from codecbench.api.contract import tone

    root = tmp_path_factory.mktemp("listen")
    data = root / "data"
    data.mkdir()
    for i in range(5):
        sf.write(data / f"u{i}.wav", tone(1.6 + 0.2 * i, freq=150.0 + 40 * i, seed=i), 16000)
    config = from_dict({"name": "l", "output_dir": str(root / "run"), "metric_profile": "offline",
                        "metrics": ["sim"], "save_audio": "all", "codecs": ["reference", "mulaw-8bit", "codec2-700c"],
                        "datasets": {"tones": {"format": "folder", "root": str(data)}}})
    runner.run(config, progress=False)
    return root / "run"


def test_build_picks_items_over_the_metric_and_levels_every_stimulus(run_dir: Path, tmp_path: Path) -> None:
    index = listening.build_test([run_dir], tmp_path / "test", items=3, seed=1)
    spec = json.loads((tmp_path / "test" / "test.json").read_text())
    assert index.is_file() and len(spec["items"]) == 3 and spec["spread_by"] == "sim"
    df = load_rows([run_dir])
    sims = df[(df["metric"] == "sim") & (df["codec"] != "reference")].groupby("utt_id")["value"].mean()
    scores = sorted(item["score"] for item in spec["items"])
    assert scores[0] == pytest.approx(sims.min()) and scores[-1] == pytest.approx(sims.max())  # the range's ends
    assert len(set(scores)) == 3
    for item in spec["items"]:
        labels = {c["label"] for c in item["conditions"].values()}
        assert labels == {listening.HIDDEN, listening.ANCHOR, "mulaw-8bit", "codec2-700c"}
        codecs = [c for c in item["conditions"].values() if c["role"] == "codec"]
        assert all(c["variant"] and c["run"] == "l" for c in codecs)  # provenance: the variant each one played
        lengths, levels = set(), []
        for path in item["files"].values():
            audio, rate = sf.read(tmp_path / "test" / path)
            lengths.add(len(audio))
            levels.append(listening.gated_level_db(audio, rate))
        assert len(lengths) == 1 and max(levels) - min(levels) < 0.5  # one segment length, loudness matched
    anchor = next(p for p in spec["items"][0]["files"].values()
                  if spec["items"][0]["conditions"][Path(p).stem]["role"] == "anchor")
    audio, rate = sf.read(tmp_path / "test" / anchor)
    spectrum = np.abs(np.fft.rfft(audio))
    assert spectrum[np.fft.rfftfreq(len(audio), 1 / rate) > 4000].max() < 0.01 * spectrum.max()  # low-passed
    assert "mushra" in (tmp_path / "test" / "webmushra.yaml").read_text()


def _participant(page: Path, code: str, plan: dict[str, float]) -> dict:
    """Run the page in headless Chromium as a scripted participant; the exported JSON."""
    exe = shutil.which("chromium") or shutil.which("chromium-browser") or shutil.which("google-chrome")
    if exe is None:
        pytest.skip("no Chromium installed here (apt-get install chromium): the browser check is skipped")
    fragment = "#participant=" + code + "&auto=" + quote(json.dumps(plan))
    with tempfile.TemporaryDirectory() as profile:
        proc = subprocess.run([exe, "--headless=new", "--no-sandbox", "--disable-gpu", f"--user-data-dir={profile}",
                               "--allow-file-access-from-files", "--virtual-time-budget=10000", "--dump-dom",
                               page.resolve().as_uri() + fragment], capture_output=True, text=True, timeout=120)
    found = re.search(r'<pre id="export">(.*?)</pre>', proc.stdout, re.S)
    assert found and found.group(1), proc.stdout[-2000:] + proc.stderr[-2000:]
    return json.loads(found.group(1).replace("&quot;", '"'))


@pytest.mark.system("chromium")
def test_two_scripted_participants_in_chromium_become_rows_and_a_table(run_dir: Path, tmp_path: Path) -> None:
    test = tmp_path / "test"
    assert main(["listen", str(run_dir), "--out", str(test), "--items", "4"]) == 0
    page = test / "index.html"
    good = _participant(page, "P1", {listening.HIDDEN: 100, listening.ANCHOR: 15, "mulaw-8bit": 80, "default": 40})
    careless = _participant(page, "P2", {listening.HIDDEN: 55, "default": 60})
    spec = json.loads((test / "test.json").read_text())
    assert good["digest"] == spec["digest"] and set(good["ratings"]) == {i["id"] for i in spec["items"]}
    files = []
    for name, result in (("p1.json", good), ("p2.json", careless)):
        (test / name).write_text(json.dumps(result))
        files.append(str(test / name))
    assert main(["listen", "import", *files, "--into", str(run_dir), "--test", str(test)]) == 0
    record = json.loads((run_dir / "listening.json").read_text())["tests"][spec["digest"]]
    assert list(record["kept"]) == ["P1"] and "P2" in record["excluded"]
    df = load_rows([run_dir])
    rows = df[df["metric"] == "mushra"]
    assert len(rows) == 4 * 4 and set(rows["extra"].map(lambda e: e["listener"])) == {"P1"}
    assert set(rows[rows["codec"] == "mulaw-8bit"]["value"]) == {80.0}
    table = render([run_dir])["listening"]
    assert "MUSHRA" in table and "hidden reference" in table and "anchor 3.5 kHz" in table
    assert "**100.0**" not in table and "**80.0**" in table  # the hidden reference is not ranked, as identity rows
    rho = listening.correlations(df).set_index(["metric", "level"])
    per_item = rho.loc[("sim", "item")]  # 4 items x 2 codecs the metric scored
    assert per_item["n"] == 8 and -1 <= per_item["rho"] <= 1 and per_item["ci_low"] <= per_item["ci_high"]
    from codecbench.results.report import build_report

    index = build_report([run_dir], tmp_path / "report").read_text()
    assert "objective metrics against MUSHRA" in index and "condition" in index
    assert "plots/mushra+sim.png" in index and (tmp_path / "report" / "plots" / "mushra+sim.png").stat().st_size
    assert main(["listen", "import", *files, "--into", str(run_dir), "--test", str(test)]) == 0  # the same: no-op
    assert len(load_rows([run_dir]).query("metric == 'mushra'")) == 16
    changed = json.loads((test / "p1.json").read_text())
    first = next(iter(changed["ratings"]))
    mulaw = next(cid for cid, c in next(i for i in spec["items"] if i["id"] == first)["conditions"].items()
                 if c["label"] == "mulaw-8bit")
    changed["ratings"][first][mulaw] = 10.0
    (test / "p1.json").write_text(json.dumps(changed))
    with pytest.raises(ValueError, match="already holds other ratings"):
        listening.import_ratings([test / "p1.json"], run_dir, test)
    wrong = dict(good, digest="0" * 16)
    (test / "wrong.json").write_text(json.dumps(wrong))
    with pytest.raises(ValueError, match="from another test"):
        listening.import_ratings([test / "wrong.json"], run_dir, test)
