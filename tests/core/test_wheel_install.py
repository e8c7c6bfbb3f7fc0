"""A plain (non-editable) install works: the wheel carries the configs and the published tables as package
data (``codecbench.util.shipped``), so ``codecbench list``, ``codecbench table1 --help`` and a paper table's plan run
from it,
away from the checkout."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import sysconfig
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
SOURCES = ("codecbench", "configs", "results/published")


def _run(cmd: list[str], cwd: Path, env: dict[str, str] | None = None) -> str:
    done = subprocess.run(cmd, cwd=cwd, env=env, capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, f"{' '.join(cmd)} failed:\n{done.stdout[-3000:]}\n{done.stderr[-3000:]}"
    return done.stdout


def test_the_wheel_runs_from_a_fresh_venv_with_its_package_data(tmp_path: Path) -> None:
    source = tmp_path / "src"  # a copy: building in the checkout would leave build/ behind
    for part in SOURCES:
        shutil.copytree(ROOT / part, source / part, ignore=shutil.ignore_patterns("__pycache__", "*.pyc"))
    for name in ("pyproject.toml", "README.md"):
        shutil.copy(ROOT / name, source / name)
    wheels = tmp_path / "wheels"
    _run([sys.executable, "-m", "pip", "wheel", "-q", "--no-deps", "--no-build-isolation", "-w", str(wheels),
          str(source)], tmp_path)
    (wheel,) = wheels.glob("codecbench-*.whl")

    venv = tmp_path / "venv"  # its own site-packages first; this environment's dependencies (torch ...) after
    _run([sys.executable, "-m", "venv", "--without-pip", str(venv)], tmp_path)
    python = venv / "bin" / "python"
    purelib = "import sysconfig; print(sysconfig.get_paths()['purelib'])"
    site = Path(_run([str(python), "-c", purelib], tmp_path).strip())
    # a path listed in a .pth is not a site dir: the editable install's finder there is never loaded
    (site / "deps.pth").write_text(sysconfig.get_paths()["purelib"] + "\n")
    _run([sys.executable, "-m", "pip", "--python", str(python), "install", "-q", "--no-deps", "--no-index",
          str(wheel)], tmp_path)

    away = tmp_path / "elsewhere"
    away.mkdir()
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "VIRTUAL_ENV")}
    where = _run([str(python), "-c", "import codecbench, codecbench.util.shipped as r; print(codecbench.__file__); "
                  "print(r.config_file('quickstart.yaml'))"], away, env).split()
    assert all(Path(p).is_relative_to(venv) for p in where), where  # the wheel's files, not the checkout's
    assert Path(where[1]).is_file()
    codecbench = str(venv / "bin" / "codecbench")
    listing = _run([codecbench, "list"], away, env)
    assert "dycast-bp3" in listing and "resynthesis" in listing and "trained on" in listing  # cards: table5.csv
    assert "--codecs" in _run([codecbench, "table1", "--help"], away, env)
    plan = subprocess.run([codecbench, "paper", "table2", "--dry-run"], cwd=away, env=env, capture_output=True,
                          text=True, timeout=600)
    assert "codecbench paper table2" in plan.stdout and "MISSING data root 'librispeech'" in plan.stdout
