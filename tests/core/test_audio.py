"""Audio loading, validation and resampling, including every kind of bad input."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import soundfile as sf

from codecbench.util.audio import Audio, AudioError, load_audio, match_length, resample, validate_audio
from tests.conftest import tone


def test_stereo_is_averaged_to_mono_and_recorded(tmp_path: Path) -> None:
    left, right = tone(0.5, 44100), tone(0.5, 44100, freq=300)
    sf.write(tmp_path / "s.flac", np.stack([left, right], 1), 44100)
    audio = load_audio(tmp_path / "s.flac")
    assert audio.sample_rate == 44100 and audio.samples.ndim == 1
    assert np.allclose(audio.samples, (left + right) / 2, atol=1e-4)
    assert audio.conversions == ("2-channel->mono (mean)",)


def test_float_wav_is_read_as_float(tmp_path: Path) -> None:
    x = tone(0.3, 22050)
    sf.write(tmp_path / "f.wav", x, 22050, subtype="FLOAT")
    assert np.allclose(load_audio(tmp_path / "f.wav").samples, x)


@pytest.mark.parametrize("content, reason", [(b"not audio at all", "cannot read"), (b"", "cannot read")])
def test_corrupt_files_raise_audio_error(tmp_path: Path, content: bytes, reason: str) -> None:
    (tmp_path / "bad.wav").write_bytes(content)
    with pytest.raises(AudioError, match=reason):
        load_audio(tmp_path / "bad.wav")


def test_missing_file_raises_audio_error(tmp_path: Path) -> None:
    with pytest.raises(AudioError, match="not found"):
        load_audio(tmp_path / "nope.wav")


@pytest.mark.parametrize("samples, reason", [
    (np.zeros(0, np.float32), "empty"),
    (np.zeros(1600, np.float32), "all zeros"),
    (np.array([0.1, np.nan, 0.2] * 100, np.float32), "NaN/inf"),
    (np.array([0.1, np.inf] * 100, np.float32), "NaN/inf"),
])
def test_validate_rejects_unusable_audio(samples: np.ndarray, reason: str) -> None:
    with pytest.raises(AudioError, match=reason):
        validate_audio(Audio(samples, 16000))


def test_validate_length_bounds_and_clipping() -> None:
    with pytest.raises(AudioError, match="shorter than the minimum"):
        validate_audio(Audio(tone(0.01), 16000), min_seconds=0.04)
    with pytest.raises(AudioError, match="longer than max_seconds"):
        validate_audio(Audio(tone(2.0), 16000), max_seconds=1.0)
    loud = validate_audio(Audio(tone(0.1) * 10, 16000))
    assert np.abs(loud.samples).max() <= 1.0 and loud.conversions[0].startswith("clipped")


@pytest.mark.parametrize("rate", [8000, 22050, 44100, 48000])
def test_resample_preserves_duration_and_tone(rate: int) -> None:
    x = np.sin(2 * np.pi * 440 * np.arange(rate) / rate).astype(np.float32)
    y = resample(x, rate, 16000)
    assert len(y) == 16000
    spectrum = np.abs(np.fft.rfft(y))
    assert abs(int(np.argmax(spectrum)) - 440) <= 1


def test_match_length_truncates_or_repeats_last_sample() -> None:
    x = np.array([1, 2, 3], np.float32)
    assert match_length(x, 2).tolist() == [1, 2]
    assert match_length(x, 5).tolist() == [1, 2, 3, 3, 3]


def test_codec_input_goes_through_16k_as_the_authors() -> None:
    """A 48 kHz recording reaches a 24 kHz codec band-limited to 8 kHz (the authors read corpora at 16 kHz);
    ``native`` keeps the full band."""
    from codecbench.util.audio import codec_input

    t = np.arange(48000) / 48000
    recording = (0.3 * np.sin(2 * np.pi * 440 * t) + 0.3 * np.sin(2 * np.pi * 10000 * t)).astype(np.float32)

    def band(x: np.ndarray, low: float, high: float) -> float:
        spectrum = np.abs(np.fft.rfft(x)) ** 2
        freqs = np.fft.rfftfreq(len(x), 1 / 24000)
        return float(spectrum[(freqs >= low) & (freqs < high)].sum() / spectrum.sum())

    via16, native = codec_input(recording, 48000, 24000), codec_input(recording, 48000, 24000, "native")
    assert len(via16) == len(native) == 24000
    assert band(via16, 9000, 11000) < 1e-4 < 0.4 < band(native, 9000, 11000)
    assert band(via16, 400, 500) > 0.99
    assert np.array_equal(codec_input(recording[:16000], 16000, 16000), recording[:16000])
    with pytest.raises(ValueError, match="codec_input"):
        codec_input(recording, 48000, 24000, "44k")
