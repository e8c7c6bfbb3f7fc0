"""Metric plugins (UTMOS, DNSMOS, dWER, speaker similarity) and their profiles."""

from .base import Metric, MetricOutput, Score, output_specs

__all__ = ["Metric", "MetricOutput", "Score", "output_specs"]
