"""Load checks of local asset copies (``codecbench assets verify``), in two steps:

1. every file is opened by its format (JSON, YAML, safetensors headers, torch files with ``weights_only``, ONNX,
   FAISS, Kaldi ``am.mvn``), so corruption (random bytes, a truncated download, an HTML error page saved as a
   checkpoint) is found; a location that is no regular file or folder, an empty folder or a folder without a file
   of a known format is a failure;
2. the asset is then loaded by the plugin that uses it, the way it does in a run (:func:`load_like_users`): the
   plugin is built with the asset pointed at the copy, on PyTorch's ``meta`` device (no memory for the weights),
   so tensors of the wrong names or shapes for the architecture, or an unreadable config, fail as they would in
   a run. A plugin may define ``verify_asset(name, path) -> str`` for assets its constructor does not load alone.

Nothing is executed: torch files load with ``weights_only=True``, pickles that need more are reported, never
unpickled."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path

#: suffixes of files a check opens (other files are only required to exist)
CHECKED_SUFFIXES = (".json", ".safetensors", ".pt", ".pth", ".ckpt", ".onnx", ".faiss", ".yaml", ".yml", ".mvn")


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


def _yaml(path: Path) -> str:
    from codecbench.util.yamlfile import load_yaml

    data = load_yaml(path.read_text(encoding="utf-8"), str(path))
    if not isinstance(data, (dict, list)):
        raise ValueError(f"holds a {type(data).__name__}, not a mapping or list")
    return "yaml"


def _kaldi_mvn(path: Path) -> str:
    """A Kaldi nnet ``am.mvn``: an ``<AddShift>`` and a ``<Rescale>`` row of numbers of one width."""
    text = path.read_text(encoding="utf-8")
    rows = {}
    for tag in ("<AddShift>", "<Rescale>"):
        at = text.find(tag)
        start, end = text.find("[", at), text.find("]", at)
        if at < 0 or start < 0 or end < start:
            raise ValueError(f"no {tag} row")
        rows[tag] = [float(x) for x in text[start + 1:end].split()]
    widths = {len(v) for v in rows.values()}
    if len(widths) != 1 or not widths.pop():
        raise ValueError("the <AddShift> and <Rescale> rows differ in width or are empty")
    return f"kaldi cmvn ({len(rows['<AddShift>'])} dims)"


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
    ".onnx": _onnx, ".faiss": _faiss, ".yaml": _yaml, ".yml": _yaml, ".mvn": _kaldi_mvn,
}
FOLDER_LOADERS: dict[str, Callable[[Path], str]] = {"ctranslate2": _ctranslate2}


def _first_line(err: BaseException) -> str:
    return (str(err).strip().splitlines() or [""])[0][:200]


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
    if not location.is_file() and not location.is_dir():
        raise AssetCorrupt(f"{location} is neither a regular file nor a folder")
    if kind is not None and not location.is_dir():
        raise AssetCorrupt(f"{location} is a file; a {kind} asset is a folder")
    if location.is_dir() and not any(p.is_file() for p in location.rglob("*")):
        raise AssetCorrupt(f"{location} is an empty folder")
    if location.is_dir() and not files_to_check(location) and kind is None:
        raise AssetCorrupt(f"{location} holds no file of a format the harness loads ({', '.join(CHECKED_SUFFIXES)})")
    loaded = []
    for path in files_to_check(location):
        loader = LOADERS.get(path.suffix, _torch)
        name = path.name if location.is_file() else str(path.relative_to(location))
        try:
            loaded.append(f"{name}: {loader(path)}")
        except ModuleNotFoundError as err:
            loaded.append(f"{name}: not opened ({err.name} is not installed here)")
        except Exception as err:  # noqa: BLE001 - every loader error means a file that does not load
            raise AssetCorrupt(f"{path} does not load ({type(err).__name__}: {_first_line(err)})") from err
    if kind is not None and location.is_dir():
        try:
            loaded.append(f"{location.name}: {FOLDER_LOADERS[kind](location)}")
        except ModuleNotFoundError as err:
            loaded.append(f"{location.name}: not opened ({err.name} is not installed here)")
        except Exception as err:  # noqa: BLE001
            raise AssetCorrupt(f"{location} does not load as {kind} ({type(err).__name__}: "
                               f"{_first_line(err)})") from err
    return loaded


def load_transformers(model_class: str, location: Path, processor: bool = False) -> str:
    """A transformers model folder loaded as its plugin loads it (``from_pretrained``, local files only, on the
    CPU), failing on any missing, unexpected or mismatched weight (transformers would only warn and initialise
    them randomly); with ``processor``, its ``AutoProcessor`` too."""
    import transformers

    cls = getattr(transformers, model_class)
    _, info = cls.from_pretrained(str(location), local_files_only=True, output_loading_info=True)
    problems = {k: list(v)[:3] for k, v in info.items() if v and k in ("missing_keys", "unexpected_keys",
                                                                      "mismatched_keys", "error_msgs")}
    if problems:
        raise ValueError(f"{model_class} does not fit the weights: {problems}")
    if processor:
        transformers.AutoProcessor.from_pretrained(str(location), local_files_only=True)
    return f"{model_class} loads with every weight"
