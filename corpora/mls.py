"""Multilingual LibriSpeech (MLS), the paper's 700-utterance test subset: 100 per language for its 7
non-English languages.

Layout as distributed (openslr 94): ``<root>/mls_<language>/<split>/transcripts.txt`` (``id<TAB>text``)
and ``<root>/mls_<language>/<split>/audio/<speaker>/<book>/<id>.flac`` (``.opus`` in the Opus release).
The subset rule (documented, deterministic): per language, the utterance ids of the split sorted by
``sha256("<seed>:<id>")``, the first ``per_language`` kept. Each utterance carries its language code,
which reaches the ASR of dWER; ids are ``<code>_<MLS id>`` (unique across languages).
"""

from __future__ import annotations

import hashlib
from pathlib import Path

from bench.datasets import Utterance
from bench.registry import register_dataset

from ._layout import CorpusLayoutError, require_dirs

LANGUAGES = {"dutch": "nl", "french": "fr", "german": "de", "italian": "it", "polish": "pl",
             "portuguese": "pt", "spanish": "es"}


def subset_order(utt_id: str, seed: int) -> str:
    return hashlib.sha256(f"{seed}:{utt_id}".encode()).hexdigest()


@register_dataset("mls")
def load_mls(root: str | Path, split: str = "test", per_language: int | None = 100, seed: int = 0,
             languages: list[str] | None = None) -> list[Utterance]:
    """The MLS subset of the paper (``per_language=None``: every utterance of the split)."""
    root = Path(root)
    chosen = languages or list(LANGUAGES)
    unknown = [lang for lang in chosen if lang not in LANGUAGES]
    if unknown:
        raise ValueError(f"mls: unknown languages {unknown}; known: {sorted(LANGUAGES)}")
    require_dirs(root, "MLS", *(f"mls_{lang}/{split}" for lang in chosen),
                 hint="extract mls_<language>.tar.gz from openslr.org/94 into the root")
    utts: list[Utterance] = []
    for lang in chosen:
        folder = root / f"mls_{lang}" / split
        transcripts = folder / "transcripts.txt"
        if not transcripts.is_file():
            raise CorpusLayoutError(f"MLS root {root} lacks {transcripts.relative_to(root)}")
        lines = transcripts.read_text(encoding="utf-8").splitlines()
        texts = dict(line.split("\t", 1) for line in lines if "\t" in line)
        ids = sorted(texts, key=lambda i: subset_order(i, seed))
        for utt_id in ids[:per_language] if per_language is not None else ids:
            speaker, book = utt_id.split("_")[:2]
            base = folder / "audio" / speaker / book / utt_id
            path = next((base.with_suffix(s) for s in (".flac", ".opus", ".wav") if base.with_suffix(s).is_file()),
                        base.with_suffix(".flac"))
            utts.append(Utterance(utt_id=f"{LANGUAGES[lang]}_{utt_id}", path=path, speaker=f"{lang}:{speaker}",
                                  text=texts[utt_id].strip(),
                                  language=LANGUAGES[lang], labels={"corpus": "mls", "split": split}))
    return utts
