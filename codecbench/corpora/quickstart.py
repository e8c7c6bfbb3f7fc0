"""``quickstart``: the synthetic eSpeak NG corpus (:mod:`codecbench.corpora._synth`), built and cached on first use."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

from codecbench.api import Range, Utterance, cache_dir, register_dataset
from codecbench.corpora._synth import build_quickstart_corpus

from .manifest import load_manifest


@register_dataset("quickstart")
def load_quickstart(root: str | Path | None = None, num_paragraphs: Annotated[int, Range(1, 3)] = 3
                    ) -> list[Utterance]:
    """The synthetic eSpeak NG corpus (built and cached under ``root`` on first use)."""
    target = Path(root) if root else cache_dir() / "quickstart_corpus"
    return load_manifest(build_quickstart_corpus(target, num_paragraphs=num_paragraphs))
