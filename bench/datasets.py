"""Dataset manifests: a list of utterances read from a local root.

Formats (registered in :data:`bench.registry.DATASETS`):

* ``folder``: any folder of audio files (recursive); transcripts from a sidecar ``.txt``
  beside each file, speakers from the parent folder name.
* ``manifest``: a CSV with at least ``file`` (relative to the CSV's folder or its
  ``clips/`` sub-folder); optional ``utt_id``, ``speaker_id``, ``transcript``,
  ``language``, ``condition``, ``parallel_group``, ``use`` (the ``../shared/data`` format).
* ``librispeech``: the LibriSpeech layout (``speaker/chapter/*.flac`` + ``*.trans.txt``).
* ``iemocap``: IEMOCAP (``Session{1..5}/dialog/EmoEvaluation`` + ``sentences/wav``), 4 emotions (``exc`` dropped).
* ``quickstart``: the synthetic eSpeak NG corpus, built on first use.
"""

from __future__ import annotations

import csv
import logging
import os
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from .keywords import check_keywords
from .registry import register_dataset

log = logging.getLogger(__name__)
AUDIO_SUFFIXES = (".wav", ".flac", ".ogg", ".mp3", ".opus", ".aiff", ".aif", ".au")


@dataclass(frozen=True)
class Utterance:
    """One utterance of a dataset manifest."""

    utt_id: str
    path: Path
    speaker: str | None = None
    text: str | None = None
    language: str = "en"
    condition: str = "clean"
    parallel_group: str | None = None
    labels: dict[str, str] = field(default_factory=dict)
    # The clean recording intrusive metrics compare with when ``path`` is a noisy mixture (VoiceBank's
    # clean_testset_wav, Libri1Mix's s1); None: the input itself.
    reference_path: Path | None = None


@dataclass(frozen=True)
class DatasetSpec:
    """Which dataset to load and how to filter it (one entry of a run config)."""

    name: str
    format: str
    root: str | None = None
    ids: tuple[str, ...] | None = None
    limit: int | None = None
    options: dict = field(default_factory=dict)


Loader = Callable[..., list[Utterance]]


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


@register_dataset("manifest")
def load_manifest(root: str | Path, manifest: str = "manifest.csv") -> list[Utterance]:
    """A CSV manifest (the ``../shared/data`` format); rows with ``use=no_asr`` keep no text; an optional
    ``reference_file`` column names a noisy row's clean recording (relative to the manifest)."""
    root = Path(root)
    csv_path = root / manifest if root.is_dir() else root
    base = csv_path.parent
    utts = []
    with open(csv_path, newline="", encoding="utf-8") as handle:
        for row in csv.DictReader(handle):
            rel = row["file"]
            path = base / rel
            if not path.exists() and (base / "clips" / rel).exists():
                path = base / "clips" / rel
            text = row.get("transcript") or None
            if row.get("use", "all") == "no_asr":
                text = None
            utts.append(
                Utterance(
                    utt_id=row.get("utt_id") or Path(rel).stem,
                    path=path,
                    speaker=row.get("speaker_id") or None,
                    text=text,
                    language=row.get("language") or "en",
                    condition=row.get("condition") or "clean",
                    parallel_group=row.get("parallel_group") or None,
                    labels={k: row[k] for k in ("corpus", "gender") if row.get(k)},
                    reference_path=base / row["reference_file"] if row.get("reference_file") else None,
                )
            )
    return utts


@register_dataset("librispeech")
def load_librispeech(root: str | Path, subsets: list[str] | None = None) -> list[Utterance]:
    """LibriSpeech layout: ``<root>/<speaker>/<chapter>/<id>.flac`` + ``<spk>-<ch>.trans.txt``; ``subsets``
    (e.g. ``[train-clean-100, train-clean-360]``) reads only those folders of the root."""
    root = Path(root)
    if subsets:
        missing = [s for s in subsets if not (root / s).is_dir()]
        if missing:
            raise FileNotFoundError(f"LibriSpeech root {root} lacks the expected sub-folder(s) {missing}")
    utts = []
    files = [t for s in subsets for t in sorted((root / s).rglob("*.trans.txt"))] if subsets else \
        sorted(root.rglob("*.trans.txt"))
    for trans in files:
        for line in trans.read_text(encoding="utf-8").splitlines():
            if not line.strip():
                continue
            utt_id, _, text = line.partition(" ")
            audio = trans.parent / f"{utt_id}.flac"
            subset = next((p.name for p in trans.parents if p.name.split("-")[0] in ("train", "dev", "test")), "")
            utts.append(
                Utterance(utt_id=utt_id, path=audio, speaker=utt_id.split("-")[0], text=text.strip(),
                          labels={"subset": subset} if subset else {})
            )
    return utts


IEMOCAP_CLASSES = ("sad", "hap", "ang", "neu")  # lucadellalib/audiocodecs hparams/datasets/iemocap.yaml `emotions`


@register_dataset("iemocap")
def load_iemocap(root: str | Path, merge_excited: bool = False) -> list[Utterance]:
    """IEMOCAP, four classes (sad / hap / ang / neu); split: sessions 1-4 train, session 5 female speakers
    valid (5F), session 5 male speakers test (5M).

    As the authors' harness (lucadellalib/audiocodecs ``downstream/datasets/iemocap.py``, ``prepare_data``:
    turns whose label is not in ``emotions`` are dropped; a session-5 turn belongs to 5F or 5M by the first
    letter of its own suffix, ``Ses05M_impro01_F003`` -> F): ``exc`` is dropped. ``merge_excited=True``
    counts ``exc`` as ``hap`` (a common SER convention, not the paper's)."""
    root = Path(root)
    utts = []
    for session in range(1, 6):
        for evaluation in sorted((root / f"Session{session}" / "dialog" / "EmoEvaluation").glob("*.txt")):
            for line in evaluation.read_text(encoding="utf-8", errors="replace").splitlines():
                if not line.startswith("["):
                    continue
                parts = line.split("\t")
                if len(parts) < 3:
                    continue
                turn, emotion = parts[1].strip(), parts[2].strip()
                label = "hap" if emotion == "exc" and merge_excited else emotion
                if label not in IEMOCAP_CLASSES:
                    continue
                gender = turn.rsplit("_", 1)[-1][:1]
                split = "train" if session < 5 else ("valid" if gender == "F" else "test")
                wav = root / f"Session{session}" / "sentences" / "wav" / evaluation.stem / f"{turn}.wav"
                utts.append(Utterance(utt_id=turn, path=wav, speaker=f"Ses{session:02d}{gender}",
                                      labels={"emotion": label, "split": split}))
    return utts


@register_dataset("quickstart")
def load_quickstart(root: str | Path | None = None, num_paragraphs: int = 3) -> list[Utterance]:
    """The synthetic eSpeak NG corpus (built and cached under ``root`` on first use)."""
    from .paths import cache_dir
    from .synth import build_quickstart_corpus

    target = Path(root) if root else cache_dir() / "quickstart_corpus"
    return load_manifest(build_quickstart_corpus(target, num_paragraphs=num_paragraphs))


def load_dataset(spec: DatasetSpec) -> list[Utterance]:
    """Load and filter a dataset; a missing root is a clear error naming the config key."""
    from .registry import DATASETS, discover

    discover()
    loader: Loader = DATASETS.get(spec.format)
    if spec.format != "quickstart":
        if not spec.root:
            raise ValueError(f"dataset {spec.name!r} (format {spec.format}) needs a 'root'")
        if not Path(spec.root).exists():
            raise FileNotFoundError(
                f"dataset {spec.name!r}: root {spec.root!r} does not exist; set "
                f"datasets.{spec.name}.root in the config or pass datasets.{spec.name}.root=PATH"
            )
    check_keywords(loader, spec.options, f"datasets.{spec.name}.options (format {spec.format!r})", skip=("root",))
    utts = loader(spec.root, **spec.options)
    if spec.ids is not None:
        by_id = {u.utt_id: u for u in utts}
        missing = [i for i in spec.ids if i not in by_id]
        if missing:
            raise KeyError(f"dataset {spec.name!r}: ids not found in manifest: {missing}")
        utts = [by_id[i] for i in spec.ids]
    if spec.limit is not None:
        utts = utts[: spec.limit]
    if not utts:
        raise ValueError(f"dataset {spec.name!r} at {spec.root!r} has no utterances")
    seen: dict[str, Utterance] = {}
    for utt in utts:
        if utt.utt_id in seen:
            raise ValueError(f"dataset {spec.name!r}: utterance id {utt.utt_id!r} is used by both "
                             f"{seen[utt.utt_id].path} and {utt.path}; ids must be unique")
        seen[utt.utt_id] = utt
    return utts
