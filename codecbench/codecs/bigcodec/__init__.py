"""BigCodec (Aria-K-Alethia/BigCodec): an in-tree implementation key-compatible with the official
``bigcodec.pt``; importing the package registers ``bigcodec``."""

from . import parity  # noqa: F401 - registers `codecbench parity bigcodec`
from .model import BigCodec
from .plugin import BigCodecCodec

__all__ = ["BigCodec", "BigCodecCodec"]
