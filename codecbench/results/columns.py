"""The columns results can have: what tasks and metrics declare, collected from the registries, and a table's
columns as data (:class:`Column`: output, dataset, group, spread), whose header is made in one place."""

from __future__ import annotations

from dataclasses import dataclass, replace

from codecbench.api.metric import MetricOutput
from codecbench.plugins.registry import METRICS, TASKS, discover

#: outputs the harness itself writes: listening-test ratings (:mod:`codecbench.results.listening`)
CORE_OUTPUTS = (MetricOutput("mushra", "MUSHRA", True, decimals=1, order=5),)


def output_specs() -> dict[str, MetricOutput]:
    """Every output declared by a registered task or metric, and the harness's own, by name."""
    discover()
    specs: dict[str, MetricOutput] = {o.name: o for o in CORE_OUTPUTS}
    for _, plugin in TASKS.items() + METRICS.items():
        for out in plugin.outputs:
            known = specs.get(out.name)
            if known is not None and known != out:
                raise ValueError(f"output {out.name!r} is declared twice, differently: {known} vs {out}")
            specs[out.name] = out
    return specs


def table_columns(per_dataset: bool) -> list[MetricOutput]:
    """Outputs shown in tables, in declared order: per dataset, or over all datasets (rates)."""
    shown = [o for o in output_specs().values() if o.in_table and o.per_dataset == per_dataset]
    return sorted(shown, key=lambda o: (o.order, o.name))


SPREAD = " ±"  # suffix of the columns that hold the spread over training seeds
ERRORS = "Errors"


@dataclass(frozen=True)
class Column:
    """A table column as data: the declared output it shows (None: the error count), over one ``dataset``
    (None: over every dataset, the measured rates), in a joined table's ``group`` (``ASR``, ``TTS``), and
    whether it is the spread over training seeds beside a cell. :attr:`title` is its header, made here only."""

    output: MetricOutput | None
    dataset: str | None = None
    group: str | None = None
    dataset_shown: bool = True  # False in a group whose tasks have one dataset: the group names it
    spread: bool = False

    @property
    def title(self) -> str:
        if self.output is None:
            return ERRORS
        text = self.output.label
        if self.dataset is not None:
            arrow = "↑" if self.output.higher_is_better else "↓"
            body = f"{self.output.label} {arrow}"
            if self.group is None:
                text = f"{self.dataset} {body}"
            elif not self.dataset_shown:
                text = body if body.startswith(self.group) else f"{self.group} {body}"
            else:
                text = f"{self.group} {self.dataset} {body}"
        return text + (SPREAD if self.spread else "")

    @property
    def higher(self) -> bool | None:
        """Whether higher is better, for ranking; None for columns that are not ranked (rates, spreads, errors)."""
        if self.output is None or self.dataset is None or self.spread:
            return None
        return self.output.higher_is_better

    @property
    def decimals(self) -> int:
        return self.output.decimals if self.output is not None else 0

    def in_group(self, group: str, dataset_shown: bool) -> Column:
        """This column in a joined table's group (rates stay as they are: one column for every group)."""
        if self.dataset is None:
            return self
        return replace(self, group=group, dataset_shown=dataset_shown)

    def spread_of(self) -> Column:
        return replace(self, spread=True)


#: a table's columns by title, in order
Columns = dict[str, Column]


def titled(columns: list[Column]) -> Columns:
    """Columns keyed by their title, in the given order."""
    return {c.title: c for c in columns}
