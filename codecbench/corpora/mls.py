"""Multilingual LibriSpeech (MLS) and MiniMLS, the paper's 700-utterance multilingual test set.

Layout as distributed (openslr 94, and MiniMLS, zenodo.org/records/14791114, in the same shape):
``<root>/mls_<language>/<split>/transcripts.txt`` (``id<TAB>text``) and
``<root>/mls_<language>/<split>/audio/<speaker>/<book>/<id>.flac`` (``.opus`` in MLS's Opus release).

Two selections:

- ``selection="as_distributed"`` (default; the paper's MiniMLS): every audio file found under each language
  folder, every language folder present (``languages`` limits them), nothing ranked or cut. This is how the
  authors read it (lucadellalib/audiocodecs ``downstream/datasets/mls.py``, ``prepare_data``: every ``.wav`` /
  ``.flac`` under ``mls_<lang>/<split>``, sorted, each looked up in ``transcripts.txt``;
  ``hparams/datasets/minimls-test.yaml``: ``splits: [test]``, ``languages: null``, i.e. every folder). A file
  without a transcript is an error, as in theirs.
- ``selection="hash"`` (this harness's own subset of *full* MLS, not the paper's): per language, the ids of
  ``transcripts.txt`` sorted by ``sha256("<seed>:<id>")``, the first ``per_language`` kept.

Each utterance carries its language code, which reaches the ASR of dWER; ids are ``<code>_<MLS id>``.
"""

from __future__ import annotations

import hashlib
from pathlib import Path
from typing import Literal

from codecbench.api import Download, PositiveInt, Seed, Utterance, register_dataset

from ._layout import CorpusLayoutError, require_dirs

LANGUAGES = {"dutch": "nl", "english": "en", "french": "fr", "german": "de", "italian": "it", "polish": "pl",
             "portuguese": "pt", "spanish": "es"}
PAPER_LANGUAGES = [lang for lang in LANGUAGES if lang != "english"]  # the paper's seven (appendix D.1)
SELECTIONS = ("as_distributed", "hash")
AUDIO_SUFFIXES = (".flac", ".wav", ".opus")


def subset_order(utt_id: str, seed: int) -> str:
    return hashlib.sha256(f"{seed}:{utt_id}".encode()).hexdigest()


def _read_transcripts(path: Path) -> dict[str, str]:
    lines = path.read_text(encoding="utf-8").splitlines()
    return {i: t.strip() for i, t in (line.split("\t", 1) for line in lines if "\t" in line)}


def _utterance(lang: str, split: str, utt_id: str, path: Path, text: str) -> Utterance:
    speaker = utt_id.split("_")[0]
    return Utterance(utt_id=f"{LANGUAGES[lang]}_{utt_id}", path=path, speaker=f"{lang}:{speaker}", text=text,
                     language=LANGUAGES[lang], labels={"corpus": "mls", "split": split})


def _language_folders(root: Path, split: str) -> dict[str, Path]:
    """Language -> folder, for every folder of the root that holds ``split``; a folder is named ``mls_<language>``
    or ``<language>`` (the authors take the name's last ``_`` part)."""
    found: dict[str, Path] = {}
    for folder in sorted(p for p in root.iterdir() if (p / split).is_dir()) if root.is_dir() else []:
        lang = folder.name.rsplit("_", 1)[-1]
        if lang not in LANGUAGES:
            raise CorpusLayoutError(f"MLS root {root}: folder {folder.name!r} names no known language; "
                                    f"known: {sorted(LANGUAGES)}")
        if lang in found:
            raise CorpusLayoutError(f"MLS root {root}: two folders of {lang}: {found[lang].name}, {folder.name}")
        found[lang] = folder
    if not found:
        raise CorpusLayoutError(f"MLS root {root} has no mls_<language>/{split} folder (MiniMLS: extract the "
                                f"zenodo.org/records/14791114 archive into the root)")
    return found


def _as_distributed(root: Path, lang: str, folder: Path) -> list[Utterance]:
    """Every audio file under ``folder`` (one language's split), each with its line of a ``transcripts.txt``
    found under the same folder."""
    files = sorted(p for p in folder.rglob("*") if p.suffix in AUDIO_SUFFIXES and p.is_file())
    texts: dict[str, str] = {}
    for path in sorted(folder.rglob("*transcripts.txt")):
        texts.update(_read_transcripts(path))
    missing = [p.stem for p in files if p.stem not in texts]
    if missing:
        raise CorpusLayoutError(f"MLS root {root}: {len(missing)} audio files of {folder.relative_to(root)} have "
                                f"no line in a transcripts.txt (first: {missing[0]})")
    return [_utterance(lang, folder.name, p.stem, p, texts[p.stem]) for p in files]


def _hashed(root: Path, lang: str, split: str, per_language: int, seed: int) -> list[Utterance]:
    folder = root / f"mls_{lang}" / split
    transcripts = folder / "transcripts.txt"
    if not transcripts.is_file():
        raise CorpusLayoutError(f"MLS root {root} lacks {transcripts.relative_to(root)}")
    texts = _read_transcripts(transcripts)
    utts = []
    for utt_id in sorted(texts, key=lambda i: subset_order(i, seed))[:per_language]:
        speaker, book = utt_id.split("_")[:2]
        base = folder / "audio" / speaker / book / utt_id
        path = next((base.with_suffix(s) for s in AUDIO_SUFFIXES if base.with_suffix(s).is_file()),
                    base.with_suffix(".flac"))
        utts.append(_utterance(lang, split, utt_id, path, texts[utt_id]))
    return utts


DOWNLOAD = Download(
    source="https://zenodo.org/records/14791114 (MiniMLS, the authors' 700-utterance test subset of MLS)",
    files="the MiniMLS archive of the record (its size is on the record's page)",
    layout="MiniMLS/{mls_dutch, mls_french, mls_german, mls_italian, mls_polish, mls_portuguese, mls_spanish}/test",
    note="full MLS (openslr.org/94) works too: this adapter draws a hashed subset of it")


@register_dataset("mls")
def load_mls(root: str | Path, split: str = "test", selection: Literal["as_distributed", "hash"] = "as_distributed",
             per_language: PositiveInt | None = None, seed: Seed = 0, languages: list[str] | None = None
             ) -> list[Utterance]:
    """MiniMLS (or any MLS folder) as distributed (default), or this harness's hashed subset of full MLS
    (``selection="hash"``: ``per_language`` per language, 100 unless given, of the paper's seven languages)."""
    root = Path(root)
    if selection not in SELECTIONS:
        raise ValueError(f"mls: selection must be one of {SELECTIONS}, got {selection!r}")
    if selection == "as_distributed" and per_language is not None:
        raise ValueError("mls: per_language selects from full MLS (selection: hash); MiniMLS as distributed "
                         "is read whole")
    unknown = [lang for lang in languages or [] if lang not in LANGUAGES]
    if unknown:
        raise ValueError(f"mls: unknown languages {unknown}; known: {sorted(LANGUAGES)}")
    if selection == "hash":
        chosen = languages or PAPER_LANGUAGES
        require_dirs(root, "MLS", *(f"mls_{lang}/{split}" for lang in chosen),
                     hint="extract mls_<language>.tar.gz (openslr.org/94) into the root")
        count = 100 if per_language is None else per_language
        return [u for lang in chosen for u in _hashed(root, lang, split, count, seed)]
    folders = _language_folders(root, split)
    absent = [lang for lang in languages or [] if lang not in folders]
    if absent:
        raise CorpusLayoutError(f"MLS root {root} lacks the expected sub-folder(s) "
                                f"{[f'mls_{lang}/{split}' for lang in absent]}")
    return [u for lang in (languages or list(folders)) for u in _as_distributed(root, lang, folders[lang] / split)]
