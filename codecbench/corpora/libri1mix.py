"""Libri1Mix (LibriMix, Cosentino et al. 2020): one LibriSpeech speaker + WHAM! noise.

Two ways in:
- a prepared LibriMix folder (``root``): ``wav16k/min/<split>/mix_single/<id>.wav`` (``mode`` ``min`` or
  ``max``, ``rate`` ``wav16k`` or ``wav8k``);
- ``metadata=libri1mix_<split>.csv`` (the official metadata: ``mixture_ID, source_1_path, source_1_gain,
  noise_path, noise_gain``) with ``librispeech_root`` and ``wham_root``: the first speaker and channel 0 of
  the WHAM! noise, each scaled by its gain, cut to the shorter (``min``), written once as 16 kHz FLAC under
  ``root/mixed/<split>/`` (the scaled clean source under ``root/mixed/<split>/s1/``); deterministic, existing
  files are reused.

Each mixture's ``reference_path`` is its clean first source (``s1``): the authors encode the noisy mixture and
score against ``s1`` (lucadellalib/audiocodecs ``downstream/datasets/librimix.py``: ``in_sig`` from ``mix_both``,
``out_sig`` from ``s1``; ``hparams/datasets/libri1mix-test.yaml``: ``wav16k/min``, ``add_noise: True``; for one
source ``mix_both`` and ``mix_single`` hold the same signal).

Transcripts come from the LibriSpeech ``*.trans.txt`` of ``librispeech_root`` when given (the source
utterance id is the mixture id's first part)."""

from __future__ import annotations

import csv
from pathlib import Path

import numpy as np
import soundfile as sf

from codecbench.api import Download, Utterance, register_dataset, resample

from ._layout import CorpusLayoutError, require_dirs


def _transcripts(librispeech_root: Path | None) -> dict[str, str]:
    if librispeech_root is None:
        return {}
    texts = {}
    for trans in librispeech_root.rglob("*.trans.txt"):
        for line in trans.read_text(encoding="utf-8").splitlines():
            utt_id, _, text = line.partition(" ")
            texts[utt_id] = text.strip()
    return texts


def _read(path: Path, rate: int = 16000) -> np.ndarray:
    data, sr = sf.read(path, dtype="float32", always_2d=True)
    return resample(data[:, 0], sr, rate)


def _write(target: Path, audio: np.ndarray) -> None:
    target.parent.mkdir(parents=True, exist_ok=True)
    tmp = target.with_suffix(".tmp.flac")
    sf.write(tmp, audio, 16000, subtype="PCM_16")
    tmp.replace(target)


def mix(row: dict[str, str], librispeech_root: Path, wham_root: Path, out: Path) -> tuple[Path, Path]:
    """One Libri1Mix mixture and its scaled clean source (LibriMix's ``s1``) from its metadata row (written once)."""
    target = out / f"{row['mixture_ID']}.flac"
    source = out / "s1" / f"{row['mixture_ID']}.flac"
    if not target.is_file() or not source.is_file():
        speech = _read(librispeech_root / row["source_1_path"]) * float(row["source_1_gain"])
        noise = _read(wham_root / row["noise_path"]) * float(row["noise_gain"])
        n = min(len(speech), len(noise))
        _write(source, np.clip(speech[:n], -1.0, 1.0))
        _write(target, np.clip(speech[:n] + noise[:n], -1.0, 1.0))
    return target, source


DOWNLOAD = Download(
    source="https://github.com/JorisCos/LibriMix (generate_librimix.sh; its metadata fixes the test mixtures)",
    files="LibriSpeech test-clean.tar.gz (346 MB, openslr.org/12) and WHAM! noise wham_noise.zip (about 17.6 GB); "
          "the repository's scripts write Libri1Mix from them",
    layout="LibriMix/Libri1Mix/wav16k/min/test/{mix_both, mix_clean, s1} (the paper's 3,000 test mixtures)",
    size_gb=18.0, note="only Libri1Mix, 16 kHz, min mode, test are needed: edit generate_librimix.sh to generate less")


@register_dataset("librimix")
def load_librimix(root: str | Path, split: str = "test", mode: str = "min", rate: str = "wav16k",
                  metadata: str | None = None, librispeech_root: str | None = None,
                  wham_root: str | None = None) -> list[Utterance]:
    """Libri1Mix mixtures with speakers (and transcripts when ``librispeech_root`` is given)."""
    root = Path(root)
    libri = Path(librispeech_root) if librispeech_root else None
    texts = _transcripts(libri)
    utts = []
    if metadata is not None:
        if libri is None or wham_root is None:
            raise ValueError("librimix: metadata= needs librispeech_root= and wham_root= to mix from")
        csv_path = Path(metadata) if Path(metadata).is_absolute() else root / metadata
        if not csv_path.is_file():
            raise CorpusLayoutError(f"Libri1Mix metadata {csv_path} not found")
        with open(csv_path, newline="", encoding="utf-8") as handle:
            for row in csv.DictReader(handle):
                source = Path(row["source_1_path"]).stem
                path, clean = mix(row, libri, Path(wham_root), root / "mixed" / split)
                utts.append(Utterance(utt_id=row["mixture_ID"], path=path, speaker=source.split("-")[0],
                                      text=texts.get(source), condition="noisy", labels={"corpus": "librimix"},
                                      reference_path=clean))
        return utts
    folder = f"{rate}/{mode}/{split}/mix_single"
    require_dirs(root, "Libri1Mix", folder, hint="generate LibriMix (github.com/JorisCos/LibriMix) or pass "
                 "metadata= with librispeech_root= and wham_root=")
    sources = root / f"{rate}/{mode}/{split}/s1"
    for path in sorted((root / folder).glob("*.wav")):
        source = path.stem.split("_")[0]
        clean = sources / path.name
        if not clean.is_file():
            raise CorpusLayoutError(f"Libri1Mix: {path.name} has no clean source {clean} (the reference every "
                                    "intrusive metric compares with)")
        utts.append(Utterance(utt_id=path.stem, path=path, speaker=source.split("-")[0], text=texts.get(source),
                              condition="noisy", labels={"corpus": "librimix"}, reference_path=clean))
    return utts
