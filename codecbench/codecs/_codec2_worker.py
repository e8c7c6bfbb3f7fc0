"""Decode one Codec2 stream in a fresh process (``python -m codecbench.codecs._codec2_worker MODE``).

libcodec2's decoder draws random phases from a process-wide static generator
(``codec2_rand``) that cannot be reset from Python, so decoding in-process would depend on
everything decoded before. A fresh process starts that generator at its seed, which makes
every decode identical to the reference ``c2dec`` tool and independent of history.
Reads concatenated frames on stdin, writes int16 PCM on stdout. Imports only numpy.
"""

from __future__ import annotations

import sys

import numpy as np
import pycodec2


def main() -> None:
    engine = pycodec2.Codec2(int(sys.argv[1]))
    size = engine.bytes_per_frame()
    data = sys.stdin.buffer.read()
    pcm = [engine.decode(data[i:i + size]) for i in range(0, len(data), size)]
    out = np.concatenate(pcm).astype("<i2") if pcm else np.zeros(0, "<i2")
    sys.stdout.buffer.write(out.tobytes())


if __name__ == "__main__":
    main()
