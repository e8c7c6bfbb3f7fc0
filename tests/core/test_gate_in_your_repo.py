"""The gate in your own repository (issue 41, item 5): the commands of ``docs/gate.md`` and of the shipped CI
workflows (GitHub Actions, GitLab CI), run as they are written in a scratch git repository; the gate passes on an
unchanged codec and fails, naming how to accept it, on a changed one."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
import soundfile as sf
import yaml

from tests.conftest import tone

ROOT = Path(__file__).resolve().parents[2]


def workflow_commands(path: Path) -> list[str]:
    """The shell commands a workflow file runs, in order (GitHub ``run:`` steps, GitLab ``script:`` lines)."""
    data = yaml.safe_load(path.read_text())
    if "jobs" in data:
        steps = [s for job in data["jobs"].values() for s in job["steps"] if "run" in s]
        return [line for s in steps for line in s["run"].splitlines() if line.strip()]
    return [line for job in data.values() if isinstance(job, dict) for line in job.get("script", [])]


@pytest.mark.slow
@pytest.mark.parametrize("workflow", ["github-actions.yml", "gitlab-ci.yml"])
def test_the_documented_gate_runs_in_a_scratch_repository(workflow: str, tmp_path: Path) -> None:
    repo = tmp_path / "mycodec"
    (repo / "clips").mkdir(parents=True)
    for i in range(3):
        sf.write(repo / "clips" / f"u{i}.wav", tone(1.0 + 0.2 * i, freq=150.0 + 40 * i, seed=i), 16000)
    env = {**os.environ, "CODECBENCH_CACHE": str(tmp_path / "cache"), "HF_HUB_OFFLINE": "1",
           "PATH": f"{Path(sys.executable).parent}{os.pathsep}{os.environ.get('PATH', '')}"}

    def sh(command: str) -> subprocess.CompletedProcess:
        return subprocess.run(["bash", "-euo", "pipefail", "-c", command], cwd=repo, env=env, capture_output=True,
                              text=True, timeout=900)

    setup = (ROOT / "docs" / "gate.md").read_text().split("<!-- test: bash -->\n```bash\n", 1)[1].split("\n```", 1)[0]
    done = sh(setup)
    assert done.returncode == 0, done.stderr[-3000:]
    assert sh("git init -q && git add -A && git -c user.email=a@b -c user.name=a commit -qm gate").returncode == 0
    ci = [c for c in workflow_commands(ROOT / "docs" / "ci" / workflow) if not c.startswith("pip install")]
    assert ci[-1].startswith("codecbench check") and "--tolerances tolerances.yaml" in ci[-1]
    assert [c.split()[1] for c in ci] == ["run", "check"]
    done = sh("rm -rf runs && " + " && ".join(ci))  # CI starts from a clean checkout: the committed files only
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    config = yaml.safe_load((repo / "codecbench_ci.yaml").read_text())
    config["codecs"] = [{"name": "mulaw-8bit", "codec": "opus-12kbps"}]  # a regression: the same label, other bits
    (repo / "codecbench_ci.yaml").write_text(yaml.safe_dump(config))
    done = sh(" && ".join(ci))
    assert done.returncode == 1 and "check FAILED" in done.stdout and "--write" in done.stdout
