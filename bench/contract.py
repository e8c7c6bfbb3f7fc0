"""The codec contract: what every :class:`~bench.codec.Codec` must do for the tasks to trust it, as checks
on a built codec. ``bench check-codec NAME`` runs them on any installed codec (a third-party plugin
included, without this repository's tests); ``tests/codecs/test_contract.py`` runs them on every codec here.

Each check raises :class:`ContractError` with what was expected and what came back."""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import torch

from .audio import resample
from .codec import Codec, pad_batch


class ContractError(AssertionError):
    """A codec broke the contract (what was expected, what came back)."""


def tone(seconds: float = 1.0, rate: int = 16000, freq: float = 220.0, seed: int = 0) -> np.ndarray:
    """A deterministic harmonic tone with a little noise (speech-like enough for codecs)."""
    t = np.arange(int(seconds * rate)) / rate
    rng = np.random.default_rng(seed)
    x = sum(0.2 / k * np.sin(2 * np.pi * freq * k * t) for k in range(1, 6))
    x = x * (0.6 + 0.4 * np.sin(2 * np.pi * 3 * t)) + 0.005 * rng.standard_normal(len(t))
    return np.asarray(x, dtype=np.float32)


def clip(codec: Codec, seconds: float, seed: int = 0) -> torch.Tensor:
    """A probe signal at the codec's input rate."""
    return torch.from_numpy(resample(tone(seconds, 16000, 200 + 30 * seed, seed), 16000, codec.sample_rate))


def _expect(ok: bool, message: str) -> None:
    if not ok:
        raise ContractError(message)


@torch.inference_mode()
def roundtrip(codec: Codec) -> str:
    """Codes are ``[B, N, K]`` with K = the number of codebooks, each in range; decoding gives finite audio of
    the input's length within one frame."""
    x = clip(codec, 3.0)
    tokens = codec.encode(x[None], torch.tensor([len(x)]))
    _expect(tokens.codes.dim() == 3 and tokens.codes.shape[2] == len(codec.codebook_sizes),
            f"codes of shape {tuple(tokens.codes.shape)}; expected [1, N, {len(codec.codebook_sizes)}]")
    for k, vocab in enumerate(codec.codebook_sizes):
        stream = tokens.codes[0, : int(tokens.lengths[0]), k]
        low, high = int(stream.min()), int(stream.max())
        _expect(low >= 0 and high < vocab, f"codebook {k}: codes in [{low}, {high}], its size is {vocab}")
    wav, lengths = codec.decode(tokens)
    hop = codec.output_sample_rate / (codec.nominal_frame_rate or 50.0)  # variable rate: its 20 ms grid
    expected = len(x) * codec.output_sample_rate / codec.sample_rate
    _expect(abs(int(lengths[0]) - expected) <= hop,
            f"decoded {int(lengths[0])} samples of 3 s; expected {expected:.0f} +- {hop:.0f} (one frame)")
    _expect(bool(torch.isfinite(wav).all()), "decoded audio has NaN or infinite samples")
    return f"{int(tokens.lengths[0])} frames x {len(codec.codebook_sizes)} codebooks, {int(lengths[0])} samples out"


@torch.inference_mode()
def frame_rate(codec: Codec) -> str:
    """The measured frame rate (and bitrate) match the declared ones; a variable-rate codec declares none,
    returns durations and counts one frame per token."""
    x = clip(codec, 3.0)
    tokens = codec.encode(x[None], torch.tensor([len(x)]))
    rate = float(codec.measured_frames(tokens)[0]) / 3.0
    if codec.capabilities.variable_rate:
        _expect(codec.nominal_frame_rate is None, "a variable-rate codec declares no nominal frame rate")
        _expect(tokens.durations is not None, "a variable-rate codec returns token durations")
        _expect(abs(rate - int(tokens.lengths[0]) / 3.0) < 1e-6, f"measured {rate:.3f} Hz is not one frame per token")
        return f"variable rate: {rate:.2f} Hz measured"
    _expect(codec.nominal_frame_rate is not None, "a fixed-rate codec declares nominal_frame_rate")
    nominal = float(codec.nominal_frame_rate or 0.0)
    _expect(abs(rate - nominal) <= 0.02 * nominal, f"measured {rate:.3f} Hz, declared {nominal} Hz (2 % allowed)")
    if codec.nominal_bitrate is not None:
        bits = float(codec.measured_bits(tokens)[0]) / 3.0
        declared = float(codec.nominal_bitrate)
        _expect(abs(bits - declared) <= 0.02 * declared, f"measured {bits:.0f} b/s, declared {declared:.0f} b/s")
    return f"{rate:.2f} Hz measured, {nominal} Hz declared"


@torch.inference_mode()
def batching(codec: Codec) -> str:
    """A padded batch gives each item's codes exactly, and its audio within 1e-6, as one at a time."""
    clips = [clip(codec, s, i) for i, s in enumerate((1.0, 1.7, 0.6))]
    x, lengths = pad_batch(clips)
    batch = codec.encode(x, lengths)
    wav, out_lengths = codec.decode(batch)
    for i, one_clip in enumerate(clips):
        single = codec.encode(one_clip[None], torch.tensor([len(one_clip)]))
        _expect(torch.equal(batch.item(i).codes, single.codes), f"item {i}: batched codes differ from its own")
        one, one_len = codec.decode(single)
        n = int(one_len[0])
        _expect(int(out_lengths[i]) == n, f"item {i}: batched length {int(out_lengths[i])}, alone {n}")
        gap = float((wav[i, :n] - one[0, :n]).abs().max()) if n else 0.0
        _expect(torch.allclose(wav[i, :n], one[0, :n], atol=1e-6), f"item {i}: batched audio differs from its own "
                f"by up to {gap:.2e}")
    return "3 clips of 0.6-1.7 s"


#: the checks, in the order they run
CHECKS: dict[str, Callable[[Codec], str]] = {"roundtrip": roundtrip, "frame_rate": frame_rate, "batching": batching}
