"""The docs can be followed (issue 41): every example marked ``<!-- test: python -->`` or ``<!-- test: bash -->`` in
``docs/`` runs as written, in a fresh folder holding ``clips/`` (two short recordings); the README stays a landing
page; the generated codec pages cover every installed codec."""

from __future__ import annotations

import importlib.util
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest
import soundfile as sf

from tests.conftest import tone

ROOT = Path(__file__).resolve().parents[2]
MARKED = re.compile(r"<!-- test: (python|bash) -->\n```(?:python|bash)\n(.*?)\n```", re.S)


def examples() -> list[tuple[str, str, str]]:
    """``(page, language, code)`` of every marked example."""
    found = []
    for page in sorted((ROOT / "docs").rglob("*.md")):
        for match in MARKED.finditer(page.read_text(encoding="utf-8")):
            found.append((page.relative_to(ROOT).as_posix(), match.group(1), match.group(2)))
    return found


EXAMPLES = examples()


def test_the_docs_have_runnable_examples() -> None:
    assert len({page for page, _, _ in EXAMPLES}) >= 4


@pytest.mark.parametrize(("page", "language", "code"), EXAMPLES,
                         ids=[f"{p}:{i}" for i, (p, _, _) in enumerate(EXAMPLES)])
def test_docs_example_runs(page: str, language: str, code: str, tmp_path: Path) -> None:
    clips = tmp_path / "clips"
    clips.mkdir()
    for i, name in enumerate(("a", "b")):
        sf.write(clips / f"{name}.wav", tone(1.0 + 0.3 * i, freq=170.0 + 50 * i, seed=i), 16000)
        (clips / f"{name}.txt").write_text(f"sentence {name}")
    env = {**os.environ, "CODECBENCH_CACHE": str(tmp_path / "cache"), "HF_HUB_OFFLINE": "1",
           "PATH": f"{Path(sys.executable).parent}{os.pathsep}{os.environ.get('PATH', '')}"}
    command = [sys.executable, "-c", code] if language == "python" else ["bash", "-euo", "pipefail", "-c", code]
    done = subprocess.run(command, cwd=tmp_path, env=env, capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, f"{page} example failed:\n{code}\n--- stdout\n{done.stdout[-3000:]}\n" \
                                 f"--- stderr\n{done.stderr[-3000:]}"


def test_the_readme_is_a_landing_page() -> None:
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    assert len(readme.splitlines()) <= 150  # a few screens; the manual is the docs site
    assert max(len(line) for line in readme.splitlines() if not line.startswith(("python3 -m venv", "|"))) <= 200
    for page in re.findall(r"\]\((docs/[^)#]+)", readme):
        assert (ROOT / page).is_file(), page


def test_generated_codec_pages_cover_every_installed_codec() -> None:
    spec = importlib.util.spec_from_file_location("codec_pages", ROOT / "docs" / "hooks" / "codec_pages.py")
    assert spec is not None and spec.loader is not None
    hook = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(hook)
    pages = hook.codec_pages()
    from codecbench.plugins.registry import CODECS

    listing = pages["codecs/installed.md"]
    for name in CODECS.names():
        assert f"`{name}`" in listing
    dycast = next(text for path, text in pages.items() if path.startswith("codecs/dycast"))
    assert "`dycast-ca`" in dycast and "codecbench parity dycast" in dycast and "| `checkpoint` |" in dycast
