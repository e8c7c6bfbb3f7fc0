"""Parity of the paper's baselines with the code the authors ran (issue 39, item 8): fixtures recorded from their
forks and packages (``scripts/baseline_record_fixtures.py``, seeded weights) replayed through this harness's codecs
by ``codecbench parity``; a changed weight breaks it."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from codecbench.cli.main import main
from codecbench.plugins.registry import PARITY, discover

pytestmark = pytest.mark.slow  # builds full-size architectures (BigCodec 160 M, Mimi 79 M parameters)

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures"
FAMILIES = ("bigcodec", "wavtokenizer", "encodec", "mimi", "dac")


@pytest.mark.parametrize("family", FAMILIES)
def test_the_authors_baseline_code_is_replayed_exactly(family: str, capsys: pytest.CaptureFixture) -> None:
    pytest.importorskip("transformers", reason="EnCodec, Mimi and DAC run through transformers (extra 'paper')")
    discover()
    checks = PARITY.get(family)(FIXTURES / f"{family}_parity")
    failing = [c for c in checks if not c.ok]
    assert checks and not failing, failing
    assert {c.kind for c in checks} >= {"int", "wave"}  # tokens and audio were compared
    manifest = json.loads((FIXTURES / f"{family}_parity" / "manifest.json").read_text())
    assert manifest["family"] == family and manifest["parameters"]


def test_a_changed_weight_breaks_baseline_parity(tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    folder = tmp_path / "bigcodec"
    shutil.copytree(FIXTURES / "bigcodec_parity", folder)
    manifest = json.loads((folder / "manifest.json").read_text())
    manifest["seed"] = 1  # every weight differs from the recorded model's
    (folder / "manifest.json").write_text(json.dumps(manifest))
    assert main(["parity", "bigcodec", str(folder)]) == 1
    assert "parity FAILED" in capsys.readouterr().out
