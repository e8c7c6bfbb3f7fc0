"""Metric profiles, built from what each metric declares (``Metric.profiles``).

``paper`` is the papers' stack, ``offline`` needs no download; ``auto`` picks ``paper`` when
every asset its backends need is reachable (configured locally, or the Hub when online) and
``offline`` otherwise, and says so.
"""

from __future__ import annotations

import logging
from typing import Any

from . import assets
from .keywords import check_keywords
from .metric import Backend
from .registry import METRICS, discover

log = logging.getLogger(__name__)
AUTO_ORDER = ("paper", "offline")  # auto takes the first whose assets are all reachable


def profiles() -> dict[str, dict[str, Backend]]:
    """``{profile: {metric name: backend}}`` over every registered metric."""
    discover()
    table: dict[str, dict[str, Backend]] = {}
    for name, cls in METRICS.items():
        for profile, backend in cls.profiles.items():
            table.setdefault(profile, {})[name] = backend
    return dict(sorted(table.items()))


def resolve_profile(name: str) -> str:
    """``auto`` -> the first profile of :data:`AUTO_ORDER` whose assets are all reachable."""
    table = profiles()
    if name in table:
        return name
    if name != "auto":
        raise ValueError(f"metric_profile must be auto, {', '.join(table)}; got {name!r}")
    fallback = ""
    for candidate in [p for p in AUTO_ORDER if p in table] + [p for p in table if p not in AUTO_ORDER]:
        missing = sorted({a for b in table[candidate].values() for a in b.assets if not assets.reachable(a)})
        if not missing:
            if fallback:
                log.warning("metric_profile auto -> %s (%s)", candidate, fallback)
            return candidate
        fallback = fallback or f"{candidate} weights not available: {', '.join(missing)}"
    raise ValueError(f"metric_profile auto: no profile has all its assets ({fallback})")


def metric_settings(profile: str, metrics: list[str] | None,
                    options: dict[str, dict] | None = None) -> dict[str, dict]:
    """``{metric name: constructor kwargs}`` for the requested metrics under a profile; ``options``
    (the config's ``metric_options``, e.g. ``{dwer: {batch_size: 16}}``) adds settings that leave the
    numbers alone, checked against each metric's constructor."""
    table = profiles()[resolve_profile(profile)]
    names = [n for n, b in table.items() if b.default] if metrics is None else metrics
    unknown = [m for m in names if m not in table]
    if unknown:
        raise ValueError(f"metrics {unknown} have no backend in profile {profile!r} (it has {list(table)})")
    options = options or {}
    stray = sorted(set(options) - set(names))
    if stray:
        raise ValueError(f"metric_options for {stray}, which this run does not score with (metrics: {names})")
    for name, extra in options.items():
        clash = sorted(set(extra) & set(table[name].params))
        if clash:
            raise ValueError(f"metric_options.{name}: {clash} are set by profile {profile!r} (they change the numbers)")
        check_keywords(METRICS.get(name).__init__, extra, f"metric_options.{name}")
    return {m: {**table[m].params, **options.get(m, {})} for m in names}


def run_metric_settings(config: Any, profile: str) -> dict[str, dict]:
    """:func:`metric_settings` of a run config (its ``metrics`` and ``metric_options``) under ``profile``."""
    metrics = list(config.metrics) if config.metrics is not None else None
    return metric_settings(profile, metrics, config.metric_options)
