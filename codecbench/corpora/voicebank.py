"""VoiceBank-DEMAND test set (Valentini-Botinhao 2017), as distributed: ``noisy_testset_wav/``,
``clean_testset_wav/`` and ``testset_txt/`` (one ``<id>.txt`` transcript per utterance) under the root.

``condition="noisy"`` (default) reads the noisy mixtures (the paper's Table 2 input), ``"clean"`` the clean
recordings. A noisy utterance's ``reference_path`` is its clean recording: the authors encode the noisy file and
score against the clean one (lucadellalib/audiocodecs ``downstream/datasets/voicebank.py``: ``in_sig`` noisy,
``out_sig`` clean; ``test_sr.py`` scores every intrusive metric against ``out_sig``)."""

from __future__ import annotations

from pathlib import Path
from typing import Literal

from codecbench.api import Download, Utterance, register_dataset

from ._layout import require_dirs

DOWNLOAD = Download(
    source="https://datashare.ed.ac.uk/handle/10283/2791",
    files="noisy_testset_wav.zip (162 MB) and clean_testset_wav.zip (147 MB): the noisy input and its clean "
          "reference",
    layout="VoiceBank/{noisy_testset_wav, clean_testset_wav} (and testset_txt for transcripts)",
    size_gb=0.31)


@register_dataset("voicebank")
def load_voicebank(root: str | Path, condition: Literal["noisy", "clean"] = "noisy") -> list[Utterance]:
    """Noisy (or clean) test utterances with transcripts and speakers."""
    if condition not in ("noisy", "clean"):
        raise ValueError(f"voicebank: condition must be 'noisy' or 'clean', got {condition!r}")
    root = Path(root)
    require_dirs(root, "VoiceBank-DEMAND", "noisy_testset_wav", "clean_testset_wav", "testset_txt",
                 hint="unzip noisy_testset_wav.zip, clean_testset_wav.zip and testset_txt.zip (datashare.ed.ac.uk)")
    utts = []
    for path in sorted((root / f"{condition}_testset_wav").glob("*.wav")):
        text_file = root / "testset_txt" / f"{path.stem}.txt"
        text = text_file.read_text(encoding="utf-8", errors="replace").strip() if text_file.is_file() else None
        clean = root / "clean_testset_wav" / path.name
        utts.append(Utterance(utt_id=path.stem, path=path, speaker=path.stem.split("_")[0], text=text,
                              condition=condition, labels={"corpus": "voicebank"},
                              reference_path=clean if condition == "noisy" else None))
    return utts
