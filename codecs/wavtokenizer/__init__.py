"""WavTokenizer (jishengpeng/WavTokenizer): an in-tree implementation key-compatible with the
official Lightning checkpoints; importing the package registers ``wavtokenizer-40hz``."""

from functools import partial

from bench.registry import CODECS

from .model import WavTokenizer
from .plugin import WavTokenizerCodec

PLUGIN_NAMES = ("wavtokenizer-40hz",)

CODECS.register("wavtokenizer-40hz", partial(WavTokenizerCodec))

__all__ = ["WavTokenizer", "WavTokenizerCodec"]
