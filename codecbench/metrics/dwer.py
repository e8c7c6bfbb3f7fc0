"""dWER: word error rate of the decoded audio's transcript against the original's.

Both sides are transcribed by the same Whisper, greedy: the paper profile as the authors' harness
(``codecbench/metrics/dwer.py``: faster-whisper's temperature fallback, seeded), the offline profile at temperature 0
without fallback (batched); both normalised with Whisper's English normaliser; rows keep the error count and reference
word count so tables aggregate at corpus level (total errors / total reference words).
Transcripts are decoded in batches of ``batch_size`` (the same text as one at a time) and cached
on disk by content, so audio heard before (an original, a lossless codec's output) is not
transcribed twice.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from codecbench.api import (
    Backend,
    BatchSize,
    DiskCache,
    Metric,
    MetricOutput,
    Score,
    Utterance,
    align,
    array_digest,
    cache_dir,
    english_normalizer,
    library_versions,
    make_key,
    register_metric,
    words,
)

from ._whisper import WHISPER_SMALL, get_transcriber


@register_metric("dwer")
class DWER(Metric):
    """Corpus-level dWER (%) with Whisper-small (paper) or Whisper-base (offline)."""

    name = "dwer"
    outputs = (MetricOutput("dwer", "dWER", False, "ratio", 100.0, 2, order=30),)
    profiles = {"paper": Backend({"asr": "small", "fallback": True}, ("whisper-small-ct2",)),
                "offline": Backend({"asr": "base"})}
    tunable = ("batch_size",)  # leaves the numbers alone (metric_options)
    reference = "source"
    assets = (WHISPER_SMALL,)
    dependencies = ("faster_whisper", "whisper_normalizer", "jiwer")
    extra = "offline"

    def __init__(self, asr: str = "small", device: str = "cpu", compute_type: str | None = None,
                 batch_size: BatchSize | None = None, fallback: bool = False, seed: int = 0) -> None:
        self.transcriber = get_transcriber(asr, device, compute_type, fallback, seed)
        self.normalize = english_normalizer()
        self.batch_size = batch_size or (16 if device == "cpu" else 32)  # texts do not depend on it
        self._refs = DiskCache(cache_dir(), "transcripts")

    @property
    def backend(self) -> str:
        return f"{self.transcriber.id}+whisper-english-normalizer{library_versions('whisper-normalizer')}"

    def _key(self, audio: np.ndarray, language: str) -> str:
        return make_key(self.backend, self.code_id, language, array_digest(audio))

    def transcripts(self, audios: Sequence[np.ndarray], languages: Sequence[str]) -> list[str]:
        """Normalised transcripts, looked up on disk by content and backend; the rest decoded in batches."""
        keys = [self._key(a, lang) for a, lang in zip(audios, languages, strict=True)]
        found: list[str | None] = [self._refs.get(k, str) for k in keys]
        todo: dict[str, int] = {}  # one decode per distinct key (identical audio in one batch)
        for i, text in enumerate(found):
            if text is None:
                todo.setdefault(keys[i], i)
        if todo:
            raw = self.transcriber.transcribe_batch([audios[i] for i in todo.values()],
                                                    [languages[i] for i in todo.values()], self.batch_size)
            fresh = {key: " ".join(self.normalize(text).split()) for key, text in zip(todo, raw, strict=True)}
            for key, text in fresh.items():
                self._refs.put(key, text)
            found = [fresh[keys[i]] if text is None else text for i, text in enumerate(found)]
        return [text or "" for text in found]

    def text_errors(self, audios: Sequence[np.ndarray], text: str, language: str) -> list[tuple[int, int, str]]:
        """Word errors of each audio's transcript against a written ``text`` (both normalised the same way):
        ``(errors, reference words, transcript)`` per audio, decoded in one batch; TTS picks its best
        sample with it."""
        ref_words = words(" ".join(self.normalize(text).split()))
        hyps = self.transcripts(audios, [language] * len(audios))
        return [(align(ref_words, words(hyp)).errors, len(ref_words), hyp) for hyp in hyps]

    def compute(
        self, hyp: Sequence[np.ndarray], ref: Sequence[np.ndarray], meta: Sequence[Utterance]
    ) -> list[dict[str, Score]]:
        languages = [utt.language for utt in meta]
        texts = self.transcripts([*ref, *hyp], languages + languages)
        scores = []
        for ref_text, hyp_text in zip(texts[:len(ref)], texts[len(ref):], strict=True):
            ref_words = words(ref_text)
            alignment = align(ref_words, words(hyp_text))
            errors = alignment.errors
            scores.append({"dwer": Score(100.0 * errors / len(ref_words), errors, len(ref_words),
                                         {"hyp": hyp_text, "ref": ref_text, **alignment.as_extra()})})
        return scores
