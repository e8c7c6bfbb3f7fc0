"""Codec2 (700C / 1200 / 3200 bps) through ``pycodec2``, whose wheels bundle libcodec2."""

from __future__ import annotations

import subprocess
import sys
from typing import Literal

import numpy as np
import pycodec2
import torch

from codecbench.api import Capabilities, Codec, Tokens, pad_batch, register_codec

PLUGIN_EXTRA = "codec2"
VARIANTS = {"codec2-700c": {"mode": 700}, "codec2-1200": {"mode": 1200}, "codec2-3200": {"mode": 3200}}
MODES = (700, 1200, 3200)


@register_codec(VARIANTS)
class Codec2Codec(Codec):
    """One frame of packed bits per 20/40 ms at 8 kHz; codes are the frame's bytes.

    Decoding runs in a short-lived child process (see ``_codec2_worker``) so that it is
    deterministic.

    ``bits_per_token`` is the mode's true bits per frame (e.g. 28 for 700C), not the
    bytes' 8 bits each, so the measured bitrate is the codec's real rate.
    """

    families = {name: "codec2" for name in VARIANTS}  # variants that differ only in rate

    sample_rate = 8000
    output_sample_rate = 8000
    capabilities = Capabilities(batched=False)

    def __init__(self, mode: Literal[700, 1200, 3200] = 3200) -> None:
        super().__init__()
        if mode not in MODES:
            raise ValueError(f"Codec2 mode must be one of {list(MODES)}, got {mode}")
        self.mode = mode
        engine = pycodec2.Codec2(mode)
        self.samples_per_frame = int(engine.samples_per_frame())
        self.bytes_per_frame = int(engine.bytes_per_frame())
        self._bits_per_frame = int(engine.bits_per_frame())
        self.codebook_sizes = [256] * self.bytes_per_frame
        self.nominal_frame_rate = self.sample_rate / self.samples_per_frame
        self.nominal_bitrate = float(mode)
        self.min_samples = self.samples_per_frame

    @property
    def bits_per_token(self) -> float:
        return float(self._bits_per_frame)

    def encode(self, wav: torch.Tensor, lengths: torch.Tensor) -> Tokens:
        items = []
        spf = self.samples_per_frame
        for row, n in zip(wav, lengths.tolist(), strict=True):
            engine = pycodec2.Codec2(self.mode)  # fresh state per utterance: deterministic
            pcm = np.round(row[:n].clamp(-1, 1).cpu().numpy() * 32767).astype(np.int16)
            frames = -(-n // spf)
            pcm = np.pad(pcm, (0, frames * spf - n))
            packed = [np.frombuffer(engine.encode(pcm[i * spf:(i + 1) * spf]), dtype=np.uint8)
                      for i in range(frames)]
            codes = torch.from_numpy(np.stack(packed).astype(np.int64)).unsqueeze(0)
            items.append(Tokens(codes=codes, lengths=torch.tensor([frames]),
                                num_samples=torch.tensor([n])))
        return Tokens.collate(items)

    def decode(self, tokens: Tokens) -> tuple[torch.Tensor, torch.Tensor]:
        outs = []
        for i in range(tokens.batch_size):
            frames = tokens.codes[i, : int(tokens.lengths[i])].to(torch.uint8).numpy()
            pcm = _decode_in_fresh_process(self.mode, frames.tobytes())
            samples = pcm[: int(tokens.num_samples[i])].astype(np.float32) / 32768.0
            outs.append(torch.from_numpy(samples))
        return pad_batch(outs)

    cache_id_complete = True  # cache_id names the weights and every setting the tokens depend on

    def cache_id(self) -> str:
        return f"{super().cache_id()}:mode={self.mode}"



def _decode_in_fresh_process(mode: int, data: bytes) -> np.ndarray:
    """Decode in a child process so libcodec2's global phase generator starts at its seed."""
    result = subprocess.run([sys.executable, "-m", "codecbench.codecs._codec2_worker", str(mode)],
                            input=data, capture_output=True, check=False, timeout=600)
    if result.returncode < 0:  # killed (a cancelled job, the OOM killer): the machine's fault, retried next run
        raise ChildProcessError(f"Codec2 decoder process was killed by signal {-result.returncode}")
    if result.returncode != 0:
        raise RuntimeError(f"Codec2 decoder process failed: {result.stderr.decode(errors='replace')[-500:]}")
    return np.frombuffer(result.stdout, dtype="<i2")
