"""One place that resolves pretrained weights: a local path, a Hugging Face id, or a package.

Every asset has a name. A user points the harness at a local copy with the config key
``assets: {<name>: /path}`` or the environment variable ``BENCH_ASSET_<NAME>`` (upper case,
``-`` -> ``_``). Hub downloads are attempted only when ``HF_HUB_OFFLINE`` is not set; a
missing asset raises :class:`AssetNotFound` naming the asset, where it comes from and how
to provide it.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path


class AssetNotFound(FileNotFoundError):
    """Weights that are not available here (the message says how to provide them)."""


@dataclass(frozen=True)
class Asset:
    name: str
    source: str  # Hub id, URL or package the weights come from
    description: str
    files: tuple[str, ...] = ()  # files a local folder must contain


ASSETS = {
    a.name: a
    for a in (
        Asset("whisper-small-ct2", "Systran/faster-whisper-small",
              "Whisper-small in CTranslate2 form (paper dWER)", ("model.bin", "config.json")),
        Asset("wavlm-base-sv", "microsoft/wavlm-base-sv",
              "WavLM-base x-vector speaker model (paper Sim)", ("config.json",)),
        Asset("utmos22-strong", "tarepan/SpeechMOS v1.2.0 (torch.hub) + utmos22_strong_step7459_v1.pt",
              "UTMOS22 strong learner (paper UTMOS): a local clone of the SpeechMOS repo "
              "with hubconf.py; its checkpoint in the torch hub cache", ("hubconf.py",)),
    )
}

_overrides: dict[str, str] = {}


def set_overrides(paths: dict[str, str] | None) -> None:
    """Local paths from a run config (``assets:`` section)."""
    _overrides.clear()
    for name, path in (paths or {}).items():
        if name not in ASSETS:
            raise KeyError(f"unknown asset {name!r} in config; known: {', '.join(ASSETS)}")
        _overrides[name] = str(path)


def env_var(name: str) -> str:
    return "BENCH_ASSET_" + name.upper().replace("-", "_")


def offline() -> bool:
    return os.environ.get("HF_HUB_OFFLINE", "0") not in ("", "0", "false", "False")


def local_path(name: str) -> Path | None:
    """The configured local folder of an asset, validated, or None when none is configured."""
    asset = ASSETS[name]
    configured = _overrides.get(name) or os.environ.get(env_var(name))
    if not configured:
        return None
    path = Path(configured).expanduser()
    missing = [f for f in asset.files if not (path / f).exists()]
    if not path.is_dir() or missing:
        raise AssetNotFound(
            f"asset {name!r} ({asset.description}) configured at {path} is incomplete: "
            f"missing {missing or ['the folder itself']}"
        )
    return path


def missing_message(name: str, detail: str = "") -> str:
    asset = ASSETS[name]
    return (
        f"asset {name!r} ({asset.description}) is not available{': ' + detail if detail else ''}. "
        f"It comes from {asset.source}. Download it where you have network, then point the "
        f"harness at the folder with `assets: {{{name}: /path}}` in the config or "
        f"{env_var(name)}=/path; or use `metric_profile: offline`."
    )


def resolve(name: str) -> str:
    """A local folder, or the Hub id when downloads (or the Hub cache) may serve it."""
    path = local_path(name)
    if path is not None:
        return str(path)
    return ASSETS[name].source
