"""Train / valid / test splits of a dataset for the tasks that train (probes, TTS)."""

from __future__ import annotations

import hashlib

from codecbench.api import Utterance


def default_split(utt: Utterance, seed: int, group: str = "") -> str:
    """``labels["split"]`` when the adapter gives one; otherwise a seeded 80/10/10 split by hashing the
    utterance id (stable across runs and machines)."""
    if utt.labels.get("split") in ("train", "valid", "test"):
        return utt.labels["split"]
    h = int(hashlib.sha256(f"{seed}:{group}:{utt.utt_id}".encode()).hexdigest(), 16) % 10
    return "train" if h < 8 else ("valid" if h == 8 else "test")


def corpus_split(utt: Utterance, seed: int) -> str:
    """LibriSpeech-style folders decide (``train-*`` / ``dev-*`` / ``test-*``); otherwise :func:`default_split`."""
    prefix = utt.labels.get("subset", "").split("-")[0]
    if prefix in ("train", "dev", "test"):
        return {"train": "train", "dev": "valid", "test": "test"}[prefix]
    return default_split(utt, seed)
