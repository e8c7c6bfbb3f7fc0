"""Opus in an Ogg container through libsndfile (``soundfile``): a real low-bitrate codec.

The codes are the bytes of the Ogg/Opus stream, so the measured bitrate is exactly the
size of what would be stored or sent (container overhead included). libsndfile sets
the Opus bitrate from ``compression_level``; the variants name the target and the table
reports what was actually achieved.
"""

from __future__ import annotations

import io
import math
from typing import Literal

import numpy as np
import soundfile as sf
import torch

from codecbench.api import Capabilities, Codec, Fraction, Tokens, pad_batch, register_codec

#: libsndfile 1.2 at 16 kHz: level 1.0 -> ~7 kbps, 0.98 -> ~12 kbps (measured on LibriSpeech).
VARIANTS = {"opus-6kbps": {"compression_level": 1.0}, "opus-12kbps": {"compression_level": 0.98}}
OPUS_FRAME_SECONDS = 0.02  # libsndfile writes 20 ms Opus packets


@register_codec(VARIANTS)
class OpusCodec(Codec):
    """Ogg/Opus via libsndfile; codes ``[1, num_bytes, 1]`` (vocabulary 256)."""

    families = {"opus-6kbps": "opus", "opus-12kbps": "opus"}  # variants that differ only in rate

    codebook_sizes = [256]
    capabilities = Capabilities(batched=False)

    def __init__(self, compression_level: Fraction = 1.0,
                 sample_rate: Literal[8000, 12000, 16000, 24000, 48000] = 16000) -> None:
        super().__init__()
        if not 0.0 <= compression_level <= 1.0:
            raise ValueError(f"compression_level must be in [0, 1], got {compression_level}")
        if sample_rate not in (8000, 12000, 16000, 24000, 48000):
            raise ValueError(f"Opus sample_rate must be 8/12/16/24/48 kHz, got {sample_rate}")
        self.compression_level = compression_level
        self.sample_rate = self.output_sample_rate = sample_rate
        self.nominal_frame_rate = 1.0 / OPUS_FRAME_SECONDS

    def encode(self, wav: torch.Tensor, lengths: torch.Tensor) -> Tokens:
        items = []
        for row, n in zip(wav, lengths.tolist(), strict=True):
            buffer = io.BytesIO()
            samples = row[:n].clamp(-1, 1).cpu().numpy().astype(np.float32)
            sf.write(buffer, samples, self.sample_rate, format="OGG", subtype="OPUS",
                     compression_level=self.compression_level)
            stream = fix_ogg_serial(buffer.getvalue())
            data = np.frombuffer(stream, dtype=np.uint8).astype(np.int64)
            items.append(Tokens(codes=torch.from_numpy(data).view(1, -1, 1),
                                lengths=torch.tensor([len(data)]),
                                num_samples=torch.tensor([n])))
        return Tokens.collate(items)

    def decode(self, tokens: Tokens) -> tuple[torch.Tensor, torch.Tensor]:
        outs = []
        for i in range(tokens.batch_size):
            data = tokens.codes[i, : int(tokens.lengths[i]), 0].to(torch.uint8).numpy().tobytes()
            samples, _ = sf.read(io.BytesIO(data), dtype="float32")
            outs.append(torch.from_numpy(samples[: int(tokens.num_samples[i])]))
        return pad_batch(outs)

    def measured_frames(self, tokens: Tokens) -> torch.Tensor:
        """Opus packets (20 ms each), not bytes, are the frames."""
        per_frame = OPUS_FRAME_SECONDS * self.sample_rate
        return torch.tensor([math.ceil(int(n) / per_frame) for n in tokens.num_samples],
                            dtype=torch.float64)

    cache_id_complete = True  # cache_id names the weights and every setting the tokens depend on

    def cache_id(self) -> str:
        return f"{super().cache_id()}:level={self.compression_level}:sr={self.sample_rate}"



def _ogg_crc_table() -> list[int]:
    table = []
    for i in range(256):
        r = i << 24
        for _ in range(8):
            r = ((r << 1) ^ 0x04C11DB7) if r & 0x80000000 else (r << 1)
        table.append(r & 0xFFFFFFFF)
    return table


_CRC = _ogg_crc_table()


def _ogg_crc(page: bytes) -> int:
    crc = 0
    for byte in page:
        crc = ((crc << 8) & 0xFFFFFFFF) ^ _CRC[((crc >> 24) & 0xFF) ^ byte]
    return crc


def fix_ogg_serial(data: bytes, serial: int = 0) -> bytes:
    """Set every Ogg page's stream serial number (random in libsndfile) and fix its CRC.

    The audio is unchanged; the bytes become a deterministic function of the input.
    """
    out = bytearray(data)
    pos = 0
    while pos + 27 <= len(out):
        if out[pos:pos + 4] != b"OggS":
            raise ValueError(f"not an Ogg page at byte {pos}")
        nsegs = out[pos + 26]
        size = 27 + nsegs + sum(out[pos + 27:pos + 27 + nsegs])
        out[pos + 14:pos + 18] = serial.to_bytes(4, "little")
        out[pos + 22:pos + 26] = b"\0\0\0\0"
        out[pos + 22:pos + 26] = _ogg_crc(bytes(out[pos:pos + size])).to_bytes(4, "little")
        pos += size
    return bytes(out)
