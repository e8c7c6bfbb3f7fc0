"""WavTokenizer (jishengpeng/WavTokenizer): an in-tree implementation key-compatible with the
official Lightning checkpoints; importing the package registers ``wavtokenizer-40hz``."""

from . import parity  # noqa: F401 - registers `codecbench parity wavtokenizer`
from .model import WavTokenizer
from .plugin import WavTokenizerCodec

__all__ = ["WavTokenizer", "WavTokenizerCodec"]
