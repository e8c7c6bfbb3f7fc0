"""One asset layer for every pretrained thing: codec checkpoints and metric models.

Plugins declare their assets (``assets = (Asset(...),)`` on the class); the registry collects
them. :func:`locate` resolves an asset, first match wins:

1. an explicit location (a codec's ``params.checkpoint``),
2. the run config's ``assets: {<name>: /path}``,
3. the environment variable ``CODECBENCH_ASSET_<NAME>`` (upper case; ``-`` and ``.`` -> ``_``),
4. a copy fetched earlier by ``codecbench assets fetch`` (``$CODECBENCH_CACHE/assets/<name>``),
5. the asset's Hub id or download URL, when downloads are allowed (``HF_HUB_OFFLINE`` unset).

The answer says where the files are (a local path or a Hub id) or that the asset is absent.
:meth:`Asset.weights_or_random`'s caller builds the real architecture with seeded random
weights when absent: the warning and the table flag live here, once. :func:`require` raises
:class:`AssetNotFound` naming the asset, where it comes from and how to provide it.
"""

from __future__ import annotations

import contextlib
import inspect
import logging
import os
import re
import warnings
from collections.abc import Iterator
from dataclasses import dataclass
from enum import Enum
from pathlib import Path
from typing import Any

from codecbench.assets.checks import AssetCorrupt, check_location
from codecbench.plugins.registry import CODECS, METRICS, add_registration_hook, discover

log = logging.getLogger(__name__)
HUB_ID = re.compile(r"[\w\-]+/[\w\-.]+")


class AssetNotFound(FileNotFoundError):
    """Weights that are not available here (the message says how to provide them)."""


@dataclass(frozen=True)
class Asset:
    """A pretrained file or folder a plugin may load."""

    name: str
    description: str
    source: str  # where it comes from, in words: Hub id + files, URL, package
    hub_id: str | None = None  # handed to the loader when online and nothing local is configured
    files: tuple[str, ...] = ()  # what a local folder must hold
    url: str | None = None  # a direct download (e.g. a release asset), used when online
    licence: str = ""
    size: str = ""  # approximate download size, e.g. "1.1 GB"
    sha256: str | None = None  # of the main file, where known
    check: str | None = None  # a whole-folder format `codecbench assets verify` loads it as (e.g. "ctranslate2")


#: a file in an asset folder that says its weights are random (written by tools that build random-weight
#: stand-ins of the real architectures, e.g. for offline smoke runs of the paper profile): rows are flagged
RANDOM_MARKER = "RANDOM_WEIGHTS"


@dataclass(frozen=True)
class Resolved:
    """Where an asset was found: ``location`` (local path or Hub id) and by which route."""

    asset: str
    location: str | None
    origin: str  # "params", "config", "env", "fetched", "hub", "url" or "absent"

    @property
    def absent(self) -> bool:
        return self.location is None

    @property
    def random(self) -> bool:
        """Absent, or a local folder marked with :data:`RANDOM_MARKER`."""
        return self.location is None or (Path(self.location) / RANDOM_MARKER).is_file()

    def weights_id(self, random_detail: str = "") -> str:
        """Identifies the weights behind the numbers: the location, or the random-weights recipe."""
        if self.location is not None:
            return self.location
        return f"random:{self.asset}{':' + random_detail if random_detail else ''}"


_CATALOGUE: dict[str, Asset] = {}
_overrides: dict[str, str] = {}
_warned: set[str] = set()


def declare(*items: Asset) -> None:
    """Add plugin assets to the catalogue (the registry calls this for every plugin class)."""
    for asset in items:
        known = _CATALOGUE.get(asset.name)
        if known is not None and known != asset:
            raise ValueError(f"asset {asset.name!r} is declared twice, differently: {known} vs {asset}")
        _CATALOGUE[asset.name] = asset


def _declare_plugin_assets(kind: str, plugin: Any) -> None:
    """Registration hook: a plugin class's ``assets`` (a tuple of :class:`Asset`) join the catalogue."""
    declared = getattr(plugin, "assets", ())
    if isinstance(declared, tuple) and all(isinstance(a, Asset) for a in declared):
        declare(*declared)


add_registration_hook(_declare_plugin_assets)


def catalogue() -> dict[str, Asset]:
    """Every declared asset (plugins are discovered first)."""
    discover()
    return dict(sorted(_CATALOGUE.items()))


def get(name: str) -> Asset:
    if name not in _CATALOGUE:
        catalogue()
    if name not in _CATALOGUE:
        raise KeyError(f"unknown asset {name!r}; known: {', '.join(sorted(_CATALOGUE))}")
    return _CATALOGUE[name]


@contextlib.contextmanager
def overridden(paths: dict[str, str]) -> Iterator[None]:
    """These asset locations, on top of the current overrides, for the ``with`` block only."""
    saved = dict(_overrides)
    _overrides.update(paths)
    try:
        yield
    finally:
        _overrides.clear()
        _overrides.update(saved)


def set_overrides(paths: dict[str, str] | None) -> None:
    """Local paths from a run config (``assets:`` section); unknown names are errors."""
    known = catalogue()
    _overrides.clear()
    for name, path in (paths or {}).items():
        if name not in known:
            raise KeyError(f"unknown asset {name!r} in config; known: {', '.join(known)}")
        _overrides[name] = str(path)


def env_var(name: str) -> str:
    """``CODECBENCH_ASSET_<NAME>``: upper case, ``-`` and ``.`` become ``_``."""
    return "CODECBENCH_ASSET_" + re.sub(r"[-.]", "_", name.upper())


def offline() -> bool:
    return os.environ.get("HF_HUB_OFFLINE", "0") not in ("", "0", "false", "False")


def _checked(asset: Asset, value: str, origin: str) -> str:
    """A configured location: an existing local path (folders must hold the asset's files) or a Hub id."""
    path = Path(value).expanduser()
    if path.exists():
        missing = [f for f in asset.files if not (path / f).exists()] if path.is_dir() else []
        if missing:
            raise AssetNotFound(f"asset {asset.name!r} ({asset.description}) configured at {path} ({origin}) "
                                f"is incomplete: missing {missing}")
        return str(path)
    if HUB_ID.fullmatch(value) and not value.startswith((".", "/", "~")):
        return value
    raise AssetNotFound(f"asset {asset.name!r} ({asset.description}) configured at {path} ({origin}), "
                        "which does not exist")


def locate(name: str, explicit: str | None = None) -> Resolved:
    """Resolve an asset by the routes of the module docstring; never downloads by itself."""
    asset = get(name)
    for value, origin in ((explicit, "params"), (_overrides.get(name), "config"),
                          (os.environ.get(env_var(name)), "env")):
        if value:
            return Resolved(name, _checked(asset, str(value), origin), origin)
    fetched = fetched_path(name)
    if fetched.is_dir() and any(fetched.iterdir()):
        return Resolved(name, str(fetched), "fetched")
    if asset.hub_id and not offline():
        return Resolved(name, asset.hub_id, "hub")
    if asset.url and not offline():
        return Resolved(name, asset.url, "url")
    return Resolved(name, None, "absent")


def fetched_path(name: str) -> Path:
    """Where ``codecbench assets fetch`` puts an asset."""
    from codecbench.util.paths import cache_dir

    return cache_dir() / "assets" / name


def fetch(name: str) -> Path:
    """Download an asset into :func:`fetched_path` (online only): a Hub snapshot, or its URL with the
    sha256 checked when declared. Returns the folder."""
    asset = get(name)
    if offline():
        raise AssetNotFound(f"asset {name!r}: downloads are off (HF_HUB_OFFLINE is set); fetch it where you have "
                            f"network (`codecbench assets fetch {name}`) or point {env_var(name)} at a local copy")
    target = fetched_path(name)
    partial = target.with_name(target.name + ".partial")
    partial.mkdir(parents=True, exist_ok=True)
    if asset.hub_id:
        from huggingface_hub import snapshot_download

        snapshot_download(asset.hub_id, local_dir=str(partial))
    elif asset.url:
        import torch

        filename = asset.url.rsplit("/", 1)[-1]
        torch.hub.download_url_to_file(asset.url, str(partial / filename), progress=True)
        if asset.sha256 and sha256_of(partial / filename) != asset.sha256:
            raise AssetNotFound(f"asset {name!r}: {filename} does not match its declared sha256")
    else:
        raise AssetNotFound(f"asset {name!r} has no download route: it comes from {asset.source}; "
                            f"get it there and set {env_var(name)}=/path")
    if target.exists():
        import shutil

        shutil.rmtree(target)
    partial.replace(target)
    return target


def sha256_of(path: Path) -> str:
    import hashlib

    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for block in iter(lambda: handle.read(1 << 22), b""):
            digest.update(block)
    return digest.hexdigest()


class AssetStatus(str, Enum):
    """What ``codecbench assets verify`` found of an asset."""

    OK = "ok"  # every file loaded the way its user loads it
    ABSENT = "absent"  # no copy configured (its user runs random weights or fails)
    REMOTE = "remote"  # only a Hub id / URL here
    PROBLEM = "PROBLEM"  # the local copy is incomplete, differs or does not load


@dataclass(frozen=True)
class AssetCheck:
    """:func:`verify`'s verdict: a status and what was loaded or what is wrong."""

    status: AssetStatus
    detail: str = ""

    def __str__(self) -> str:
        if self.status is AssetStatus.PROBLEM:
            return f"PROBLEM: {self.detail}"
        return f"{self.status.value} ({self.detail})" if self.detail else self.status.value


def verify(name: str) -> AssetCheck:
    """``ok`` (every file loaded, listed), ``absent``, ``remote`` (only a Hub id / URL here) or ``PROBLEM`` with
    what is wrong with the local copy: a missing file, a sha256 that differs, a file that does not load the way its
    user loads it (:mod:`codecbench.assets.checks`)."""
    try:
        found = locate(name)
    except AssetNotFound as err:
        return AssetCheck(AssetStatus.PROBLEM, str(err))
    if found.location is None:
        return AssetCheck(AssetStatus.ABSENT)
    if found.origin in ("hub", "url"):
        return AssetCheck(AssetStatus.REMOTE)
    path, asset = Path(found.location), get(name)
    missing = [f for f in asset.files if path.is_dir() and not (path / f).exists()]
    if missing:
        return AssetCheck(AssetStatus.PROBLEM, f"{path} lacks {missing}")
    main = path / asset.files[0] if path.is_dir() and asset.files else path
    if asset.sha256 and main.is_file() and sha256_of(main) != asset.sha256:
        return AssetCheck(AssetStatus.PROBLEM, f"{main} does not match its declared sha256")
    try:
        loaded = check_location(path, asset.check)
        loaded += load_like_users(name, path)
    except AssetCorrupt as err:
        return AssetCheck(AssetStatus.PROBLEM, str(err))
    return AssetCheck(AssetStatus.OK, "; ".join(loaded))


def local_path(name: str) -> Path | None:
    """The configured local copy of an asset, or None when none is configured (Hub ids excluded)."""
    found = locate(name)
    if found.location is None or found.origin in ("hub", "url") or not Path(found.location).exists():
        return None
    return Path(found.location)


def missing_message(name: str, detail: str = "") -> str:
    asset = get(name)
    return (
        f"asset {name!r} ({asset.description}) is not available{': ' + detail if detail else ''}. "
        f"It comes from {asset.source}. Download it where you have network, then point the "
        f"harness at it with `assets: {{{name}: /path}}` in the config or {env_var(name)}=/path"
        f"{f', or run `codecbench assets fetch {name}` online' if asset.hub_id or asset.url else ''}"
        f"{'; or use `metric_profile: offline`' if asset.name in _metric_assets() else ''}."
    )


def _metric_assets() -> set[str]:
    return {a.name for _, cls in METRICS.items() for a in getattr(cls, "assets", ())}


def require(name: str, explicit: str | None = None) -> str:
    """The asset's location; offline, its Hub id still (the loader, told ``local_files_only``, may
    find it in the Hugging Face cache); :class:`AssetNotFound` saying how to provide it otherwise."""
    found = locate(name, explicit)
    if found.location is not None:
        return found.location
    hub_id = get(name).hub_id
    if hub_id:
        return hub_id
    raise AssetNotFound(missing_message(name, "nothing configured"))


def reachable(name: str) -> bool:
    """Whether :func:`require` would give a location (a configured copy, or the Hub when online)."""
    try:
        return locate(name).location is not None
    except AssetNotFound:
        return False


def weights_or_random(name: str, explicit: str | None, owner: str) -> Resolved:
    """The asset's location, or absent with one warning: the caller then builds random weights."""
    found = locate(name, explicit)
    if found.absent and owner + "\0" + name not in _warned:
        _warned.add(owner + "\0" + name)
        asset = get(name)
        log.warning("%s: no weights (params.checkpoint, `assets: {%s: ...}` or %s; official: %s): "
                    "RANDOM weights of the real architecture, flagged in every table",
                    owner, name, env_var(name), asset.source)
    return found


@contextlib.contextmanager
def _quiet() -> Iterator[None]:
    """Warnings and log records below ERROR silenced (building on the meta device warns once per tensor)."""
    root = logging.getLogger()
    level = root.level
    root.setLevel(logging.ERROR)
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            yield
    finally:
        root.setLevel(level)


def asset_users(name: str) -> list[tuple[str, str, type, dict[str, Any]]]:
    """``(kind, registry name, class, params)`` of every installed plugin that loads the asset ``name``: codec
    variants whose params make them load it, metrics with a profile whose backend needs it."""
    discover()
    users: list[tuple[str, str, type, dict[str, Any]]] = []
    for entry, variant in CODECS.items():
        params = dict(variant.params)
        declared = variant.cls.variant_assets(params) if hasattr(variant.cls, "variant_assets") else variant.cls.assets
        if any(a.name == name for a in declared):
            users.append(("codec", entry, variant.cls, params))
    for entry, cls in METRICS.items():
        for backend in cls.profiles.values():
            if name in backend.assets:
                users.append(("metric", entry, cls, dict(backend.params)))
                break
    return users


def load_like_users(name: str, location: Path) -> list[str]:
    """Load the asset at ``location`` the way the first plugin that uses it does (:func:`asset_users`): its
    ``verify_asset(name, path)`` where it defines one, else the plugin built on the ``meta`` device with the asset
    pointed at ``location``. :class:`AssetCorrupt` when that fails; an empty list when no installed plugin uses it."""
    import torch

    users = asset_users(name)
    if not users or get(name).check is not None:  # a whole-folder format: its loader above is the user's
        return []
    kind, entry, cls, params = users[0]
    try:
        hook = getattr(cls, "verify_asset", None)
        if hook is not None:
            with _quiet():
                detail = hook(name, location)
            if detail:
                return [f"{entry}: {detail}"]
        if "device" in inspect.signature(cls).parameters:
            params = {**params, "device": "meta"}
        with overridden({name: str(location)}), torch.device("meta"), _quiet():
            cls(**params)
    except ModuleNotFoundError as err:
        return [f"{entry}: not loaded ({err.name} is not installed here)"]
    except Exception as err:  # noqa: BLE001 - anything the plugin raises means the copy does not load for it
        first = " ".join(line.strip() for line in str(err).strip().splitlines()[:2])[:300]
        raise AssetCorrupt(f"{location} does not load as {kind} {entry!r} loads it ({type(err).__name__}: {first})"
                           ) from err
    return [f"{entry}: loads as the {kind} loads it (names and shapes checked)"]
