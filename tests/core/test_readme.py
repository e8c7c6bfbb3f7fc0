"""README.md's two set-up commands are what CI runs: read out of the README by one script, verbatim."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
SCRIPT = ROOT / "scripts" / "readme_commands.py"


def _command(n: int, readme: Path | None = None) -> subprocess.CompletedProcess:
    extra = ["--readme", str(readme)] if readme else []
    return subprocess.run([sys.executable, str(SCRIPT), str(n), *extra], capture_output=True, text=True, timeout=60)


def test_the_readme_has_an_install_and_a_test_command() -> None:
    install, tests = _command(1), _command(2)
    assert install.returncode == tests.returncode == 0
    assert "pip install torch==2.13.0" in install.stdout and "codecbench quickstart" in install.stdout
    assert tests.stdout.strip() == ". .venv/bin/activate && python -m pytest -q"


def test_ci_runs_the_readme_commands_it_reads_and_installs_nothing_before_them() -> None:
    ci = (ROOT / ".ci" / "run").read_text()
    assert "scripts/readme_commands.py" in ci
    before = ci.split("=== part 1")[0]
    assert "pip install" not in before.replace("pip.conf", "")  # nothing is installed ahead of the README


def test_blocks_come_only_from_the_set_up_section(tmp_path: Path) -> None:
    readme = tmp_path / "README.md"
    readme.write_text("# x\n\n```bash\nnot this\n```\n\n## Set up\n\ntext\n\n```bash\necho one\n```\n\n```python\n"
                      "skipped\n```\n\n```bash\necho two\n  && echo three\n```\n\n## Next\n\n```bash\nnor this\n```\n")
    assert _command(1, readme).stdout == "echo one\n"
    assert _command(2, readme).stdout == "echo two\n  && echo three\n"
    missing = _command(3, readme)
    assert missing.returncode == 2 and "2 bash blocks" in missing.stderr


@pytest.mark.parametrize("text", ["# no section\n", "## Set up\n\n```bash\nnever closed\n"])
def test_a_broken_readme_is_an_error(tmp_path: Path, text: str) -> None:
    readme = tmp_path / "README.md"
    readme.write_text(text)
    proc = _command(1, readme)
    assert proc.returncode == 2 and "readme_commands:" in proc.stderr
