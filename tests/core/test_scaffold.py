"""``codecbench new codec NAME`` (issue 41, item 3): the package it writes keeps the contract as it is, installs,
is found by ``codecbench list`` / ``check-codec``, passes its own tests, and its codec reaches a table."""

from __future__ import annotations

import importlib
import os
import subprocess
import sys
from pathlib import Path

import pytest

from codecbench.api import contract_failures
from codecbench.cli.main import main


def test_the_written_codec_keeps_the_contract_and_names_are_checked(tmp_path: Path, capsys,
                                                                   monkeypatch: pytest.MonkeyPatch) -> None:
    assert main(["new", "codec", "tiny-codec", "--out", str(tmp_path / "pkg")]) == 0
    assert "pip install -e" in capsys.readouterr().out
    monkeypatch.syspath_prepend(str(tmp_path / "pkg"))
    module = importlib.import_module("codecbench_tiny_codec.codec")
    codec = module.TinyCodecCodec(**module.TinyCodecCodec.test_params)
    assert contract_failures(codec) == []
    for bad in ("Tiny", "9lives", "a--b", "a_b"):
        assert main(["new", "codec", bad, "--out", str(tmp_path / bad)]) == 2
        assert "lower-case letters" in capsys.readouterr().err
    assert main(["new", "codec", "tiny-codec", "--out", str(tmp_path / "pkg")]) == 2  # never over a folder
    assert "exists" in capsys.readouterr().err


@pytest.mark.slow
def test_the_written_package_installs_passes_its_tests_and_reaches_a_table(tmp_path: Path) -> None:
    package = tmp_path / "snac-random"
    assert main(["new", "codec", "snac-random", "--out", str(package)]) == 0
    site = tmp_path / "site"
    done = subprocess.run([sys.executable, "-m", "pip", "install", "-q", "--no-deps", "--no-build-isolation",
                           "--target", str(site), str(package)], capture_output=True, text=True)
    assert done.returncode == 0, done.stderr[-2000:]
    bin_dir = Path(sys.executable).parent
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(site), os.environ.get("PYTHONPATH", "")]),
           "PATH": f"{bin_dir}{os.pathsep}{os.environ.get('PATH', '')}", "CODECBENCH_CACHE": str(tmp_path / "cache"),
           "HF_HUB_OFFLINE": "1"}
    listed = subprocess.run(["codecbench", "list", "codecs"], env=env, capture_output=True, text=True)
    assert "snac-random" in listed.stdout and "BROKEN" not in listed.stdout
    checked = subprocess.run(["codecbench", "check-codec", "snac-random"], env=env, capture_output=True, text=True)
    assert checked.returncode == 0 and "checks passed" in checked.stdout, checked.stdout + checked.stderr
    tests = subprocess.run([sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "tests"], cwd=package,
                           env=env, capture_output=True, text=True)
    assert tests.returncode == 0 and "2 passed" in tests.stdout, tests.stdout + tests.stderr
    clips = tmp_path / "clips"
    clips.mkdir()
    import soundfile as sf

    from tests.conftest import tone

    for i in range(2):
        sf.write(clips / f"u{i}.wav", tone(1.0, freq=200.0 + 40 * i, seed=i), 16000)
    code = ("import codecbench; r = codecbench.evaluate(['snac-random', 'mulaw-8bit'], 'clips', "
            "tasks=['resynthesis'], metrics=[], profile='offline', out='run', progress=False); "
            "print(r.table().loc['snac-random', 'Bitrate (kbps)'])")
    table = subprocess.run([sys.executable, "-c", code], cwd=tmp_path, env=env, capture_output=True, text=True)
    assert table.returncode == 0 and float(table.stdout.strip().splitlines()[-1]) == pytest.approx(0.5), \
        table.stdout + table.stderr
