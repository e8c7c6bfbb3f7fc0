"""SenseVoice's input features, as FlexiCodec computes them (funasr's ``WavFrontend``): Kaldi-style log-mel
filterbanks (80 bins, 25 ms Hamming windows every 10 ms, samples scaled to the 16-bit range, pre-emphasis 0.97,
DC removed, 512-point power spectrum, mel bins from 20 Hz to Nyquist, edges snipped), then low frame rate stacking
(7 frames every 6: 60 ms, 560 values) and the feature shift / scale of SenseVoice's ``am.mvn``.

Written here without torchaudio (its compiled part does not load beside this torch). One departure, kept as an
option: funasr dithers the samples (amplitude 1 in the 16-bit range) even at inference, so its features are random;
``dither=0`` (the default here) gives the same features on every run."""

from __future__ import annotations

import math
from pathlib import Path

import torch

SAMPLE_RATE = 16000
FRAME, HOP, FFT = 400, 160, 512  # 25 ms, 10 ms, next power of two
MELS, LOW_HZ = 80, 20.0
LFR_M, LFR_N = 7, 6
EPS = torch.finfo(torch.float32).eps


def _mel(hz: torch.Tensor | float) -> torch.Tensor:
    return 1127.0 * torch.log(1.0 + torch.as_tensor(hz, dtype=torch.float32) / 700.0)


def mel_banks() -> torch.Tensor:
    """``[80, 257]`` triangular filters on the Kaldi mel scale (``1127 ln(1 + f / 700)``), 20 Hz to Nyquist; the
    Nyquist bin has no weight."""
    bins = FFT // 2
    fft_bin_width = SAMPLE_RATE / FFT
    low, high = _mel(LOW_HZ), _mel(SAMPLE_RATE / 2)
    delta = (high - low) / (MELS + 1)
    index = torch.arange(MELS, dtype=torch.float32).unsqueeze(1)
    left, center, right = low + index * delta, low + (index + 1.0) * delta, low + (index + 2.0) * delta
    mel = _mel(fft_bin_width * torch.arange(bins, dtype=torch.float32)).unsqueeze(0)
    up = (mel - left) / (center - left)
    down = (right - mel) / (right - center)
    banks = torch.max(torch.zeros(1), torch.min(up, down))
    return torch.nn.functional.pad(banks, (0, 1))


def fbank(samples: torch.Tensor, dither: float = 0.0, generator: torch.Generator | None = None) -> torch.Tensor:
    """``[frames, 80]`` log-mel energies of a 16 kHz mono waveform in [-1, 1] (Kaldi's ``compute-fbank-feats``
    with funasr's settings)."""
    x = samples.to(torch.float32) * (1 << 15)
    length = min(FRAME, x.numel())
    frames = 1 + (x.numel() - length) // HOP if x.numel() >= length else 0
    strided = x.as_strided((frames, length), (HOP, 1))
    if dither:
        strided = strided + dither * torch.randn(strided.shape, generator=generator)
    strided = strided - strided.mean(dim=1, keepdim=True)
    previous = torch.nn.functional.pad(strided.unsqueeze(0), (1, 0), mode="replicate").squeeze(0)
    strided = strided - 0.97 * previous[:, :-1]
    window = torch.hamming_window(length, periodic=False, alpha=0.54, beta=0.46)
    strided = strided * window.unsqueeze(0)
    size = FFT  # a window is at most 400 samples
    padded = torch.nn.functional.pad(strided, (0, size - length))
    power = torch.fft.rfft(padded).abs().pow(2.0)
    energies = torch.mm(power, mel_banks().T)
    return torch.max(energies, torch.tensor(EPS)).log()


def low_frame_rate(feats: torch.Tensor, m: int = LFR_M, n: int = LFR_N) -> torch.Tensor:
    """Stack ``m`` frames every ``n`` (funasr's ``apply_lfr``): the first frame repeated ``(m - 1) // 2`` times in
    front, the last repeated as needed at the end; ``ceil(T / n)`` outputs of ``m x dim`` values."""
    total, dim = feats.shape
    outputs = math.ceil(total / n)
    padded = torch.vstack((feats[0].repeat((m - 1) // 2, 1), feats))
    total += (m - 1) // 2
    needed = (outputs - 1) * n + m
    if needed > total:
        padded = torch.vstack([padded, feats[-1:].repeat(needed - total, 1)])
    return padded.as_strided((outputs, m * dim), (n * dim, 1)).clone()


def load_cmvn(path: str | Path) -> torch.Tensor:
    """``[2, dim]``: the shift (``<AddShift>``) and scale (``<Rescale>``) of a Kaldi nnet ``am.mvn`` file."""
    lines = Path(path).read_text(encoding="utf-8").splitlines()
    found: dict[str, list[float]] = {}
    for i, line in enumerate(lines[:-1]):
        words, following = line.split(), lines[i + 1].split()
        if words and words[0] in ("<AddShift>", "<Rescale>") and following and following[0] == "<LearnRateCoef>":
            found[words[0]] = [float(v) for v in following[3:-1]]
    if set(found) != {"<AddShift>", "<Rescale>"}:
        raise ValueError(f"{path}: not an am.mvn file (no <AddShift> / <Rescale> rows)")
    return torch.tensor([found["<AddShift>"], found["<Rescale>"]], dtype=torch.float32)


def features(samples: torch.Tensor, cmvn: torch.Tensor | None, dither: float = 0.0,
             generator: torch.Generator | None = None) -> torch.Tensor:
    """``[T, 560]`` SenseVoice input of a 16 kHz waveform: fbank, low frame rate stacking, then ``(x + shift) *
    scale`` (``cmvn`` None: none)."""
    stacked = low_frame_rate(fbank(samples, dither, generator))
    if cmvn is None:
        return stacked
    return (stacked + cmvn[0:1, : stacked.shape[1]]) * cmvn[1:2, : stacked.shape[1]]
