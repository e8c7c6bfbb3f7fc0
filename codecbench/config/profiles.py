"""Metric profiles, built from what each metric declares (``Metric.profiles``).

``paper`` is the papers' stack, ``offline`` needs no download; ``auto`` picks ``paper`` when
every asset its backends need is reachable (configured locally, or the Hub when online) and
``offline`` otherwise, and says so.
"""

from __future__ import annotations

import difflib
import inspect
import logging
from typing import Any

from codecbench import assets
from codecbench.api.metric import Backend
from codecbench.config.runconfig import RunConfig
from codecbench.plugins.registry import METRICS, discover
from codecbench.util.keywords import check_arguments, check_keywords

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


def _output_owners(table: dict[str, Backend]) -> dict[str, str]:
    """``{output name: metric name}`` of the metrics of a profile."""
    return {o.name: name for name in table for o in METRICS.get(name).outputs}


def metric_outputs(profile: str, metrics: list[str] | None) -> dict[str, tuple[str, ...]]:
    """``{metric name: the outputs a run computes and writes}``: a metric's table columns (``in_table``)
    and any output the config names in ``metrics:`` (``dnsmos_ovrl`` brings DNSMOS P.835 back); a metric
    none of whose outputs is a table column gives them all."""
    table = profiles()[resolve_profile(profile)]
    owners = _output_owners(table)
    entries = [n for n, b in table.items() if b.default] if metrics is None else list(metrics)
    named = {e for e in entries if e in owners and e not in table}
    chosen: dict[str, tuple[str, ...]] = {}
    for entry in entries:
        name = entry if entry in table else owners.get(entry)
        if name is None or name in chosen:
            continue
        outputs = METRICS.get(name).outputs
        picked = tuple(o.name for o in outputs if o.in_table or o.name in named)
        chosen[name] = picked or tuple(o.name for o in outputs)
    return chosen


def metric_settings(profile: str, metrics: list[str] | None,
                    options: dict[str, dict] | None = None) -> dict[str, dict]:
    """``{metric name: constructor kwargs}`` for the requested metrics under a profile; ``options``
    (the config's ``metric_options``, e.g. ``{dwer: {batch_size: 16}}``) adds settings that leave the
    numbers alone, checked against each metric's constructor. ``metrics`` may name outputs
    (``dnsmos_ovrl``) as well as metrics; a metric whose constructor takes ``outputs`` is told which of
    its outputs the run writes (:func:`metric_outputs`), so it computes nothing else."""
    table = profiles()[resolve_profile(profile)]
    owners = _output_owners(table)
    entries = [n for n, b in table.items() if b.default] if metrics is None else metrics
    unknown = [m for m in entries if m not in table and m not in owners]
    if unknown:
        raise ValueError(f"metrics {unknown} have no backend in profile {profile!r} (it has {list(table)}; "
                         "an output name such as dnsmos_ovrl also works)")
    selected = metric_outputs(profile, list(entries))
    names = list(selected)
    options = options or {}
    for name in options:
        if name not in names:
            close = difflib.get_close_matches(str(name), names or list(table), n=1)
            hint = f"; did you mean {close[0]!r}?" if close else ""
            raise ValueError(f"metric_options.{name}: a metric this run does not score with{hint} "
                             f"(metrics: {', '.join(names) or 'none'})")
    for name, extra in options.items():
        check_tunable(name, extra, table[name].params, profile)
    settings = {m: {**table[m].params, **options.get(m, {})} for m in names}
    for name in names:
        if "outputs" in inspect.signature(METRICS.get(name).__init__).parameters:
            settings[name]["outputs"] = list(selected[name])
    return settings


def check_tunable(name: str, given: dict[str, Any], fixed: dict[str, Any], profile: str) -> None:
    """``metric_options.<name>``: only the settings the metric declares :attr:`~codecbench.api.metric.Metric.tunable`
    (they
    leave its numbers alone, so they are no part of any key), each of its annotated type and range; the profile's
    settings and the others change the numbers and are refused."""
    cls = METRICS.get(name)
    where = f"metric_options.{name}"
    check_keywords(cls.__init__, given, where)
    for key in given:
        if key in fixed or key not in cls.tunable:
            raise ValueError(f"{where}.{key}: set by profile {profile!r} or the run, not here: it would change the "
                             f"numbers under the same key (settable here: {', '.join(cls.tunable) or 'none'})")
    check_arguments(cls.__init__, given, where)


def run_metric_settings(config: RunConfig, profile: str) -> dict[str, dict]:
    """:func:`metric_settings` of a run config (its ``metrics`` and ``metric_options``) under ``profile``."""
    metrics = list(config.metrics) if config.metrics is not None else None
    return metric_settings(profile, metrics, config.metric_options)


def run_metric_outputs(config: RunConfig, profile: str) -> dict[str, tuple[str, ...]]:
    """:func:`metric_outputs` of a run config under ``profile``."""
    return metric_outputs(profile, list(config.metrics) if config.metrics is not None else None)
