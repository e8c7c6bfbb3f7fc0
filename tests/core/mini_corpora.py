"""Miniature corpora in the layouts of the distributed corpora, built from ../shared/data clips (tests only)."""

from __future__ import annotations

import csv
import shutil
from pathlib import Path

import numpy as np
import soundfile as sf

MLS_LANGUAGES = {"nl": "dutch", "fr": "french", "de": "german", "it": "italian", "pl": "polish", "pt": "portuguese",
                 "es": "spanish"}


def clips(shared: Path, corpus: str) -> list[dict[str, str]]:
    with open(shared / "manifest.csv", newline="", encoding="utf-8") as handle:
        return [r for r in csv.DictReader(handle) if r["corpus"] == corpus]


def audio(shared: Path, row: dict[str, str]) -> Path:
    path = shared / row["file"]
    return path if path.is_file() else shared / "clips" / row["file"]


def copy_wav(src: Path, dst: Path) -> None:
    dst.parent.mkdir(parents=True, exist_ok=True)
    data, rate = sf.read(src, dtype="float32")
    sf.write(dst, data, rate, subtype="PCM_16")


def mls(shared: Path, root: Path, per_language: int = 3, unlisted: int = 0) -> Path:
    """MLS's layout with ``per_language`` files per language (MiniMLS's shape); ``unlisted`` more lines in
    ``transcripts.txt`` without audio (a full MLS transcripts file beside a subset of its audio)."""
    for row in clips(shared, "mls"):
        lang = MLS_LANGUAGES[row["language"]]
        folder = root / f"mls_{lang}" / "test"
        for k in range(per_language + unlisted):
            utt_id = f"{10 + k}_{200 + k}_{row['utt_id'][-6:].replace('_', '0')}"
            if k < per_language:
                dst = folder / "audio" / utt_id.split("_")[0] / utt_id.split("_")[1] / f"{utt_id}.flac"
                dst.parent.mkdir(parents=True, exist_ok=True)
                shutil.copy(audio(shared, row), dst)
            folder.mkdir(parents=True, exist_ok=True)
            with open(folder / "transcripts.txt", "a", encoding="utf-8") as handle:
                handle.write(f"{utt_id}\ttext {lang} {k}\n")
    return root


def voicebank(shared: Path, root: Path) -> Path:
    """The shared clips as the clean recordings, each plus a stretch of the shared noise as its noisy mixture."""
    noise, _ = sf.read(next((shared / "noise").glob("*")), dtype="float32", always_2d=True)
    for row in clips(shared, "voicebank_demand"):
        clean = root / "clean_testset_wav" / f"{row['utt_id']}.wav"
        copy_wav(audio(shared, row), clean)
        speech, rate = sf.read(clean, dtype="float32")
        stretch = np.resize(noise[:, 0], len(speech))
        noisy = root / "noisy_testset_wav" / clean.name
        noisy.parent.mkdir(parents=True, exist_ok=True)
        sf.write(noisy, np.clip(speech + 0.5 * stretch / (np.abs(stretch).max() + 1e-9) * np.abs(speech).max(),
                                -1, 1), rate, subtype="PCM_16")
        (root / "testset_txt").mkdir(exist_ok=True)
        (root / "testset_txt" / f"{row['utt_id']}.txt").write_text(row["transcript"])
    return root


def librispeech(shared: Path, root: Path, subsets: dict[str, slice] | None = None) -> Path:
    """LibriSpeech folders (default: every clip in test-clean)."""
    rows = clips(shared, "librispeech")
    for subset, part in (subsets or {"test-clean": slice(None)}).items():
        for row in rows[part]:
            spk, chapter, _ = row["utt_id"].split("-")
            folder = root / subset / spk / chapter
            folder.mkdir(parents=True, exist_ok=True)
            shutil.copy(audio(shared, row), folder / f"{row['utt_id']}.flac")
            with open(folder / f"{spk}-{chapter}.trans.txt", "a") as handle:
                handle.write(f"{row['utt_id']} {row['transcript'].upper()}\n")
    return root


def wham_metadata(shared: Path, root: Path, librispeech_root: Path, n: int = 3) -> Path:
    """A two-channel WHAM!-style noise folder and a Libri1Mix metadata CSV over test-clean clips."""
    wham = root / "wham_noise" / "tt"
    wham.mkdir(parents=True)
    noise, rate = sf.read(next((shared / "noise").glob("*")), dtype="float32")
    sf.write(wham / "n0.wav", np.stack([noise, noise], axis=1), rate)
    meta = root / "libri1mix_test.csv"
    with open(meta, "w", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(["mixture_ID", "source_1_path", "source_1_gain", "noise_path", "noise_gain"])
        for row in clips(shared, "librispeech")[:n]:
            spk, chapter, _ = row["utt_id"].split("-")
            writer.writerow([f"{row['utt_id']}_n0", f"test-clean/{spk}/{chapter}/{row['utt_id']}.flac", 0.9,
                             "tt/n0.wav", 0.3])
    return meta


def libri1mix_prepared(utterances: list, root: Path) -> Path:
    """The layout LibriMix's generator writes: ``wav16k/min/test/{mix_single,s1}/<id>.wav``."""
    prepared = root / "wav16k" / "min" / "test"
    for utt in utterances:
        copy_wav(utt.path, prepared / "mix_single" / f"{utt.utt_id}.wav")
        copy_wav(utt.reference_path, prepared / "s1" / f"{utt.utt_id}.wav")
    return root


def vctk(shared: Path, root: Path, release: str = "0.92") -> Path:
    pattern = "wav48_silence_trimmed/{s}/{u}_mic1.flac" if release == "0.92" else "wav48/{s}/{u}.wav"
    for row in clips(shared, "vctk"):
        utt = f"{row['speaker_id']}_{row['utt_id'].split('_')[-1]}"
        dst = root / pattern.format(s=row["speaker_id"], u=utt)
        if dst.suffix == ".wav":
            copy_wav(audio(shared, row), dst)
        else:
            dst.parent.mkdir(parents=True, exist_ok=True)
            shutil.copy(audio(shared, row), dst)
        (root / "txt" / row["speaker_id"]).mkdir(parents=True, exist_ok=True)
        (root / "txt" / row["speaker_id"] / f"{utt}.txt").write_text(row["transcript"])
    return root


def vctk_awkward(shared: Path, root: Path) -> Path:
    """The 0.92 layout plus what the real corpus holds: a speaker without transcripts (p315, reading the
    sentences 003, 008 and 011), a ``mic2`` file and an utterance numbered 025 (not parallel)."""
    vctk(shared, root)
    audio_root = root / "wav48_silence_trimmed"
    for n in ("003", "008", "011"):
        dst = audio_root / "p315" / f"p315_{n}_mic1.flac"
        dst.parent.mkdir(parents=True, exist_ok=True)
        shutil.copy(audio_root / "p228" / f"p228_{n}_mic1.flac", dst)
    shutil.copy(audio_root / "p225" / "p225_003_mic1.flac", audio_root / "p225" / "p225_003_mic2.flac")
    data, rate = sf.read(audio_root / "p226" / "p226_019_mic1.flac", dtype="float32")
    sf.write(audio_root / "p226" / "p226_025_mic1.flac", np.concatenate([data, data]), rate)  # the longest
    (root / "txt" / "p226" / "p226_025.txt").write_text("A sentence only this speaker reads.")
    return root


def libritts(shared: Path, root: Path) -> Path:
    for subset, part in (("train-clean-100", slice(0, 4)), ("test-clean", slice(4, 6))):
        for row in clips(shared, "librispeech")[part]:
            spk, chapter, _ = row["utt_id"].split("-")
            utt = f"{spk}_{chapter}_{row['utt_id'].split('-')[-1]}"
            copy_wav(audio(shared, row), root / subset / spk / chapter / f"{utt}.wav")
            (root / subset / spk / chapter / f"{utt}.normalized.txt").write_text(row["transcript"])
    return root


def iemocap(shared: Path, root: Path) -> Path:
    """Five sessions, two speakers each, the four classes, real speech from the VCTK clips."""
    rows = clips(shared, "vctk")
    emotions = ["neu", "hap", "ang", "sad", "exc"]
    k = 0
    for session in range(1, 6):
        dialog = f"Ses{session:02d}F_impro01"
        lines = []
        for gender in ("F", "M"):
            for i in range(2):
                turn = f"{dialog}_{gender}{i:03d}"
                copy_wav(audio(shared, rows[k % len(rows)]), root / f"Session{session}" / "sentences" / "wav" / dialog
                         / f"{turn}.wav")
                lines.append(f"[{k}.0 - {k + 1}.0]\t{turn}\t{emotions[k % len(emotions)]}\t[2.5, 2.5, 2.5]")
                k += 1
        evald = root / f"Session{session}" / "dialog" / "EmoEvaluation"
        evald.mkdir(parents=True, exist_ok=True)
        (evald / f"{dialog}.txt").write_text("% header\n" + "\n".join(lines) + "\n")
    return root
