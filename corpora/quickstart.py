"""``quickstart``: the synthetic eSpeak NG corpus (:mod:`bench.synth`), built and cached on first use."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

from bench.datasets import Utterance
from bench.options import Range
from bench.paths import cache_dir
from bench.registry import register_dataset
from bench.synth import build_quickstart_corpus

from .manifest import load_manifest


@register_dataset("quickstart")
def load_quickstart(root: str | Path | None = None, num_paragraphs: Annotated[int, Range(1, 3)] = 3
                    ) -> list[Utterance]:
    """The synthetic eSpeak NG corpus (built and cached under ``root`` on first use)."""
    target = Path(root) if root else cache_dir() / "quickstart_corpus"
    return load_manifest(build_quickstart_corpus(target, num_paragraphs=num_paragraphs))
