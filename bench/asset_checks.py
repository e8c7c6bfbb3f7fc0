"""Load checks of local asset copies (``bench assets verify``): every weight or config file is opened the
way its user opens it, so corruption (random bytes, a truncated download, an HTML error page saved as a
checkpoint) is found before a run, not in the middle of one. Nothing is executed: torch files load with
``weights_only=True``, pickles that need more are reported, never unpickled."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path

#: suffixes of files a check opens (other files are only required to exist)
CHECKED_SUFFIXES = (".json", ".safetensors", ".pt", ".pth", ".ckpt", ".onnx", ".faiss")


class AssetCorrupt(ValueError):
    """A local asset file that does not load."""


def _json(path: Path) -> str:
    json.loads(path.read_text(encoding="utf-8"))
    return "json"


def _safetensors(path: Path) -> str:
    from safetensors import safe_open

    with safe_open(str(path), framework="pt") as handle:  # the header is checked against the file's size
        names = list(handle.keys())
        for name in names:
            handle.get_slice(name).get_shape()
    return f"safetensors ({len(names)} tensors)"


def _torch(path: Path) -> str:
    import pickle

    import torch

    try:
        state = torch.load(path, map_location="cpu", weights_only=True, mmap=True)
    except pickle.UnpicklingError as err:
        if "Unsupported global" in str(err) or "weights_only" in str(err):
            return "torch (holds pickled objects: intact, loaded only where its plugin trusts it)"
        raise
    except RuntimeError as err:  # mmap needs the zip format; an old-format file loads without it
        if "mmap" not in str(err):
            raise
        state = torch.load(path, map_location="cpu", weights_only=True)
    count = len(state) if isinstance(state, dict) else 1
    return f"torch ({count} entries)"


def _onnx(path: Path) -> str:
    import onnxruntime as ort

    ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    return "onnx"


def _faiss(path: Path) -> str:
    import faiss

    index = faiss.read_index(str(path))
    return f"faiss ({index.ntotal} vectors)"


def _ctranslate2(folder: Path) -> str:
    import ctranslate2

    ctranslate2.models.Whisper(str(folder), device="cpu", compute_type="float32")
    return "ctranslate2 whisper"


LOADERS: dict[str, Callable[[Path], str]] = {
    ".json": _json, ".safetensors": _safetensors, ".pt": _torch, ".pth": _torch, ".ckpt": _torch,
    ".onnx": _onnx, ".faiss": _faiss,
}
FOLDER_LOADERS: dict[str, Callable[[Path], str]] = {"ctranslate2": _ctranslate2}


def files_to_check(location: Path) -> list[Path]:
    """The files of a location a check opens: the file itself, or a folder's files of known formats
    (``pytorch_model.bin`` included), hidden files and caches left out."""
    if location.is_file():
        return [location]
    found = []
    for path in sorted(location.rglob("*")):
        if not path.is_file() or any(part.startswith(".") for part in path.relative_to(location).parts):
            continue
        if path.suffix in CHECKED_SUFFIXES or path.name == "pytorch_model.bin":
            found.append(path)
    return found


def check_location(location: Path, kind: str | None = None) -> list[str]:
    """What each file of a local asset loaded as (``["config.json: json", ...]``); :class:`AssetCorrupt`
    naming the first file that does not load. ``kind`` names a whole-folder format (``ctranslate2``)."""
    loaded = []
    for path in files_to_check(location):
        loader = LOADERS.get(path.suffix, _torch)
        name = path.name if location.is_file() else str(path.relative_to(location))
        try:
            loaded.append(f"{name}: {loader(path)}")
        except ModuleNotFoundError as err:
            loaded.append(f"{name}: not opened ({err.name} is not installed here)")
        except Exception as err:  # noqa: BLE001 - every loader error means a file that does not load
            raise AssetCorrupt(f"{path} does not load ({type(err).__name__}: {str(err).splitlines()[0][:200]})"
                               ) from err
    if kind is not None and location.is_dir():
        try:
            loaded.append(f"{location.name}: {FOLDER_LOADERS[kind](location)}")
        except ModuleNotFoundError as err:
            loaded.append(f"{location.name}: not opened ({err.name} is not installed here)")
        except Exception as err:  # noqa: BLE001
            raise AssetCorrupt(f"{location} does not load as {kind} ({type(err).__name__}: "
                               f"{str(err).splitlines()[0][:200]})") from err
    return loaded
