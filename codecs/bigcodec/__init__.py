"""BigCodec (Aria-K-Alethia/BigCodec): an in-tree implementation key-compatible with the official
``bigcodec.pt``; importing the package registers ``bigcodec``."""

from functools import partial

from bench.registry import CODECS

from .model import BigCodec
from .plugin import BigCodecCodec

PLUGIN_NAMES = ("bigcodec",)

CODECS.register("bigcodec", partial(BigCodecCodec))

__all__ = ["BigCodec", "BigCodecCodec"]
