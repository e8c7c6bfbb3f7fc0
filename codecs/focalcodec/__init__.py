"""FocalCodec: an in-tree implementation key-compatible with the official release
(lucadellalib/focalcodec, v0.0.2 API; v0.0.1 checkpoints are remapped on load).

Importing the package registers ``focalcodec-50hz`` (the paper's baseline), ``focalcodec-25hz``,
``focalcodec-12.5hz`` and the causal streaming variants (all parity-checked against the official fixtures).
"""

from .model import FocalCodec
from .plugin import FocalCodecCodec, register

PLUGIN_NAMES = ("focalcodec-50hz", "focalcodec-25hz", "focalcodec-12.5hz", "focalcodec-50hz-65k-causal",
                "focalcodec-50hz-4k-causal", "focalcodec-50hz-2k-causal")
PLUGIN_EXTRA = "dycast"

register()

__all__ = ["FocalCodec", "FocalCodecCodec"]
