"""DyCAST: an in-tree implementation key-compatible with the official release (lucadellalib/dycast).

Importing the package registers the harness variants ``dycast-ca``, ``dycast-bp1``,
``dycast-bp3`` and ``dycast-bp5`` (see :mod:`.plugin`).
"""

from . import cli, parity  # noqa: F401 - register `codecbench rad` and `codecbench parity dycast`
from .model import DyCAST
from .plugin import DyCASTCodec

PLUGIN_EXTRA = "dycast"

__all__ = ["DyCAST", "DyCASTCodec"]
