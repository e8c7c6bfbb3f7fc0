"""FlexiCodec (amphionspace/FlexiCodec, PyPI ``flexicodec``), the dynamic-frame-rate peer of DyCAST: an in-tree
model key-compatible with the official module (``model.py``), parity-checked against fixtures recorded from the
official code (``codecbench parity flexicodec DIR``; ``parity.py``; weights seeded by ``_blocks/seeded.py``). Importing
the package registers
``flexicodec-12.5hz``, ``flexicodec-8.3hz`` and ``flexicodec-6.25hz`` (``plugin.py``)."""

from . import parity  # noqa: F401 - registers `codecbench parity flexicodec`
from .model import FlexiCodec
from .plugin import FlexiCodecCodec

__all__ = ["FlexiCodec", "FlexiCodecCodec"]
