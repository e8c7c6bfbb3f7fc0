"""``manifest``: a CSV with at least ``file`` (relative to the CSV's folder or its ``clips/`` sub-folder);
optional ``utt_id``, ``speaker_id``, ``transcript``, ``language``, ``condition``, ``parallel_group``, ``use``,
``reference_file`` (the ``../shared/data`` format)."""

from __future__ import annotations

import csv
from pathlib import Path

from codecbench.api import Utterance, register_dataset


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
