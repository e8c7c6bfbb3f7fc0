"""Text normalisation and word-level edit distance for dWER."""

from __future__ import annotations

from collections.abc import Callable
from functools import lru_cache


@lru_cache(maxsize=1)
def english_normalizer() -> Callable[[str], str]:
    """Whisper's English text normaliser (the paper's), from the ``whisper-normalizer`` package."""
    try:
        from whisper_normalizer.english import EnglishTextNormalizer
    except ModuleNotFoundError as err:
        raise ModuleNotFoundError(
            "dWER needs Whisper's English normaliser: pip install "
            "'speech-tokenizer-bench[offline]' (package whisper-normalizer)"
        ) from err
    return EnglishTextNormalizer()


def words(text: str) -> list[str]:
    """Split a normalised transcript on single spaces, as the paper's scorer does.

    An empty string gives ``[""]``: an empty reference counts as one word, so an empty
    transcript never divides by zero and never disappears from the corpus total.
    """
    return text.split(" ")


def word_errors(ref: list[str], hyp: list[str]) -> int:
    """Levenshtein distance (substitutions + deletions + insertions) between word lists."""
    prev = list(range(len(hyp) + 1))
    for i, r in enumerate(ref, start=1):
        cur = [i] + [0] * len(hyp)
        for j, h in enumerate(hyp, start=1):
            cur[j] = min(prev[j] + 1, cur[j - 1] + 1, prev[j - 1] + (r != h))
        prev = cur
    return prev[-1]
