"""Audio made elsewhere (a codec in another language, a TTS or voice-conversion system, a JAX model), scored with
the same protocol as the codecs the harness runs: one file per item, named by its id as rows name it (an utterance
id, ``utt.wav``; a voice-conversion item, ``source->target.wav``), under ``folder``. Its rows are keyed by the
files' content (:meth:`RecordedOutputs.variant_digest`): a changed file is rescored, an unchanged folder reused."""

from __future__ import annotations

import hashlib
from pathlib import Path
from typing import Any

from codecbench.api import AudioError, Capabilities, Codec, Tokens, load_audio, register_codec

SUFFIXES = (".wav", ".flac", ".ogg")


def _files(folder: str | Path) -> dict[str, Path]:
    """``{item id: file}``: every audio file under ``folder``, its id the path below it without the suffix."""
    root = Path(folder).expanduser()
    if not root.is_dir():
        raise FileNotFoundError(f"recorded outputs: folder {str(folder)!r} does not exist")
    found: dict[str, Path] = {}
    for path in sorted(root.rglob("*")):
        if path.suffix.lower() in SUFFIXES and path.is_file():
            item = path.relative_to(root).with_suffix("").as_posix()
            if item in found:
                raise ValueError(f"recorded outputs: two files for item {item!r}: {found[item].name}, {path.name}")
            found[item] = path
    if not found:
        raise ValueError(f"recorded outputs: no {'/'.join(SUFFIXES)} file under {str(folder)!r}")
    return found


@register_codec("recorded")
class RecordedOutputs(Codec):
    """Outputs made elsewhere, read by item id (``codecbench score`` and ``codecbench.score`` use it; in a config:
    ``{name: my-system, codec: recorded, params: {folder: outputs/}}``). No tokens, so no frame rate or bitrate;
    resynthesis and vc score it."""

    capabilities = Capabilities(recorded=True, free_length=True)

    def __init__(self, folder: str) -> None:
        super().__init__()
        self.folder = str(folder)
        self.files = _files(folder)
        self._digest: str | None = None

    @classmethod
    def variant_digest(cls, params: dict[str, Any]) -> str:
        """The digest of every file's name and bytes: the identity of the rows scored from them."""
        digest = hashlib.sha256()
        for item, path in _files(params["folder"]).items():
            digest.update(item.encode() + b"\0" + hashlib.sha256(path.read_bytes()).digest())
        return digest.hexdigest()

    def cache_id(self) -> str:
        if self._digest is None:
            self._digest = self.variant_digest({"folder": self.folder})
        return f"recorded:{self._digest}"

    def recorded_output(self, item: str) -> tuple[Any, int]:
        path = self.files.get(item)
        if path is None:
            raise AudioError(f"no recorded output for {item!r} under {self.folder} (expected {item}.wav)")
        audio = load_audio(path)
        return audio.samples, audio.sample_rate

    def encode(self, wav: Any, lengths: Any) -> Tokens:
        raise NotImplementedError("recorded outputs are read by item id, not encoded")

    def decode(self, tokens: Tokens) -> tuple[Any, Any]:
        raise NotImplementedError("recorded outputs are read by item id, not decoded")
