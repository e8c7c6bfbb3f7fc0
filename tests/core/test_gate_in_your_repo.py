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
def test_the_documented_gate_runs_in_a_scratch_repository(tmp_path: Path) -> None:
    """The gate page's four commands in a scratch git repository, then the workflows' commands (GitHub Actions and
    GitLab CI run the same ones) on a clean checkout: they pass, and a regression fails them."""
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
    workflows = {name: [c for c in workflow_commands(ROOT / "docs" / "ci" / name) if not c.startswith("pip install")]
                 for name in ("github-actions.yml", "gitlab-ci.yml")}
    ci = workflows["github-actions.yml"]
    assert workflows["gitlab-ci.yml"] == ci  # one set of commands, two CI systems
    assert ci[-1].startswith("codecbench check") and "--tolerances tolerances.yaml" in ci[-1]
    assert [c.split()[1] for c in ci] == ["run", "check"]
    done = sh("rm -rf runs && " + " && ".join(ci))  # CI starts from a clean checkout: the committed files only
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    config = yaml.safe_load((repo / "codecbench_ci.yaml").read_text())
    config["codecs"] = [{"name": "mulaw-8bit", "codec": "opus-12kbps"}]  # a regression: the same label, other bits
    (repo / "codecbench_ci.yaml").write_text(yaml.safe_dump(config))
    done = sh(" && ".join(ci))
    assert done.returncode == 1 and "check FAILED" in done.stdout and "--write" in done.stdout


def test_the_workflows_pin_the_harness_and_its_constraints_by_one_tag() -> None:
    for name in ("github-actions.yml", "gitlab-ci.yml"):
        installs = [c for c in workflow_commands(ROOT / "docs" / "ci" / name) if "codecbench" in c and "pip" in c]
        assert len(installs) == 1, name
        tag = installs[0].split("@")[-1].strip('"')
        assert tag.startswith("v") and f"/{tag}/constraints.txt" in installs[0] and " -c " in installs[0], name
