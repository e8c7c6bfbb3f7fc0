"""DyCAST: an in-tree implementation key-compatible with the official release (lucadellalib/dycast).

Importing the package registers the harness variants ``dycast-ca``, ``dycast-bp1``,
``dycast-bp3`` and ``dycast-bp5`` (see :mod:`.plugin`).
"""

from .model import DyCAST
from .plugin import DyCASTCodec

PLUGIN_NAMES = ("dycast-ca", "dycast-bp1", "dycast-bp3", "dycast-bp5")
PLUGIN_EXTRA = "dycast"

__all__ = ["DyCAST", "DyCASTCodec"]
