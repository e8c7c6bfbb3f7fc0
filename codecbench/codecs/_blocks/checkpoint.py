"""Config / weight files of checkpoints in the official DyCAST / FocalCodec format: local folders, local
files (`<stem>.json` + `<stem>.safetensors`), Hugging Face ids."""

from __future__ import annotations

import inspect
import os
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch
from torch import nn

HUB_ID = re.compile(r"[\w\-]+/[\w\-.]+")


@dataclass(frozen=True)
class CheckpointFiles:
    config: str
    weights: str | None
    index: str | None


def _first(*paths: Path) -> str | None:
    return next((str(p) for p in paths if p.is_file()), None)


def resolve_files(config: str, need_weights: bool, **hf_kwargs: Any) -> CheckpointFiles:
    """Find config, weights and FAISS index for a local file, a local folder or a Hub repo.

    Local folders hold ``config.json`` + ``model.safetensors`` (+ ``index.faiss``), as on the
    Hub; a local ``<stem>.json`` also finds ``<stem>.safetensors`` / ``.pt`` / ``.faiss``.
    """
    path = Path(config)
    if path.is_dir():
        cfg = path / "config.json"
        if not cfg.is_file():
            raise FileNotFoundError(f"{path} has no config.json")
        return CheckpointFiles(str(cfg), _first(path / "model.safetensors", path / "model.pt"),
                               _first(path / "index.faiss"))
    json_path = path if path.suffix == ".json" else Path(str(path) + ".json")
    if json_path.is_file():
        stem = json_path.with_suffix("")
        return CheckpointFiles(str(json_path),
                               _first(Path(f"{stem}.safetensors"), Path(f"{stem}.pt"),
                                      json_path.parent / "model.safetensors"),
                               _first(Path(f"{stem}.faiss"), json_path.parent / "index.faiss"))
    return _download(config, need_weights, **hf_kwargs)


def _download(config: str, need_weights: bool, **hf_kwargs: Any) -> CheckpointFiles:
    from codecbench.api import assets

    try:
        from huggingface_hub import hf_hub_download
    except ModuleNotFoundError as err:
        raise FileNotFoundError(f"{config!r} is not a local file or folder, and huggingface_hub is not installed "
                                "to fetch it from the Hub") from err
    if HUB_ID.fullmatch(config):
        repo, cfg_name, stem = config, "config.json", "model"
    else:
        name = config if config.endswith(".json") else config + ".json"
        repo, cfg_name = os.path.dirname(name), os.path.basename(name)
        stem = cfg_name[: -len(".json")]
    kwargs = {"local_files_only": assets.offline(), **hf_kwargs}
    try:
        cfg = hf_hub_download(repo, cfg_name, **kwargs)
        weights = index = None
        if need_weights:
            try:
                weights = hf_hub_download(repo, f"{stem}.safetensors", **kwargs)
            except Exception:  # noqa: BLE001 - the .pt fallback is part of the format
                weights = hf_hub_download(repo, f"{stem}.pt", **kwargs)
            try:
                index = hf_hub_download(repo, f"{stem if stem != 'model' else 'index'}.faiss", **kwargs)
            except Exception:  # noqa: BLE001 - the index is optional
                index = None
    except Exception as err:  # noqa: BLE001 - re-raised with what to do
        raise FileNotFoundError(
            f"could not load checkpoint {config!r} ({type(err).__name__}: {err}). Offline, download "
            f"config.json + model.safetensors (+ index.faiss) of {repo} elsewhere and pass the local folder."
        ) from err
    return CheckpointFiles(cfg, weights, index)


def apply_overrides(config: dict[str, Any], overrides: dict[str, Any] | None) -> dict[str, Any]:
    """Set dotted paths (``"encoder_config.max_cached_steps": 0``) in a config dict."""
    for path, value in (overrides or {}).items():
        node = config
        parts = path.split(".")
        for part in parts[:-1]:
            if not isinstance(node.get(part), dict):
                node[part] = {}
            node = node[part]
        node[parts[-1]] = value
    return config


def load_weights(path: str | None) -> dict[str, torch.Tensor]:
    if path is None:
        raise FileNotFoundError("no weights file (model.safetensors / <stem>.safetensors / .pt) beside the config")
    if path.endswith(".safetensors"):
        from safetensors.torch import load_file

        return load_file(path)
    return torch.load(path, map_location="cpu", weights_only=True)


def save_weights(state: dict[str, torch.Tensor], path: Path) -> None:
    try:
        from safetensors.torch import save_file

        save_file({k: v.contiguous() for k, v in state.items()}, str(path))
    except ModuleNotFoundError:
        torch.save(state, path.with_suffix(".pt"))


def module_config(module: nn.Module) -> dict[str, Any]:
    """Named ``__init__`` arguments read back from the attributes of the same name."""
    config = {}
    for name, param in inspect.signature(type(module).__init__).parameters.items():
        if name == "self" or param.kind in (param.VAR_POSITIONAL, param.VAR_KEYWORD):
            continue
        attr = f"{name}_" if name == "dropout" and isinstance(getattr(module, "dropout", None), nn.Module) else name
        if hasattr(module, attr):
            value = getattr(module, attr)
            config[name] = list(value) if isinstance(value, tuple) else value
    return config


def fetch_file(source: str, filename: str, what: str) -> str:
    """One weights file from a local file, a local folder holding ``filename``, or a Hub repo id.

    Raises :class:`codecbench.assets.AssetNotFound` naming ``what`` and how to provide it.
    """
    from codecbench.api import assets

    path = Path(source).expanduser()
    if path.is_file():
        return str(path)
    if path.is_dir():
        if (path / filename).is_file():
            return str(path / filename)
        raise assets.AssetNotFound(f"{what}: {path} has no {filename}")
    if not HUB_ID.fullmatch(source):
        raise assets.AssetNotFound(f"{what}: {source!r} is neither a local file, a folder nor a Hub id")
    try:
        from huggingface_hub import hf_hub_download

        return hf_hub_download(source, filename, local_files_only=assets.offline())
    except Exception as err:  # noqa: BLE001 - re-raised with what to do
        raise assets.AssetNotFound(
            f"{what}: could not get {filename} from the Hub repo {source} ({type(err).__name__}). Download it "
            f"where you have network and pass the local file or folder instead") from err
