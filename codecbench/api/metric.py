"""The Metric contract: batched per-utterance scores with declared columns, backends and references."""

from __future__ import annotations

import importlib.util
from abc import ABC, abstractmethod
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, ClassVar, Literal

import numpy as np

from codecbench.api.datasets import Utterance
from codecbench.plugins.registry import METRICS

if TYPE_CHECKING:
    from codecbench.assets import Asset


def library_versions(*packages: str) -> str:
    """``[name=version,...]`` of the installed distributions a metric's numbers depend on (a decoder, an inference
    engine), for its backend string: rows made with other versions never share a table column or a gate silently."""
    from importlib import metadata

    found = []
    for name in packages:
        try:
            found.append(f"{name}={metadata.version(name)}")
        except metadata.PackageNotFoundError:
            found.append(f"{name}=absent")
    return "[" + ",".join(found) + "]"


@dataclass(frozen=True)
class MetricOutput:
    """One column a metric or a task produces, as tables show it.

    ``aggregation="mean"`` averages per-utterance values; ``"ratio"`` is
    ``scale * sum(num) / sum(den)`` (corpus-level dWER, measured rates). ``order`` places the
    column in tables (lower first); ``in_table=False`` keeps it in ``summary.csv`` only;
    ``per_dataset=False`` aggregates it over every dataset of the task (measured rates).
    """

    name: str
    label: str
    higher_is_better: bool | None  # None: not ranked (rates, counts)
    aggregation: Literal["mean", "ratio"] = "mean"
    scale: float = 1.0
    decimals: int = 2
    order: int = 100
    in_table: bool = True
    per_dataset: bool = True


@dataclass(frozen=True)
class Score:
    value: float
    num: float | None = None
    den: float | None = None
    extra: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class Backend:
    """How a metric runs under one profile: constructor params, the assets it needs, and whether it
    runs when a config names no metrics (``default=False``: only when asked for, outside the paper's stack)."""

    params: dict[str, Any] = field(default_factory=dict)
    assets: tuple[str, ...] = ()
    default: bool = True


Reference = Literal["none", "source", "target"]


class Metric(ABC):
    """A metric plugin. Inputs are mono float32 waveforms at :attr:`sample_rate` (16 kHz).

    Declarations a plugin sets: ``outputs`` (its columns), ``profiles`` (its backend under each
    metric profile it takes part in), ``reference`` (``"source"``: the audio whose content the
    hypothesis must keep; ``"target"``: audio of the speaker it must sound like; ``"none"``),
    ``assets`` (pretrained files it may load), ``dependencies``, ``extra`` and ``version``.
    """

    name: ClassVar[str]
    outputs: ClassVar[tuple[MetricOutput, ...]]
    profiles: ClassVar[dict[str, Backend]] = {}
    reference: ClassVar[Reference] = "none"
    assets: ClassVar[tuple[Asset, ...]] = ()
    sample_rate: ClassVar[int] = 16000
    #: importable modules the metric needs, and the pip extra that installs them
    dependencies: ClassVar[tuple[str, ...]] = ()
    extra: ClassVar[str | None] = None
    #: constructor settings that leave the metric's numbers alone (batch sizes): the only ones ``metric_options`` may
    #: set, each annotated with its type and range; they are part of no cache key
    tunable: ClassVar[tuple[str, ...]] = ()
    #: set by the runner when an asset of the metric's backend holds random weights: rows are flagged
    random_weights: bool = False
    #: bump when something outside the plugin's source changes its numbers (part of its code fingerprint)
    version: ClassVar[str] = "1"

    @property
    def code_id(self) -> str:
        """Fingerprint of the code that computes this metric (:func:`codecbench.util.identity.code_fingerprint`):
        part of every cache key of its scores, transcripts and embeddings, and of its rows' setup."""
        from codecbench.util.identity import code_fingerprint

        return code_fingerprint(type(self))

    @property
    def row_backend(self) -> str:
        """What every row of this metric records as its backend: :attr:`backend` (model and settings) and the
        fingerprint of the code, so a changed scoring step (a normaliser, a window) is a changed backend."""
        return f"{self.backend} code={self.code_id}"

    @classmethod
    def missing_dependencies(cls) -> list[str]:
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


METRICS.set_base(Metric)  # the registry checks every metric plugin against it
