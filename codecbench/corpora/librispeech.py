"""``librispeech``: the LibriSpeech layout (``speaker/chapter/*.flac`` + ``*.trans.txt``), optionally some
subset folders of a root that holds several."""

from __future__ import annotations

from pathlib import Path

from codecbench.api import Download, Utterance, register_dataset

DOWNLOAD = Download(
    source="https://www.openslr.org/12",
    files="test-clean.tar.gz (346 MB); probes and TTS also train-clean-100.tar.gz (6.3 GB), train-clean-360.tar.gz "
          "(23 GB) and dev-clean.tar.gz (337 MB)",
    layout="the extracted LibriSpeech/ folder: LibriSpeech/test-clean/<speaker>/<chapter>/*.flac + *.trans.txt "
           "(the paper configs read {root:librispeech}/test-clean)",
    size_gb=0.35, hours=5.4)


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
