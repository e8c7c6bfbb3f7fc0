"""The columns results can have: what tasks and metrics declare, collected from the registries."""

from __future__ import annotations

from .metric import MetricOutput
from .registry import METRICS, TASKS, discover


def output_specs() -> dict[str, MetricOutput]:
    """Every output declared by a registered task or metric, by name."""
    discover()
    specs: dict[str, MetricOutput] = {}
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
