"""Metric plugins, one module each; imported as ``bench.metrics.<name>``.

A metric declares its columns, its backend under each metric profile, the reference it needs
and its assets (see :class:`bench.metric.Metric`); nothing in the core lists metrics.
"""

from bench.metric import Backend, Metric, MetricOutput, Score

__all__ = ["Backend", "Metric", "MetricOutput", "Score"]
