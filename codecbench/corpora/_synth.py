"""The quickstart corpus: deterministic speech from eSpeak NG (bundled by ``espeakng-loader``).

A fresh machine has no speech corpus. :func:`build_quickstart_corpus` synthesises a few
sentences with several voices through libespeak-ng's C API (synchronous mode, audio
collected in memory), writes 16 kHz FLAC files and a manifest with transcripts and
speakers, and reuses them on later calls. Same package version -> same files.
"""

from __future__ import annotations

import csv
import ctypes
import hashlib
import subprocess
import sys
import threading
from pathlib import Path

import numpy as np

from codecbench.api import resample, write_audio

#: Harvard sentences, read as paragraphs of five: Whisper-base, the offline dWER backend, is unstable on
#: short clips of formant synthesis (mu-law dWER 8-63 % on single sentences) but stable on ~15 s passages.
PARAGRAPHS = (
    ("The birch canoe slid on the smooth planks.", "Glue the sheet to the dark blue background.",
     "It is easy to tell the depth of a well.", "These days a chicken leg is a rare dish.",
     "Rice is often served in round bowls."),
    ("The juice of lemons makes fine punch.", "She had your dark suit in greasy wash water all year.",
     "Don't ask me to carry an oily rag like that.", "The small pup gnawed a hole in the sock.",
     "A king ruled the state in the early days."),
    ("The boy was there when the sun rose.", "A rod is used to catch pink salmon.",
     "The source of the huge river is the clear spring.", "Kick the ball straight and follow through.",
     "Help the woman get back to her feet."),
)
#: (speaker id, eSpeak voice name, rate in words per minute, pitch 0-100). Plain voices only (the
#: "+variant" voices add breath noise from an unseeded generator); the voices, rates and pitches on
#: which Whisper-base transcribes eSpeak best (measured; see the README).
VOICES = (
    ("us_mid", "en-us", 140, 50),
    ("us_low", "en-us", 130, 40),
    ("rp_mid", "en-gb-x-rp", 140, 50),
)
OUTPUT_RATE = 16000
_AUDIO_OUTPUT_SYNCHRONOUS = 2
_POS_CHARACTER = 1
_ESPEAK_RATE, _ESPEAK_PITCH = 1, 3
_lock = threading.Lock()


class ESpeak:
    """Minimal ctypes binding of libespeak-ng's synchronous synthesis API."""

    _CALLBACK = ctypes.CFUNCTYPE(
        ctypes.c_int, ctypes.POINTER(ctypes.c_short), ctypes.c_int, ctypes.c_void_p
    )

    def __init__(self) -> None:
        try:
            import espeakng_loader
        except ModuleNotFoundError as err:
            raise ModuleNotFoundError(
                "the quickstart corpus needs eSpeak NG: pip install "
                "'codecbench[synth]' (or pass --data DIR with real audio)"
            ) from err
        self._lib = ctypes.CDLL(espeakng_loader.get_library_path())
        data_path = espeakng_loader.get_data_path().encode()
        self.sample_rate = int(
            self._lib.espeak_Initialize(_AUDIO_OUTPUT_SYNCHRONOUS, 0, data_path, 0)
        )
        if self.sample_rate <= 0:
            raise RuntimeError(f"espeak_Initialize failed (returned {self.sample_rate})")
        self._chunks: list[np.ndarray] = []
        self._callback = self._CALLBACK(self._collect)  # keep a reference alive
        self._lib.espeak_SetSynthCallback(self._callback)

    def _collect(self, wav: ctypes.Array, num_samples: int, _events: int) -> int:
        if num_samples > 0:
            self._chunks.append(np.ctypeslib.as_array(wav, shape=(num_samples,)).copy())
        return 0

    def synthesize(self, text: str, voice: str, rate: int, pitch: int) -> np.ndarray:
        """Speak ``text``; returns float32 samples at ``self.sample_rate``."""
        if self._lib.espeak_SetVoiceByName(voice.encode()) != 0:
            raise ValueError(f"eSpeak NG has no voice {voice!r}")
        self._lib.espeak_SetParameter(_ESPEAK_RATE, rate, 0)
        self._lib.espeak_SetParameter(_ESPEAK_PITCH, pitch, 0)
        self._chunks = []
        data = text.encode("utf-8") + b"\0"
        err = self._lib.espeak_Synth(
            data, len(data), 0, _POS_CHARACTER, 0, 0, None, None
        )
        if err != 0:
            raise RuntimeError(f"espeak_Synth failed with code {err}")
        self._lib.espeak_Synchronize()
        if not self._chunks:
            raise RuntimeError(f"eSpeak NG produced no audio for {text!r}")
        return np.concatenate(self._chunks).astype(np.float32) / 32768.0


def build_quickstart_corpus(root: str | Path, num_paragraphs: int = 3, in_child: bool = False) -> Path:
    """Create (or reuse) the synthetic corpus under ``root``; returns its manifest path.

    ``num_paragraphs`` paragraphs x len(VOICES) voices; every voice reads the same
    paragraphs, so the corpus also has parallel groups for voice conversion.
    """
    if not 1 <= num_paragraphs <= len(PARAGRAPHS):
        raise ValueError(f"num_paragraphs must be in [1, {len(PARAGRAPHS)}], got {num_paragraphs}")
    root = Path(root)
    manifest = root / "manifest.csv"
    key = hashlib.sha256(repr((PARAGRAPHS[:num_paragraphs], VOICES, OUTPUT_RATE)).encode())
    stamp = root / ".complete"
    if manifest.is_file() and stamp.is_file() and stamp.read_text() == key.hexdigest():
        return manifest
    with _lock:
        if not in_child:
            # libespeak-ng keeps synthesis state between utterances (the same call twice
            # gives different samples), so the corpus is always made by a fresh process
            # running the same sequence: identical files on every machine and run.
            result = subprocess.run([sys.executable, "-m", "codecbench.corpora._synth", str(root), str(num_paragraphs)],
                                    capture_output=True, text=True, check=False, timeout=600)
            if result.returncode != 0:
                raise RuntimeError(f"quickstart corpus synthesis failed:\n{result.stderr[-2000:]}")
            return manifest
        engine = ESpeak()
        rows = []
        for p_idx, sentences in enumerate(PARAGRAPHS[:num_paragraphs]):
            text = " ".join(sentences)
            for speaker, voice, rate, pitch in VOICES:
                utt_id = f"{speaker}_p{p_idx:02d}"
                samples = engine.synthesize(text, voice, rate, pitch)
                samples = resample(samples, engine.sample_rate, OUTPUT_RATE)
                samples = 0.5 * samples / max(float(np.max(np.abs(samples))), 1e-6)
                rel = Path("clips") / f"{utt_id}.flac"
                write_audio(root / rel, samples, OUTPUT_RATE)
                rows.append(
                    {
                        "file": str(rel),
                        "utt_id": utt_id,
                        "speaker_id": speaker,
                        "language": "en",
                        "transcript": text,
                        "condition": "clean",
                        "parallel_group": f"p{p_idx:02d}",
                        "use": "all",
                    }
                )
        tmp = manifest.with_suffix(".tmp")
        with open(tmp, "w", newline="", encoding="utf-8") as handle:
            writer = csv.DictWriter(handle, fieldnames=list(rows[0]))
            writer.writeheader()
            writer.writerows(rows)
        tmp.replace(manifest)
        stamp.write_text(key.hexdigest())
    return manifest


if __name__ == "__main__":
    build_quickstart_corpus(sys.argv[1], int(sys.argv[2]), in_child=True)
