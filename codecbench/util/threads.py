"""Thread counts and processing order a run may be told to use by its environment: the perturbations a
different machine brings, which ``codecbench check --calibrate`` applies to measure the gate's tolerances.

``CODECBENCH_THREADS=N`` sets torch's intra-op threads, ONNX Runtime's (DNSMOS) and CTranslate2's (Whisper);
unset, each library keeps its own default. ``CODECBENCH_ORDER_SEED=S`` processes each dataset's utterances in
a seeded shuffled order (so batches hold other neighbours); rows do not depend on it. Neither is part
of any identity: they must not change the numbers beyond the noise the calibration measures."""

from __future__ import annotations

import os
import random
from collections.abc import Sequence
from typing import TypeVar

T = TypeVar("T")
THREADS_VAR, ORDER_VAR = "CODECBENCH_THREADS", "CODECBENCH_ORDER_SEED"


def configured_threads() -> int | None:
    """``CODECBENCH_THREADS`` as a positive int, or None (libraries' defaults); ValueError on a bad value."""
    value = os.environ.get(THREADS_VAR, "").strip()
    if not value:
        return None
    if not value.isdigit() or int(value) < 1:
        raise ValueError(f"{THREADS_VAR} must be a positive integer, got {value!r}")
    return int(value)


def apply_torch_threads() -> None:
    """Set torch's threads from ``CODECBENCH_THREADS`` (nothing when unset)."""
    threads = configured_threads()
    if threads is not None:
        import torch

        torch.set_num_threads(threads)


def processing_order(items: Sequence[T]) -> list[T]:
    """``items`` in a ``CODECBENCH_ORDER_SEED``-shuffled order, or as they are when it is unset."""
    seed = os.environ.get(ORDER_VAR, "").strip()
    out = list(items)
    if seed:
        random.Random(seed).shuffle(out)
    return out
