"""The Metric contract: batched per-utterance scores with declared direction and aggregation."""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any, ClassVar, Literal

import numpy as np

from bench.datasets import Utterance


@dataclass(frozen=True)
class MetricOutput:
    """One column a metric produces.

    ``aggregation="mean"`` averages per-utterance values; ``"ratio"`` is
    ``scale * sum(num) / sum(den)`` (corpus-level dWER, measured rates).
    """

    name: str
    label: str
    higher_is_better: bool | None  # None: not ranked (rates)
    aggregation: Literal["mean", "ratio"] = "mean"
    scale: float = 1.0
    decimals: int = 2


@dataclass(frozen=True)
class Score:
    value: float
    num: float | None = None
    den: float | None = None
    extra: dict[str, Any] = field(default_factory=dict)


class Metric(ABC):
    """A metric plugin. Inputs are mono float32 waveforms at :attr:`sample_rate` (16 kHz)."""

    name: ClassVar[str]
    outputs: ClassVar[tuple[MetricOutput, ...]]
    requires_reference: ClassVar[bool]
    requires_text: ClassVar[bool] = False
    sample_rate: ClassVar[int] = 16000
    #: importable modules the metric needs, and the pip extra that installs them
    dependencies: ClassVar[tuple[str, ...]] = ()
    extra: ClassVar[str | None] = None

    @classmethod
    def missing_dependencies(cls) -> list[str]:
        import importlib.util

        return [m for m in cls.dependencies if importlib.util.find_spec(m) is None]

    @property
    @abstractmethod
    def backend(self) -> str:
        """Identifier of the model and settings behind the numbers (stored with every row)."""

    @abstractmethod
    def compute(
        self, hyp: Sequence[np.ndarray], ref: Sequence[np.ndarray], meta: Sequence[Utterance]
    ) -> list[dict[str, Score]]:
        """Scores per utterance: one ``{output name: Score}`` per input."""


def output_specs() -> dict[str, MetricOutput]:
    """Every output of every registered metric, plus the measured rates, by name."""
    from bench.registry import METRICS, discover

    discover()
    specs = dict(RATE_OUTPUTS)
    for name in METRICS.names():
        for out in METRICS.get(name).outputs:
            specs[out.name] = out
    return specs


RATE_OUTPUTS = {
    "frame_rate": MetricOutput("frame_rate", "Frame Rate (Hz)", None, "ratio", 1.0, 1),
    "bitrate": MetricOutput("bitrate", "Bitrate (kbps)", None, "ratio", 1e-3, 2),
    # probe tasks (Table 4): corpus WER, error rates in %, and the share of CTC-infeasible utterances
    "asr_wer": MetricOutput("asr_wer", "ASR WER", False, "ratio", 100.0, 2),
    "si_er": MetricOutput("si_er", "SI ER", False, "mean", 100.0, 2),
    "ser_er": MetricOutput("ser_er", "SER ER", False, "mean", 100.0, 2),
    "ctc_infeasible": MetricOutput("ctc_infeasible", "CTC infeasible (%)", None, "mean", 100.0, 1),
}
