"""Metric profiles: which backend each metric uses.

``paper`` is the papers' stack (UTMOS22-strong, Whisper-small dWER, WavLM-base-SV Sim,
DNSMOS); ``offline`` needs no download (DNSMOS, Whisper-base dWER, GE2E Sim); ``auto``
picks ``paper`` when all its weights are configured locally or downloads are allowed,
``offline`` otherwise, and says so.
"""

from __future__ import annotations

import logging

from bench import assets

log = logging.getLogger(__name__)

PROFILES: dict[str, dict[str, dict]] = {
    "paper": {
        "utmos": {},
        "dnsmos": {},
        "dwer": {"asr": "small"},
        "sim": {"backend": "wavlm-base-sv"},
    },
    "offline": {
        "dnsmos": {},
        "dwer": {"asr": "base"},
        "sim": {"backend": "resemblyzer"},
    },
}
PAPER_ASSETS = ("utmos22-strong", "whisper-small-ct2", "wavlm-base-sv")


def resolve_profile(name: str) -> str:
    """``auto`` -> ``paper`` when its weights are reachable, else ``offline``."""
    if name in PROFILES:
        return name
    if name != "auto":
        raise ValueError(f"metric_profile must be auto, {', '.join(PROFILES)}; got {name!r}")
    missing = [a for a in PAPER_ASSETS if _unavailable(a)]
    if missing:
        log.warning("metric_profile auto -> offline (paper weights not available: %s)", ", ".join(missing))
        return "offline"
    return "paper"


def _unavailable(asset: str) -> bool:
    try:
        if assets.local_path(asset) is not None:
            return False
    except assets.AssetNotFound:
        return True
    # UTMOS has no Hub route; the others can come from the Hub when online.
    return asset == "utmos22-strong" or assets.offline()


def metric_settings(profile: str, metrics: list[str] | None) -> dict[str, dict]:
    """``{metric name: constructor kwargs}`` for the requested metrics under a profile."""
    table = PROFILES[resolve_profile(profile)]
    names = list(table) if metrics is None else metrics
    unknown = [m for m in names if m not in table]
    if unknown:
        raise ValueError(
            f"metrics {unknown} have no backend in profile {profile!r} (it has {list(table)})"
        )
    return {m: dict(table[m]) for m in names}
