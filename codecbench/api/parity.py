"""Parity checks against fixtures recorded from an official implementation.

A codec family contributes ``check_folder(folder) -> list[Check]`` with
``@register_parity("<family>")``; ``codecbench parity <family> DIR`` replays the folder and exits 0
only when every output agrees. Floats must agree within ``float_tol`` (waveforms, named
``*rec*`` or ``sig`` by the official fixtures, within ``wave_tol``), integer tensors exactly.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch

FLOAT_TOL, WAVE_TOL = 1e-4, 1e-5


@dataclass(frozen=True)
class Check:
    file: str
    key: str
    kind: str  # "int" (exact), "float", "wave"
    diff: float  # max |difference| (ints: number of differing entries); inf on shape mismatch
    tol: float
    detail: str = ""

    @property
    def ok(self) -> bool:
        return self.diff <= self.tol


def is_wave(key: str) -> bool:
    """Waveform outputs of the official fixtures: ``...rec...`` or ``sig`` as the last key part."""
    last = key.split(".")[-1]
    return "rec" in last.split("_") or last == "sig"


def compare_tensors(file: str, key: str, got: torch.Tensor, ref: torch.Tensor,
            float_tol: float = FLOAT_TOL, wave_tol: float = WAVE_TOL) -> Check:
    """One output against its recorded value: exact for integers, max |difference| for floats."""
    got = torch.as_tensor(got).detach().cpu()
    if ref.dtype.is_floating_point:
        kind = "wave" if is_wave(key) else "float"
        tol = wave_tol if kind == "wave" else float_tol
    else:
        kind, tol = "int", 0.0
    if tuple(got.shape) != tuple(ref.shape):
        return Check(file, key, kind, float("inf"), tol, f"shape {tuple(got.shape)} != {tuple(ref.shape)}")
    if kind == "int":
        return Check(file, key, kind, float((got.long() != ref.long()).sum()), tol)
    diff = (got.double() - ref.double()).abs().max() if ref.numel() else torch.tensor(0.0)
    return Check(file, key, kind, float(diff), tol)
