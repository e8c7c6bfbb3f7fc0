"""dWER: word error rate of the decoded audio's transcript against the original's.

Both sides are transcribed by the same Whisper (greedy, temperature 0, no fallback) and
normalised with Whisper's English normaliser; rows keep the error count and reference
word count so tables aggregate at corpus level (total errors / total reference words).
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from bench.audio import array_digest
from bench.datasets import Utterance
from bench.diskcache import DiskCache, make_key
from bench.metric import Backend, Metric, MetricOutput, Score
from bench.paths import cache_dir
from bench.registry import register_metric
from bench.text import align, english_normalizer, words

from ._whisper import WHISPER_SMALL, get_transcriber


@register_metric("dwer")
class DWER(Metric):
    """Corpus-level dWER (%) with Whisper-small (paper) or Whisper-base (offline)."""

    name = "dwer"
    outputs = (MetricOutput("dwer", "dWER", False, "ratio", 100.0, 2, order=30),)
    profiles = {"paper": Backend({"asr": "small"}, ("whisper-small-ct2",)), "offline": Backend({"asr": "base"})}
    reference = "source"
    assets = (WHISPER_SMALL,)
    dependencies = ("faster_whisper", "whisper_normalizer", "jiwer")
    extra = "offline"

    def __init__(self, asr: str = "small", device: str = "cpu", compute_type: str | None = None) -> None:
        self.transcriber = get_transcriber(asr, device, compute_type)
        self.normalize = english_normalizer()
        self._refs = DiskCache(cache_dir(), "transcripts")

    @property
    def backend(self) -> str:
        return f"{self.transcriber.id}+whisper-english-normalizer"

    def _transcript(self, audio: np.ndarray, language: str) -> str:
        return " ".join(self.normalize(self.transcriber.transcribe(audio, language)).split())

    def reference_transcript(self, audio: np.ndarray, language: str) -> str:
        """Transcript of the original audio, cached on disk by content and backend."""
        key = make_key(self.backend, language, array_digest(audio))
        return self._refs.get_or_compute(key, lambda: self._transcript(audio, language), str)

    def text_errors(self, audio: np.ndarray, text: str, language: str) -> tuple[int, int, str]:
        """Word errors of ``audio``'s transcript against a written ``text`` (both normalised the same way):
        ``(errors, reference words, transcript)``; TTS picks its best sample with it."""
        ref_words = words(" ".join(self.normalize(text).split()))
        hyp_text = self._transcript(audio, language)
        return align(ref_words, words(hyp_text)).errors, len(ref_words), hyp_text

    def compute(
        self, hyp: Sequence[np.ndarray], ref: Sequence[np.ndarray], meta: Sequence[Utterance]
    ) -> list[dict[str, Score]]:
        scores = []
        for h, r, utt in zip(hyp, ref, meta, strict=True):
            ref_text = self.reference_transcript(r, utt.language)
            hyp_text = self._transcript(h, utt.language)
            ref_words = words(ref_text)
            alignment = align(ref_words, words(hyp_text))
            errors = alignment.errors
            scores.append({"dwer": Score(100.0 * errors / len(ref_words), errors, len(ref_words),
                                         {"hyp": hyp_text, "ref": ref_text, **alignment.as_extra()})})
        return scores
