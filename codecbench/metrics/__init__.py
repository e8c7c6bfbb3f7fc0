"""Metric plugins, one module each; imported as ``codecbench.metrics.<name>``.

A metric declares its columns, its backend under each metric profile, the reference it needs
and its assets (see :class:`codecbench.api.metric.Metric`); nothing in the core lists metrics.
"""

from codecbench.api import Backend, Metric, MetricOutput, Score

__all__ = ["Backend", "Metric", "MetricOutput", "Score"]
