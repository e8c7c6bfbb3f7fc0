"""Text normalisation and word alignment (jiwer) for dWER and the ASR probe."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from functools import lru_cache


@lru_cache(maxsize=1)
def english_normalizer() -> Callable[[str], str]:
    """Whisper's English text normaliser (the paper's), from the ``whisper-normalizer`` package."""
    try:
        from whisper_normalizer.english import EnglishTextNormalizer
    except ModuleNotFoundError as err:
        raise ModuleNotFoundError(
            "dWER needs Whisper's English normaliser: pip install "
            "'codecbench[offline]' (package whisper-normalizer)"
        ) from err
    return EnglishTextNormalizer()


def words(text: str) -> list[str]:
    """Split a normalised transcript on single spaces, as the paper's scorer does.

    An empty string gives ``[""]``: an empty reference counts as one word, so an empty
    transcript never divides by zero and never disappears from the corpus total.
    """
    return text.split(" ")


@dataclass(frozen=True)
class Alignment:
    """A minimum edit alignment of two word lists."""

    substitutions: int
    deletions: int
    insertions: int

    @property
    def errors(self) -> int:
        return self.substitutions + self.deletions + self.insertions

    def as_extra(self) -> dict[str, int]:
        return {"sub": self.substitutions, "del": self.deletions, "ins": self.insertions}


def align(ref: list[str], hyp: list[str]) -> Alignment:
    """Substitutions, deletions and insertions between word lists, through jiwer.

    Words are taken as given (no transform). An empty word (``words("")`` is ``[""]``) is a word
    like any other, so an empty reference counts as one word, as in the paper's scorer.
    """
    try:
        import jiwer
    except ModuleNotFoundError as err:
        raise ModuleNotFoundError("word alignment needs jiwer: pip install 'codecbench[offline]'") from err
    # jiwer drops empty words: give each distinct word a non-empty stand-in token instead
    vocab: dict[str, str] = {}
    tokens = [[vocab.setdefault(w, f"w{len(vocab)}") for w in seq] for seq in (ref, hyp)]
    if not tokens[0]:
        return Alignment(0, 0, len(tokens[1]))
    out = jiwer.process_words(" ".join(tokens[0]), " ".join(tokens[1]))
    return Alignment(out.substitutions, out.deletions, out.insertions)


def word_errors(ref: list[str], hyp: list[str]) -> int:
    """Substitutions + deletions + insertions between word lists (see :func:`align`)."""
    return align(ref, hyp).errors
