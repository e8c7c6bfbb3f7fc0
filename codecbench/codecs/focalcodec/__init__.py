"""FocalCodec: an in-tree implementation key-compatible with the official release
(lucadellalib/focalcodec, v0.0.2 API; v0.0.1 checkpoints are remapped on load).

Importing the package registers ``focalcodec-50hz`` (the paper's baseline), ``focalcodec-25hz``,
``focalcodec-12.5hz`` and the causal streaming variants (all parity-checked against the official fixtures).
"""

from . import parity  # noqa: F401 - registers `codecbench parity focalcodec`
from .model import FocalCodec
from .plugin import FocalCodecCodec

PLUGIN_EXTRA = "dycast"

__all__ = ["FocalCodec", "FocalCodecCodec"]
