"""DyCAST: an in-tree implementation key-compatible with the official release (lucadellalib/dycast)."""

from .model import DyCAST

__all__ = ["DyCAST"]
