"""Audio I/O, validation and resampling (soundfile + soxr; no torchaudio)."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from pathlib import Path
from typing import Literal, get_args

import numpy as np
import soundfile as sf

METRIC_SAMPLE_RATE = 16000
#: Longest input accepted by default (seconds); longer files get a per-utterance error.
DEFAULT_MAX_SECONDS = 60.0


#: sample rates a file may declare (its header is checked before any sample is decoded)
MIN_SAMPLE_RATE, MAX_SAMPLE_RATE = 8000, 192000


class AudioError(ValueError):
    """An utterance that cannot be used, with the reason (recorded as an error row of kind ``data``)."""

    kind = "data"


class AudioUnavailable(AudioError):
    """A file that exists but cannot be opened here (permissions, I/O): an ``environment`` error, retried by
    the next run, never a permanent verdict on the utterance."""

    kind = "environment"


@dataclass(frozen=True)
class Audio:
    """A mono float32 waveform in [-1, 1] and its sample rate."""

    samples: np.ndarray  # [T] float32
    sample_rate: int
    conversions: tuple[str, ...] = ()  # documented changes made at load (e.g. "stereo->mono")

    @property
    def duration(self) -> float:
        return len(self.samples) / self.sample_rate

    def digest(self) -> str:
        """Content hash of samples and rate (cache keys)."""
        return array_digest(self.samples, self.sample_rate)


def array_digest(samples: np.ndarray, sample_rate: int = 0) -> str:
    """sha256 (32 hex digits) of float32 samples and their rate."""
    h = hashlib.sha256(str(sample_rate).encode())
    h.update(np.ascontiguousarray(samples, dtype=np.float32).tobytes())
    return h.hexdigest()[:32]


def load_audio(path: str | Path, max_seconds: float | None = None) -> Audio:
    """Read a file as mono float32; multi-channel audio is averaged to mono.

    The header is read first: a file longer than ``max_seconds`` or with a sample rate outside
    :data:`MIN_SAMPLE_RATE`..:data:`MAX_SAMPLE_RATE` is refused before a sample is decoded (an hour of
    48 kHz stereo never reaches memory).

    Raises:
        AudioError: unreadable, empty, too long or out-of-range file.
        AudioUnavailable: a file that cannot be opened (permissions, I/O).
    """
    path = Path(path)
    if not path.is_file():
        raise AudioError(f"audio file not found: {path}")
    try:
        handle = open(path, "rb")  # by handle: any file name works, whatever its encoding
    except OSError as err:
        raise AudioUnavailable(f"cannot open audio file {path}: {err.strerror or err}") from err
    with handle:
        try:
            info = sf.info(handle)
        except Exception as err:  # soundfile raises several types for corrupt data
            raise AudioError(f"cannot read audio file {path}: {err}") from err
        rate = int(info.samplerate)
        if not MIN_SAMPLE_RATE <= rate <= MAX_SAMPLE_RATE:
            raise AudioError(f"{path}: sample rate {rate} Hz is outside {MIN_SAMPLE_RATE}..{MAX_SAMPLE_RATE} Hz")
        if max_seconds is not None and info.frames > 0 and info.frames / rate > max_seconds:
            raise AudioError(f"audio is {info.frames / rate:.1f} s, longer than max_seconds={max_seconds:.1f} "
                             "(raise it in the config to accept longer files)")
        try:
            handle.seek(0)
            data, rate = sf.read(handle, dtype="float32", always_2d=True)
        except Exception as err:  # soundfile raises several types for corrupt data
            raise AudioError(f"cannot read audio file {path}: {err}") from err
    conversions: list[str] = []
    if data.shape[1] > 1:
        conversions.append(f"{data.shape[1]}-channel->mono (mean)")
        data = data.mean(axis=1, keepdims=True)
    return Audio(np.ascontiguousarray(data[:, 0]), int(rate), tuple(conversions))


def validate_audio(audio: Audio, min_seconds: float = 0.0, max_seconds: float = DEFAULT_MAX_SECONDS) -> Audio:
    """Check that a waveform is usable: non-empty, finite, not silent, within length bounds.

    Samples beyond [-1, 1] are clipped (recorded as a conversion).

    Raises:
        AudioError: with the reason, for the caller to record against the utterance.
    """
    x = audio.samples
    if x.size == 0:
        raise AudioError("empty audio (0 samples)")
    if not np.all(np.isfinite(x)):
        bad = int(np.size(x) - np.count_nonzero(np.isfinite(x)))
        raise AudioError(f"audio contains {bad} NaN/inf samples")
    if not np.any(x):
        raise AudioError("audio is all zeros (digital silence)")
    if audio.duration < min_seconds:
        raise AudioError(
            f"audio is {audio.duration:.3f} s, shorter than the minimum {min_seconds:.3f} s"
        )
    if audio.duration > max_seconds:
        raise AudioError(
            f"audio is {audio.duration:.1f} s, longer than max_seconds={max_seconds:.1f} "
            "(raise it in the config to accept longer files)"
        )
    peak = float(np.max(np.abs(x)))
    if peak > 1.0:
        clipped = np.clip(x, -1.0, 1.0).astype(np.float32)
        return Audio(clipped, audio.sample_rate, audio.conversions + (f"clipped peak {peak:.2f}",))
    return audio


def resample(samples: np.ndarray, orig_rate: int, new_rate: int) -> np.ndarray:
    """Band-limited resampling with soxr (VHQ); returns float32."""
    if orig_rate == new_rate:
        return np.asarray(samples, dtype=np.float32)
    import soxr

    out = soxr.resample(np.asarray(samples, dtype=np.float32), orig_rate, new_rate, quality="VHQ")
    return np.asarray(out, dtype=np.float32)


#: how a recording reaches a codec: through 16 kHz (the authors') or from the file's own rate
CodecInput = Literal["16k", "native"]
CODEC_INPUTS: tuple[str, ...] = get_args(CodecInput)


def codec_input(samples: np.ndarray, rate: int, codec_rate: int, via: str = "16k") -> np.ndarray:
    """A recording at a codec's rate. ``via="16k"`` (the authors' path: lucadellalib/audiocodecs reads every corpus
    at 16 kHz, ``hparams/datasets/*.yaml`` ``sample_rate: 16000``, and its ``Codec.sig_to_toks`` resamples that to
    the codec's rate): a 48 kHz recording reaches a 24 kHz codec band-limited to 8 kHz. ``"native"``: straight from
    the file's rate (the codec hears the full band; not the paper's)."""
    if via not in CODEC_INPUTS:
        raise ValueError(f"codec_input must be one of {CODEC_INPUTS}, got {via!r}")
    if via == "16k":
        return resample(resample(samples, rate, METRIC_SAMPLE_RATE), METRIC_SAMPLE_RATE, codec_rate)
    return resample(samples, rate, codec_rate)


def match_length(samples: np.ndarray, length: int) -> np.ndarray:
    """Truncate, or pad by repeating the last sample, to ``length`` (the paper harness's rule)."""
    if len(samples) >= length:
        return samples[:length]
    pad_value = samples[-1] if len(samples) else 0.0
    return np.concatenate([samples, np.full(length - len(samples), pad_value, dtype=samples.dtype)])


def write_audio(path: str | Path, samples: np.ndarray, sample_rate: int) -> None:
    """Write a 16-bit PCM WAV (or FLAC by suffix), creating parent folders."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    sf.write(str(path), np.clip(samples, -1, 1), sample_rate, subtype="PCM_16")
