"""The codec contract: what every :class:`~codecbench.api.codec.Codec` must do for the tasks to trust it.

Two parts, one source:

- **invariants** of every encode and decode, checked by runs too (:func:`check_tokens` after each encode,
  :func:`check_decoded` after each decode): codes are integers of the declared codebooks inside their sizes,
  lengths within the codes, one ``num_samples`` per input, durations >= 1, side bits finite and >= 0, measured
  frames and bits finite; decoded audio finite, every declared sample present, and (unless the codec declares a
  free decoded length) as long as the input within two frames. A run records what breaks them as an error row
  of the item (stage ``codec``), never as a result.
- **checks** of a built codec (``codecbench check-codec NAME``, ``tests/codecs/test_contract.py``): a round trip, the
  declared rates against the measured ones, batching, and decoding twice giving the same audio.

Each raises :class:`ContractError` with what was expected and what came back."""

from __future__ import annotations

import math
from collections.abc import Callable

import numpy as np
import torch

from codecbench.api.codec import Codec, Tokens, pad_batch
from codecbench.util.audio import resample


class ContractError(ValueError):
    """A codec broke the contract (what was expected, what came back): a ValueError, so every task that records a
    codec's failure on an item as an error row records this one too."""


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


def _integer(t: torch.Tensor) -> bool:
    return not (t.dtype.is_floating_point or t.dtype.is_complex or t.dtype == torch.bool)


def hop(codec: Codec) -> float:
    """Output samples of one frame (a variable-rate codec: its 20 ms grid)."""
    return codec.output_sample_rate / (codec.nominal_frame_rate or 50.0)


#: how many frames a decoded length may differ from its input's: the partial last frame, plus the frame an encoder's
#: receptive field can cost (FocalCodec's WavLM front end: 400-sample window, 320 hop, 1.2 frames short on real clips)
LENGTH_FRAMES = 2
MAX_PEAK = 4.0  # decoded float audio is in [-1, 1]; a decoder may overshoot a little, never by int16's 32767


def _positive_int(value: object) -> bool:
    return isinstance(value, int) and not isinstance(value, bool) and value >= 1


def _positive_finite(value: object) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value) and value > 0


def declaration_problems(codec: Codec) -> list[str]:
    """What is wrong with what a built codec declares (rates, codebooks): every task and table divides by these."""
    problems = []
    for name in ("sample_rate", "output_sample_rate", "min_samples"):
        if not _positive_int(getattr(codec, name, None)):
            problems.append(f"{name} = {getattr(codec, name, None)!r}: a positive integer expected")
    sizes = getattr(codec, "codebook_sizes", None)
    if not isinstance(sizes, (list, tuple)) or not sizes or not all(_positive_int(v) for v in sizes):
        problems.append(f"codebook_sizes = {sizes!r}: a non-empty list of positive integers expected")
    for name in ("nominal_frame_rate", "nominal_bitrate"):
        value = getattr(codec, name, None)
        if value is not None and not _positive_finite(value):
            problems.append(f"{name} = {value!r}: None (variable) or a finite number > 0 expected")
    families = getattr(type(codec), "families", {})
    if not isinstance(families, dict) or not all(isinstance(k, str) and k and isinstance(v, str) and v
                                                 for k, v in families.items()):
        problems.append(f"families = {families!r}: a dict of registered variant name -> family name (non-empty "
                        "strings) expected")
    return problems


# ---- invariants of every encode and decode (runs check these too) --------------------------------------------
def token_problems(codec: Codec, tokens: object, input_lengths: torch.Tensor | None = None) -> list[str]:
    """What is wrong with the tokens of one encode call (empty when nothing)."""
    if not isinstance(tokens, Tokens):
        return [f"encode returned {type(tokens).__name__}, not Tokens"]
    codes, lengths, k = tokens.codes, tokens.lengths, len(codec.codebook_sizes)
    problems = []
    if not _integer(codes):
        problems.append(f"codes are {codes.dtype}, not integers")
    if codes.shape[2] != k:
        return problems + [f"codes of shape {tuple(codes.shape)}: {codes.shape[2]} streams, {k} codebooks declared"]
    if input_lengths is not None and codes.shape[0] != len(input_lengths):
        return problems + [f"{codes.shape[0]} items of codes for {len(input_lengths)} inputs"]
    if not _integer(lengths):
        return problems + [f"lengths are {lengths.dtype}, not integers"]
    n = codes.shape[1]
    if bool((lengths < 1).any()) or bool((lengths > n).any()):
        problems.append(f"lengths {lengths.tolist()} outside [1, {n}] (the frames the codes hold)")
        return problems
    valid = torch.arange(n, device=codes.device)[None, :] < lengths.to(codes.device)[:, None]  # [B, N]
    sizes = torch.tensor(codec.codebook_sizes, device=codes.device)
    outside = ((codes < 0) | (codes >= sizes)) & valid[..., None]
    for i, j in outside.any(dim=1).nonzero().tolist()[:4]:
        stream = codes[i, : int(lengths[i]), j]
        problems.append(f"item {i}, codebook {j}: codes in [{int(stream.min())}, {int(stream.max())}], its size is "
                        f"{codec.codebook_sizes[j]}")
    if not _integer(tokens.num_samples):
        problems.append(f"num_samples are {tokens.num_samples.dtype}, not integers")
    elif input_lengths is not None and not torch.equal(tokens.num_samples.cpu().long(), input_lengths.cpu().long()):
        problems.append(f"num_samples {tokens.num_samples.tolist()}, the inputs have {input_lengths.tolist()}")
    if tokens.durations is not None:
        d = tokens.durations
        if tuple(d.shape) != tuple(codes.shape[:2]) or not _integer(d):
            problems.append(f"durations of shape {tuple(d.shape)} ({d.dtype}); expected integers of "
                            f"{tuple(codes.shape[:2])}")
        elif any(bool((d[i, : int(lengths[i])] < 1).any()) for i in range(d.shape[0])):
            problems.append("durations below 1 frame")
    if tokens.side_bits is not None:
        side = tokens.side_bits.double()
        if tuple(side.shape) != (codes.shape[0],) or not bool(torch.isfinite(side).all()) or bool((side < 0).any()):
            problems.append(f"side_bits {side.tolist()}: one finite number >= 0 per item expected")
    if problems:
        return problems
    for what, measured in (("frames", codec.measured_frames(tokens)), ("bits", codec.measured_bits(tokens))):
        m = measured.double()
        if tuple(m.shape) != (codes.shape[0],) or not bool(torch.isfinite(m).all()) or bool((m < 0).any()):
            problems.append(f"measured {what} {m.tolist()}: one finite number >= 0 per item expected")
    return problems


def audio_problems(codec: Codec, wav: object, lengths: object, batch: int, num_samples: torch.Tensor | None = None
                   ) -> list[str]:
    """What is wrong with the audio one decode call returned for ``batch`` items (empty when nothing); given the
    inputs' ``num_samples`` (tokens of encoded audio) and unless the codec declares ``free_length``, each item's
    length must be the input's within :data:`LENGTH_FRAMES` frames."""
    if not isinstance(wav, torch.Tensor) or not isinstance(lengths, torch.Tensor):
        return [f"decode returned {type(wav).__name__}, {type(lengths).__name__}; expected (wav, lengths) tensors"]
    if wav.dim() != 2 or wav.shape[0] != batch or tuple(lengths.shape) != (batch,) or not _integer(lengths):
        return [f"decode returned wav {tuple(wav.shape)} and lengths {tuple(lengths.shape)} ({lengths.dtype}); "
                f"expected [{batch}, T] and [{batch}] integers"]
    if not wav.dtype.is_floating_point or wav.dtype.is_complex:
        return [f"decoded audio is {wav.dtype}: real float samples in [-1, 1] expected (int16-scale samples divide "
                "by 32768)"]
    problems = []
    for i in range(batch):
        n = int(lengths[i])
        if n < 0 or n > wav.shape[1]:
            problems.append(f"item {i}: declares {n} samples, the decoded audio holds {wav.shape[1]}")
            continue
        if not bool(torch.isfinite(wav[i, :n]).all()):
            problems.append(f"item {i}: decoded audio has NaN or infinite samples")
        elif n and float(wav[i, :n].abs().max()) > MAX_PEAK:
            problems.append(f"item {i}: decoded audio peaks at {float(wav[i, :n].abs().max()):.3g}; float samples in "
                            f"[-1, 1] expected (at most {MAX_PEAK:g} is let through)")
        if num_samples is not None and not codec.capabilities.free_length:
            expected = float(num_samples[i]) * codec.output_sample_rate / codec.sample_rate
            if abs(n - expected) > LENGTH_FRAMES * hop(codec) + 1:
                problems.append(f"item {i}: decoded {n} samples; its input implies {expected:.0f} "
                                f"+- {LENGTH_FRAMES * hop(codec):.0f} ({LENGTH_FRAMES} frames)")
    return problems


def check_tokens(codec: Codec, tokens: object, input_lengths: torch.Tensor | None = None) -> Tokens:
    """The tokens, or :class:`ContractError` listing what is wrong with them."""
    problems = token_problems(codec, tokens, input_lengths)
    _expect(not problems, f"{type(codec).__name__}.encode broke the codec contract: {'; '.join(problems)}")
    assert isinstance(tokens, Tokens)
    return tokens


def checked_decode(codec: Codec, tokens: Tokens, exact_length: bool = True) -> tuple[torch.Tensor, torch.Tensor]:
    """``codec.decode(tokens)``, or :class:`ContractError` listing what is wrong with what it returned
    (``exact_length``: the tokens are of encoded audio, so the length is the input's; False for generated ones).
    A codec that declares ``batched=False`` decodes one item at a time, the outputs padded into one batch."""
    if codec.capabilities.batched or tokens.batch_size == 1:
        return checked_audio(codec, codec.decode(tokens), tokens.batch_size,
                             tokens.num_samples if exact_length else None)
    parts = [checked_decode(codec, tokens.item(i), exact_length) for i in range(tokens.batch_size)]
    wav, _ = pad_batch([w[0, : int(n[0])] for w, n in parts])
    return wav, torch.cat([n for _, n in parts])


def checked_audio(codec: Codec, out: object, batch: int, num_samples: torch.Tensor | None = None
                  ) -> tuple[torch.Tensor, torch.Tensor]:
    """What a decode call (``decode`` or ``decode_features``) returned, or :class:`ContractError`."""
    wav, lengths = out if isinstance(out, tuple) and len(out) == 2 else (out, None)
    problems = audio_problems(codec, wav, lengths, batch, num_samples)
    _expect(not problems, f"{type(codec).__name__} decoding broke the codec contract: {'; '.join(problems)}")
    assert isinstance(wav, torch.Tensor) and isinstance(lengths, torch.Tensor)
    return wav, lengths


# ---- checks of a built codec (codecbench check-codec) ---------------------------------------------------------------
def _encode(codec: Codec, x: torch.Tensor) -> Tokens:
    """Tokens of one clip; the input must come back unchanged (an encoder that edits its input in place would
    change the reference the metrics compare with)."""
    batch = x[None].clone()
    tokens = check_tokens(codec, codec.encode(batch, torch.tensor([len(x)])), torch.tensor([len(x)]))
    _expect(torch.equal(batch[0], x), "encode changed its input in place (the metrics' reference would change)")
    return tokens


@torch.inference_mode()
def declarations(codec: Codec) -> str:
    """Rates, codebooks and the shortest input are declared as numbers every task can divide by."""
    problems = declaration_problems(codec)
    _expect(not problems, "; ".join(problems))
    return f"{codec.sample_rate} Hz in, {codec.output_sample_rate} Hz out, codebooks {list(codec.codebook_sizes)}"


@torch.inference_mode()
def roundtrip(codec: Codec) -> str:
    """Every invariant of an encode and a decode of 3 s: codes, lengths, durations, side bits, measured rates,
    finite audio of the input's length within :data:`LENGTH_FRAMES` frames."""
    x = clip(codec, 3.0)
    tokens = _encode(codec, x)
    wav, lengths = checked_decode(codec, tokens)
    return f"{int(tokens.lengths[0])} frames x {len(codec.codebook_sizes)} codebooks, {int(lengths[0])} samples out"


PROBE_SECONDS = 3.0  # the length of the clip the rate checks measure


def _rate_slack(declared: float, per_frame: float) -> float:
    """How far a measured rate may be from the declared one on the probe clip: 2 %, or one frame more (a codec
    that pads the last partial frame counts it: an honest codec reports that frame, never under-reports)."""
    return max(0.02 * declared, per_frame / PROBE_SECONDS)


@torch.inference_mode()
def frame_rate(codec: Codec) -> str:
    """The measured frame rate (and bitrate) match the declared ones within 2 % or one padded frame; a
    variable-rate codec declares none, returns durations and counts one frame per token."""
    x = clip(codec, PROBE_SECONDS)
    tokens = _encode(codec, x)
    rate = float(codec.measured_frames(tokens)[0]) / PROBE_SECONDS
    if codec.capabilities.variable_rate:
        _expect(codec.nominal_frame_rate is None, "a variable-rate codec declares no nominal frame rate")
        _expect(tokens.durations is not None, "a variable-rate codec returns token durations")
        _expect(abs(rate - int(tokens.lengths[0]) / PROBE_SECONDS) < 1e-6,
                f"measured {rate:.3f} Hz is not one frame per token")
        return f"variable rate: {rate:.2f} Hz measured"
    _expect(codec.nominal_frame_rate is not None, "a fixed-rate codec declares nominal_frame_rate")
    nominal = float(codec.nominal_frame_rate or 0.0)
    _expect(abs(rate - nominal) <= _rate_slack(nominal, 1.0) + 1e-9,
            f"measured {rate:.3f} Hz, declared {nominal} Hz (2 % or one padded frame allowed on "
            f"{PROBE_SECONDS:g} s)")
    if codec.nominal_bitrate is not None:
        bits = float(codec.measured_bits(tokens)[0]) / PROBE_SECONDS
        declared = float(codec.nominal_bitrate)
        per_frame = declared / nominal if nominal else 0.0
        _expect(abs(bits - declared) <= _rate_slack(declared, per_frame) + 1e-9,
                f"measured {bits:.0f} b/s, declared {declared:.0f} b/s (2 % or one padded frame allowed)")
    return f"{rate:.2f} Hz measured, {nominal} Hz declared"


GROUPED_HINT = ("; a convolutional codec sees the padding of a batch: subclass GroupedCodec (equal-length groups run "
                "unpadded through _encode / _decode) or declare Capabilities(batched=False)")


@torch.inference_mode()
def batching(codec: Codec) -> str:
    """A padded batch gives each item's codes exactly, and its audio within 1e-6, as one at a time (runs batch
    utterances); a codec that declares ``batched=False`` is given one item at a time, so its batch of one is
    checked instead."""
    clips = [clip(codec, s, i) for i, s in enumerate((1.0, 1.7, 0.6))]
    if not codec.capabilities.batched:
        for one_clip in clips:
            checked_decode(codec, _encode(codec, one_clip))
        return "declared batched=False: runs give it one item at a time (3 single clips checked)"
    x, lengths = pad_batch(clips)
    batch = check_tokens(codec, codec.encode(x, lengths), lengths)
    wav, out_lengths = checked_decode(codec, batch)
    for i, one_clip in enumerate(clips):
        single = _encode(codec, one_clip)
        _expect(torch.equal(batch.item(i).codes, single.codes),
                f"item {i}: batched codes differ from its own{GROUPED_HINT}")
        one, one_len = checked_decode(codec, single)
        n = int(one_len[0])
        _expect(int(out_lengths[i]) == n, f"item {i}: batched length {int(out_lengths[i])}, alone {n}{GROUPED_HINT}")
        gap = float((wav[i, :n] - one[0, :n]).abs().max()) if n else 0.0
        _expect(torch.allclose(wav[i, :n], one[0, :n], atol=1e-6), f"item {i}: batched audio differs from its own "
                f"by up to {gap:.2e}{GROUPED_HINT}")
    return "3 clips of 0.6-1.7 s"


@torch.inference_mode()
def determinism(codec: Codec) -> str:
    """Encoding twice gives the same codes and decoding twice the same audio (the token and score caches rely on
    it), unless the codec declares ``deterministic=False``."""
    if not codec.capabilities.deterministic:
        return "declared non-deterministic: its tokens are never cached"
    x = clip(codec, 1.5, 3)
    first, second = _encode(codec, x), _encode(codec, x)
    _expect(torch.equal(first.codes, second.codes), "encoding the same audio twice gave different codes")
    (a, n), (b, m) = checked_decode(codec, first), checked_decode(codec, first)
    _expect(int(n[0]) == int(m[0]) and torch.equal(a[0, : int(n[0])], b[0, : int(m[0])]),
            "decoding the same tokens twice gave different audio (declare Capabilities(deterministic=False) "
            "if that is intended)")
    return "same codes and audio twice"


#: the checks, in the order they run
CHECKS: dict[str, Callable[[Codec], str]] = {"declarations": declarations, "roundtrip": roundtrip,
                                             "frame_rate": frame_rate, "batching": batching,
                                             "determinism": determinism}


def contract_failures(codec: Codec) -> list[str]:
    """Every check a codec fails (``name: what``), anything it raises included; empty when it keeps the contract.
    Runs call this once per codec variant (:func:`codecbench.engine.jobs.contract_verdict`): a run refuses what
    ``codecbench check-codec`` fails."""
    if codec.capabilities.recorded:
        return []  # recorded outputs: nothing is encoded or decoded (each file is checked when it is read)
    failures = []
    for name, check in CHECKS.items():
        try:
            check(codec)
        except Exception as err:  # noqa: BLE001 - whatever the codec raises is a failed check
            what = str(err) if isinstance(err, ContractError) else f"raised {type(err).__name__}: {err}"
            failures.append(f"{name}: {what}")
            if name == "declarations":
                break  # nothing else can run on broken declarations
    return failures
