"""VCTK as distributed: 0.92 (``wav48_silence_trimmed/<spk>/<spk>_<nnn>_<mic>.flac``) or 0.80
(``wav48/<spk>/<spk>_<nnn>.wav``), transcripts in ``txt/<spk>/<spk>_<nnn>.txt``.

Parallel groups (voice conversion, Table 2), ``parallel="number"`` (default, the authors' rule:
lucadellalib/audiocodecs ``downstream/datasets/vctk.py``, ``prepare_data``: "Only the first 24 utterances are
parallel", ``int(utt_id) < 25``, ``mic1`` files only, every speaker of the corpus, transcripts not needed, so a
speaker without transcripts such as p315 takes part): utterance number ``nnn`` < 25 is group ``vctk_<nnn>``.
``parallel="transcript"`` (this harness before the authors' code was read; not the paper's) groups
utterances whose normalised transcripts are identical across two or more speakers. ``speakers`` limits the
speakers read."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Literal

from codecbench.api import Download, Utterance, register_dataset

from ._layout import require_any

PARALLEL_BELOW = 25  # utterance numbers 001-024 are the parallel sentences (the authors' vctk.py)


def _key(text: str) -> str:
    return re.sub(r"[^a-z' ]+", "", text.lower()).strip()


DOWNLOAD = Download(
    source="https://datashare.ed.ac.uk/handle/10283/3443",
    files="VCTK-Corpus-0.92.zip (10.9 GB)",
    layout="the extracted folder: wav48_silence_trimmed/<speaker>/*_mic1.flac and txt/<speaker>/*.txt",
    size_gb=10.9)


@register_dataset("vctk")
def load_vctk(root: str | Path, mic: str = "mic1", speakers: list[str] | None = None,
              parallel: Literal["number", "transcript"] = "number") -> list[Utterance]:
    """VCTK utterances with speakers, transcripts and parallel groups."""
    if parallel not in ("number", "transcript"):
        raise ValueError(f"vctk: parallel must be 'number' or 'transcript', got {parallel!r}")
    root = Path(root)
    audio_root = require_any(root, "VCTK", ["wav48_silence_trimmed", "wav48"],
                             hint="extract VCTK-Corpus-0.92.zip (or 0.80) into the root")
    wanted = set(speakers) if speakers else None
    found = []
    for spk_dir in sorted(p for p in audio_root.iterdir() if p.is_dir()):
        if wanted is not None and spk_dir.name not in wanted:
            continue
        for path in sorted(spk_dir.iterdir()):
            stem = path.stem
            if path.suffix == ".flac" and stem.endswith(f"_{mic}"):
                stem = stem[: -len(mic) - 1]
            elif path.suffix != ".wav" or audio_root.name != "wav48":
                continue
            text_file = root / "txt" / spk_dir.name / f"{stem}.txt"
            text = text_file.read_text(encoding="utf-8", errors="replace").strip() if text_file.is_file() else None
            found.append((stem, path, spk_dir.name, text))
    if parallel == "number":
        return [Utterance(utt_id=stem, path=path, speaker=speaker, text=text, labels={"corpus": "vctk"},
                          parallel_group=f"vctk_{number}" if number.isdigit() and int(number) < PARALLEL_BELOW
                          else None)
                for stem, path, speaker, text in found for number in [stem.split("_", 1)[1]]]
    readers: dict[str, set[str]] = {}
    first: dict[str, str] = {}
    for stem, _, speaker, text in found:
        if text:
            readers.setdefault(_key(text), set()).add(speaker)
            first.setdefault(_key(text), stem.split("_", 1)[1])
    return [Utterance(utt_id=stem, path=path, speaker=speaker, text=text,
                      parallel_group=f"vctk_{first[_key(text)]}" if text and len(readers[_key(text)]) > 1 else None,
                      labels={"corpus": "vctk"})
            for stem, path, speaker, text in found]
