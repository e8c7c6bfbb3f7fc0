"""Speaker similarity: cosine of speaker embeddings of the decoded audio and the reference.

Backends: ``wavlm-base-sv`` (paper: transformers ``microsoft/wavlm-base-sv`` x-vectors,
raw 16 kHz input, right-padded by replication to >= 4880 samples) and ``resemblyzer``
(offline: the GE2E encoder bundled in the ``resemblyzer`` wheel, with its own
preprocessing: volume normalisation and webrtcvad silence trimming).
Reference and hypothesis embeddings are cached on disk by content. WavLM-SV takes no padding mask,
so ``batch_size`` > 1 batches only clips of equal length; its default 1 keeps every score independent
of the clips beside it (batched matrix products differ in the last digits, ~1e-7).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Protocol

import numpy as np
import torch

from codecbench.api import (
    Backend,
    BatchSize,
    DiskCache,
    Metric,
    MetricOutput,
    Score,
    Utterance,
    array_digest,
    assets,
    cache_dir,
    length_groups,
    library_versions,
    load_transformers,
    make_key,
    match_length,
    register_metric,
)

WAVLM_SV = assets.Asset("wavlm-base-sv", "WavLM-base x-vector speaker model (paper Sim)", "microsoft/wavlm-base-sv",
                        hub_id="microsoft/wavlm-base-sv", files=("config.json",), licence="MIT", size="0.4 GB")
WAVLM_MIN_SAMPLES = 4880


class _Resemblyzer:
    def __init__(self, device: str) -> None:
        try:
            from resemblyzer import VoiceEncoder, preprocess_wav
        except ModuleNotFoundError as err:
            raise ModuleNotFoundError(
                f"Sim (offline) needs resemblyzer (missing {err.name}): pip install "
                "'codecbench[offline]'"
            ) from err
        self._encoder = VoiceEncoder(device=device, verbose=False)
        self._preprocess = preprocess_wav
        self.id = f"resemblyzer:ge2e-256(vad-trim){library_versions('resemblyzer', 'torch')}"

    def embed_batch(self, audios: Sequence[np.ndarray], batch_size: int) -> list[np.ndarray]:
        """``VoiceEncoder.embed_utterance`` of each utterance (its partial windows are already one batch)."""
        result = []
        for audio in audios:
            wav = self._preprocess(np.asarray(audio, np.float32), source_sr=16000)
            if len(wav) == 0:  # VAD removed everything: embed the raw signal instead
                wav = np.asarray(audio, np.float32)
            result.append(np.asarray(self._encoder.embed_utterance(wav), np.float64))
        return result


class _WavLMSV:
    def __init__(self, device: str) -> None:
        try:
            from transformers import AutoModelForAudioXVector
        except ModuleNotFoundError as err:
            raise ModuleNotFoundError(
                "Sim (paper) needs transformers: pip install 'codecbench[paper]'"
            ) from err
        location = assets.require("wavlm-base-sv")
        try:
            self._model = AutoModelForAudioXVector.from_pretrained(
                location, local_files_only=assets.offline()).to(device).eval()
        except OSError as err:
            raise assets.AssetNotFound(assets.missing_message("wavlm-base-sv", str(err))) from err
        self._device = device
        self.id = f"wavlm-base-sv:xvector-512{library_versions('transformers', 'torch')}"

    @torch.inference_mode()
    def embed_batch(self, audios: Sequence[np.ndarray], batch_size: int) -> list[np.ndarray]:
        """x-vectors; utterances of equal length share a forward pass (no padding: the numbers stay)."""
        wavs = [np.asarray(a, np.float32) for a in audios]
        wavs = [match_length(w, WAVLM_MIN_SAMPLES) if len(w) < WAVLM_MIN_SAMPLES else w for w in wavs]
        result: list[np.ndarray | None] = [None] * len(wavs)
        for group in length_groups([len(w) for w in wavs]):
            for start in range(0, len(group), max(1, batch_size)):
                chunk = group[start:start + max(1, batch_size)]
                x = torch.from_numpy(np.stack([wavs[i] for i in chunk])).to(self._device)
                embeddings = self._model(input_values=x).embeddings.double().cpu().numpy()
                for i, emb in zip(chunk, embeddings, strict=True):
                    if not np.all(np.isfinite(emb)):
                        raise ValueError(f"WavLM-SV embedding is not finite for {len(audios[i])} samples "
                                         "(audio too short?)")
                    result[i] = emb
        return [r for r in result if r is not None]


class _Embedder(Protocol):
    id: str

    def embed_batch(self, audios: Sequence[np.ndarray], batch_size: int) -> list[np.ndarray]: ...


BACKENDS: dict[str, Callable[[str], _Embedder]] = {"resemblyzer": _Resemblyzer, "wavlm-base-sv": _WavLMSV}


@register_metric("sim")
class SpeakerSimilarity(Metric):
    """Cosine similarity of speaker embeddings, decoded vs reference audio."""

    name = "sim"
    outputs = (MetricOutput("sim", "Sim", True, order=40),)
    profiles = {"paper": Backend({"backend": "wavlm-base-sv"}, ("wavlm-base-sv",)),
                "offline": Backend({"backend": "resemblyzer"})}
    tunable = ("batch_size",)  # leaves the numbers alone (metric_options)
    reference = "target"
    assets = (WAVLM_SV,)

    @classmethod
    def verify_asset(cls, name: str, location: Path) -> str:
        """``codecbench assets verify``: WavLM-base-SV loaded by transformers as a run loads it, every weight used."""
        return load_transformers("AutoModelForAudioXVector", location)

    def __init__(self, backend: str = "wavlm-base-sv", device: str = "cpu",
                 batch_size: BatchSize | None = None) -> None:
        if backend not in BACKENDS:
            raise ValueError(f"Sim backend must be one of {sorted(BACKENDS)}, got {backend!r}")
        self._embedder = BACKENDS[backend](device)
        self.batch_size = batch_size or 1
        self._refs = DiskCache(cache_dir(), "speaker_embeddings")

    @property
    def backend(self) -> str:
        return self._embedder.id

    def _key(self, audio: np.ndarray) -> str:
        return make_key(self.backend, self.code_id, array_digest(audio))

    def _references(self, audios: Sequence[np.ndarray]) -> list[np.ndarray]:
        """Embeddings cached on disk by content; the missing ones computed in one batch."""
        keys = [self._key(a) for a in audios]
        found: list[np.ndarray | None] = [self._refs.get(k, np.ndarray) for k in keys]
        todo: dict[str, int] = {}
        for i, emb in enumerate(found):
            if emb is None:
                todo.setdefault(keys[i], i)
        if todo:
            fresh = dict(zip(todo, self._embedder.embed_batch([audios[i] for i in todo.values()], self.batch_size),
                             strict=True))
            for key, emb in fresh.items():
                self._refs.put(key, emb)
            found = [fresh[keys[i]] if emb is None else emb for i, emb in enumerate(found)]
        return [emb for emb in found if emb is not None]

    def speaker_embedding(self, audio: np.ndarray) -> np.ndarray:
        """The backend's speaker embedding of 16 kHz audio (cached by content): TTS conditions on it."""
        return self._references([audio])[0]

    def compute(
        self, hyp: Sequence[np.ndarray], ref: Sequence[np.ndarray], meta: Sequence[Utterance]
    ) -> list[dict[str, Score]]:
        hyps = self._references(hyp)  # by content too: a lossless codec's output is the reference
        refs = self._references(ref)
        scores = []
        for a, b in zip(hyps, refs, strict=True):
            # as torch.nn.functional.cosine_similarity (eps 1e-8 on each norm), the paper's call
            cos = float(a @ b / (max(float(np.linalg.norm(a)), 1e-8) * max(float(np.linalg.norm(b)), 1e-8)))
            scores.append({"sim": Score(cos)})
        return scores
