"""LibriTTS as distributed: ``<root>/<subset>/<speaker>/<chapter>/<id>.wav`` with ``<id>.normalized.txt``
(``text="original"``: ``<id>.original.txt``); the subset folder name (``train-clean-100``, ``dev-clean``,
``test-clean`` ...) is ``labels["subset"]``, which gives the train / valid / test split."""

from __future__ import annotations

from pathlib import Path
from typing import Literal

from codecbench.api import Utterance, register_dataset

from ._layout import CorpusLayoutError


@register_dataset("libritts")
def load_libritts(root: str | Path, subsets: list[str] | None = None,
                  text: Literal["normalized", "original"] = "normalized") -> list[Utterance]:
    """LibriTTS utterances of ``subsets`` (default: every subset folder under the root)."""
    if text not in ("normalized", "original"):
        raise ValueError(f"libritts: text must be 'normalized' or 'original', got {text!r}")
    root = Path(root)
    present = sorted(p.name for p in root.iterdir() if p.is_dir() and p.name.split("-")[0] in ("train", "dev", "test"))
    chosen = subsets or present
    missing = [s for s in chosen if s not in present]
    if missing or not chosen:
        raise CorpusLayoutError(f"LibriTTS root {root} lacks the expected subset folder(s) {missing or ['<subset>']}"
                                f" (has {present}); extract e.g. test-clean.tar.gz from openslr.org/60 into the root")
    utts = []
    for subset in chosen:
        for path in sorted((root / subset).glob("*/*/*.wav")):
            text_file = path.with_name(f"{path.stem}.{text}.txt")
            transcript = text_file.read_text(encoding="utf-8").strip() if text_file.is_file() else None
            utts.append(Utterance(utt_id=path.stem, path=path, speaker=path.parent.parent.name, text=transcript,
                                  labels={"corpus": "libritts", "subset": subset}))
    return utts
