"""Speaker similarity: cosine of speaker embeddings of the decoded audio and the reference.

Backends: ``wavlm-base-sv`` (paper: transformers ``microsoft/wavlm-base-sv`` x-vectors,
raw 16 kHz input, right-padded by replication to >= 4880 samples) and ``resemblyzer``
(offline: the GE2E encoder bundled in the ``resemblyzer`` wheel, with its own
preprocessing: volume normalisation and webrtcvad silence trimming).
Reference embeddings are cached on disk by content.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Protocol

import numpy as np
import torch

from bench import assets
from bench.audio import array_digest, match_length
from bench.datasets import Utterance
from bench.diskcache import DiskCache, make_key
from bench.metric import Backend, Metric, MetricOutput, Score
from bench.paths import cache_dir
from bench.registry import register_metric

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
                "'speech-tokenizer-bench[offline]'"
            ) from err
        self._encoder = VoiceEncoder(device=device, verbose=False)
        self._preprocess = preprocess_wav
        self.id = "resemblyzer:ge2e-256(vad-trim)"

    def embed(self, audio: np.ndarray) -> np.ndarray:
        wav = self._preprocess(np.asarray(audio, np.float32), source_sr=16000)
        if len(wav) == 0:  # VAD removed everything: embed the raw signal instead
            wav = np.asarray(audio, np.float32)
        return np.asarray(self._encoder.embed_utterance(wav), np.float64)


class _WavLMSV:
    def __init__(self, device: str) -> None:
        try:
            from transformers import AutoModelForAudioXVector
        except ModuleNotFoundError as err:
            raise ModuleNotFoundError(
                "Sim (paper) needs transformers: pip install 'speech-tokenizer-bench[paper]'"
            ) from err
        location = assets.require("wavlm-base-sv")
        try:
            self._model = AutoModelForAudioXVector.from_pretrained(
                location, local_files_only=assets.offline()).to(device).eval()
        except OSError as err:
            raise assets.AssetNotFound(assets.missing_message("wavlm-base-sv", str(err))) from err
        self._device = device
        self.id = "wavlm-base-sv:xvector-512"

    @torch.inference_mode()
    def embed(self, audio: np.ndarray) -> np.ndarray:
        wav = np.asarray(audio, np.float32)
        if len(wav) < WAVLM_MIN_SAMPLES:
            wav = match_length(wav, WAVLM_MIN_SAMPLES)
        x = torch.from_numpy(wav).unsqueeze(0).to(self._device)
        emb = self._model(input_values=x).embeddings[0].double().cpu().numpy()
        if not np.all(np.isfinite(emb)):
            raise ValueError(f"WavLM-SV embedding is not finite for {len(audio)} samples (audio too short?)")
        return emb


class _Embedder(Protocol):
    id: str

    def embed(self, audio: np.ndarray) -> np.ndarray: ...


BACKENDS: dict[str, Callable[[str], _Embedder]] = {"resemblyzer": _Resemblyzer, "wavlm-base-sv": _WavLMSV}


@register_metric("sim")
class SpeakerSimilarity(Metric):
    """Cosine similarity of speaker embeddings, decoded vs reference audio."""

    name = "sim"
    outputs = (MetricOutput("sim", "Sim", True, order=40),)
    profiles = {"paper": Backend({"backend": "wavlm-base-sv"}, ("wavlm-base-sv",)),
                "offline": Backend({"backend": "resemblyzer"})}
    reference = "target"
    assets = (WAVLM_SV,)

    def __init__(self, backend: str = "wavlm-base-sv", device: str = "cpu") -> None:
        if backend not in BACKENDS:
            raise ValueError(f"Sim backend must be one of {sorted(BACKENDS)}, got {backend!r}")
        self._embedder = BACKENDS[backend](device)
        self._refs = DiskCache(cache_dir(), "speaker_embeddings")

    @property
    def backend(self) -> str:
        return self._embedder.id

    def _reference(self, audio: np.ndarray) -> np.ndarray:
        key = make_key(self.backend, array_digest(audio))
        return self._refs.get_or_compute(key, lambda: self._embedder.embed(audio), np.ndarray)

    def speaker_embedding(self, audio: np.ndarray) -> np.ndarray:
        """The backend's speaker embedding of 16 kHz audio (cached by content): TTS conditions on it."""
        return self._reference(audio)

    def compute(
        self, hyp: Sequence[np.ndarray], ref: Sequence[np.ndarray], meta: Sequence[Utterance]
    ) -> list[dict[str, Score]]:
        scores = []
        for h, r in zip(hyp, ref, strict=True):
            a, b = self._embedder.embed(h), self._reference(r)
            # as torch.nn.functional.cosine_similarity (eps 1e-8 on each norm), the paper's call
            cos = float(a @ b / (max(float(np.linalg.norm(a)), 1e-8) * max(float(np.linalg.norm(b)), 1e-8)))
            scores.append({"sim": Score(cos)})
        return scores
