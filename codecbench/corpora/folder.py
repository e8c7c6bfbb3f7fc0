"""``folder``: any folder of audio files (recursive, symlinked folders followed); transcripts from a sidecar
``.txt`` beside each file, speakers from the parent folder name."""

from __future__ import annotations

import logging
import os
from pathlib import Path

from codecbench.api import Utterance, register_dataset

log = logging.getLogger(__name__)
AUDIO_SUFFIXES = (".wav", ".flac", ".ogg", ".mp3", ".opus", ".aiff", ".aif", ".au")


def _read_text(path: Path) -> str | None:
    """A sidecar transcript; one that is not UTF-8 is left out with a warning naming it."""
    if not path.is_file():
        return None
    try:
        return path.read_text(encoding="utf-8").strip()
    except UnicodeDecodeError as err:
        log.warning("transcript %s is not UTF-8 (%s): utterance kept without text", path, err)
        return None


def _audio_files(root: Path) -> list[Path]:
    """Audio files under ``root``, following symlinked folders (each real folder once: no loops);
    what is skipped is said."""
    found: list[Path] = []
    seen: set[tuple[int, int]] = set()
    for folder, dirs, files in os.walk(root, followlinks=True):
        stat = os.stat(folder)
        if (stat.st_dev, stat.st_ino) in seen:
            log.warning("%s: already visited through another path (symlink loop?): skipped", folder)
            dirs[:] = []
            continue
        seen.add((stat.st_dev, stat.st_ino))
        for name in dirs:
            if Path(name).suffix.lower() in AUDIO_SUFFIXES:
                log.warning("%s is a folder named like an audio file: searched as a folder", Path(folder) / name)
        for name in files:
            path = Path(folder) / name
            if path.suffix.lower() not in AUDIO_SUFFIXES:
                continue
            if not path.is_file():
                log.warning("%s: not a regular file (broken link?): skipped", path)
                continue
            found.append(path)
    return sorted(found)


@register_dataset("folder")
def load_folder(root: str | Path) -> list[Utterance]:
    """Every audio file under ``root`` (symlinked folders followed); ``x.txt`` beside ``x.wav`` is its
    transcript. Ids are relative paths without the extension (with it where two files share a stem)."""
    root = Path(root)
    files = _audio_files(root)
    stems: dict[str, int] = {}
    for path in files:
        stem = path.relative_to(root).with_suffix("").as_posix()
        stems[stem] = stems.get(stem, 0) + 1
    utts = []
    for path in files:
        rel = path.relative_to(root)
        stem = rel.with_suffix("").as_posix()
        speaker = path.parent.name if path.parent != root else None
        utts.append(
            Utterance(
                utt_id=stem if stems[stem] == 1 else rel.as_posix(),
                path=path,
                speaker=speaker,
                text=_read_text(path.with_suffix(".txt")),
            )
        )
    return utts
