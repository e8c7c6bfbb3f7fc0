"""MMS character aligner: CTC argmax alignment, silence merged into the next character.

The wav2vec2 model (``facebook/mms-1b-all``, ~1B parameters) is loaded lazily through
transformers and is never part of a DyCAST checkpoint. Without its weights, ``random_size="tiny"``
builds a small seeded random-weight Wav2Vec2ForCTC with MMS's vocabulary layout (:data:`RANDOM_VOCAB`:
CTC blank 0, specials 1-3, word separator ``|`` 4, characters from 5), so DyCAST-CA runs offline
(rows flagged random). The post-processing (:func:`ctc_durations`) is pure and tested on its own.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Sequence

import torch
from torch import nn

HOP_SECONDS = 0.02
#: the random-weight aligner's vocabulary: MMS's layout (blank 0, specials, separator 4, then characters)
RANDOM_VOCAB = ("<pad>", "<s>", "</s>", "<unk>", "|") + tuple("abcdefghijklmnopqrstuvwxyz'")


@dataclass
class _Segment:
    token: int
    start: int
    end: int
    after_blank: bool = False
    silence: bool = False


def _runs(ids: Sequence[int]) -> list[list[int]]:
    spans: list[list[int]] = []
    for t, i in enumerate(ids):
        if spans and spans[-1][0] == i:
            spans[-1][2] = t + 1
        else:
            spans.append([i, t, t + 1])
    return spans


def ctc_segments(ids: Sequence[int], blank_id: int = 0, space_id: int = 4,
                 max_silence_s: float | None = None) -> list[_Segment]:
    """Greedy CTC ids of one utterance -> character segments covering every frame."""
    segs: list[_Segment] = []
    pending: list[int] | None = None  # a blank span waiting for the next token
    for token, start, end in _runs(ids):
        if token == blank_id:
            pending = [start, end] if pending is None else [pending[0], end]
            continue
        if pending is not None:
            if max_silence_s is not None and (pending[1] - pending[0]) * HOP_SECONDS >= max_silence_s:
                segs.append(_Segment(blank_id, pending[0], pending[1], silence=True))
                segs.append(_Segment(token, start, end))
            else:
                segs.append(_Segment(token, pending[0], end, after_blank=True))
            pending = None
            continue
        prev = segs[-1] if segs else None
        if prev and not prev.silence and prev.token == token and not prev.after_blank:
            prev.end = end
        else:
            segs.append(_Segment(token, start, end))
    if pending is not None:
        if max_silence_s is not None and (pending[1] - pending[0]) * HOP_SECONDS >= max_silence_s:
            segs.append(_Segment(blank_id, pending[0], pending[1], silence=True))
        elif segs and not segs[-1].silence:
            segs[-1].end = pending[1]
    speech = [i for i, s in enumerate(segs) if not s.silence]
    if len(speech) >= 2 and segs[speech[-1]].token == space_id:
        last = speech[-1]
        target = speech[-2] if max_silence_s is None else last - 1
        segs[target].end = max(segs[target].end, segs[last].end)
        segs[target].start = min(segs[target].start, segs[last].start)
        del segs[last]
    return segs


def ctc_durations(logits: torch.Tensor, length: torch.Tensor | None = None, blank_id: int = 0,
                  space_id: int = 4, max_silence_s: float | None = None) -> tuple[torch.Tensor, list[list[int]]]:
    """``logits [B, T, V] -> (durations [B, N] long, token ids per item)``."""
    batch, frames, _ = logits.shape
    ids = logits.argmax(dim=-1).cpu()
    valid = [frames] * batch if length is None else torch.ceil(length.cpu() * frames).long().clamp(0, frames).tolist()
    rows, tokens = [], []
    for b in range(batch):
        segs = ctc_segments(ids[b, : valid[b]].tolist(), blank_id, space_id, max_silence_s)
        rows.append([s.end - s.start for s in segs])
        tokens.append([s.token for s in segs])
    width = max((len(r) for r in rows), default=0)
    if width == 0:
        return torch.full((batch, 1), frames, dtype=torch.long), tokens
    durs = torch.zeros(batch, width, dtype=torch.long)
    for b, row in enumerate(rows):
        durs[b, : len(row)] = torch.tensor(row, dtype=torch.long)
    if width == 1:
        durs[:, 0] = frames
    return durs, tokens


class MMS(nn.Module):
    """Wav2Vec2ForCTC character aligner (loaded on first use; weights not in DyCAST checkpoints)."""

    hop_s = HOP_SECONDS
    blank_id = 0
    space_id = 4
    causal = False

    def __init__(self, checkpoint: str | None = "facebook/mms-1b-all", random_size: str | None = None) -> None:
        super().__init__()
        if random_size not in (None, "tiny"):
            raise ValueError(f"random_size must be None or 'tiny', got {random_size!r}")
        self.checkpoint, self.random_size = checkpoint, random_size
        self.processor: Any = None
        self.model: Any = None

    def _random_model(self) -> Any:
        from transformers import Wav2Vec2Config, Wav2Vec2ForCTC

        config = Wav2Vec2Config(vocab_size=len(RANDOM_VOCAB), hidden_size=32, num_hidden_layers=2,
                                num_attention_heads=2, intermediate_size=64, conv_dim=(16,) * 7,
                                num_conv_pos_embeddings=16, num_conv_pos_embedding_groups=4,
                                feat_extract_norm="layer", do_stable_layer_norm=True, pad_token_id=0)
        with torch.random.fork_rng():
            torch.manual_seed(0)
            return Wav2Vec2ForCTC(config).eval()

    def vocabulary(self) -> list[str]:
        """The CTC vocabulary by id (the processor's, or :data:`RANDOM_VOCAB`)."""
        if self.processor is None:
            return list(RANDOM_VOCAB)
        vocab = self.processor.tokenizer.get_vocab()
        return [t for t, _ in sorted(vocab.items(), key=lambda kv: kv[1])]

    def _load(self) -> None:
        if self.model is not None:
            return
        from codecbench.api import assets

        if self.random_size is not None:
            try:
                self.model = self._random_model()
            except ModuleNotFoundError as err:
                raise ModuleNotFoundError(
                    "the MMS aligner needs transformers: pip install 'codecbench[paper]'") from err
            return

        try:
            from transformers import AutoProcessor, Wav2Vec2ForCTC
        except ModuleNotFoundError as err:
            raise ModuleNotFoundError(
                "the MMS aligner needs transformers: pip install 'codecbench[paper]'") from err
        try:
            self.processor = AutoProcessor.from_pretrained(self.checkpoint, local_files_only=assets.offline())
            self.model = Wav2Vec2ForCTC.from_pretrained(self.checkpoint, local_files_only=assets.offline()).eval()
        except OSError as err:
            raise assets.AssetNotFound(
                f"MMS aligner weights {self.checkpoint!r} are not available ({err}); download them where you "
                "have network and pass a local folder as char_aligner_config.checkpoint"
            ) from err

    @torch.no_grad()
    def forward_sig(self, sig: torch.Tensor, length: torch.Tensor | None = None) -> torch.Tensor:
        """CTC logits ``[B, T, V]`` of per-utterance normalised audio."""
        self._load()
        batch, samples = sig.shape
        n = torch.full((batch,), samples, device=sig.device) if length is None else \
            torch.ceil(length.to(sig.device) * samples).long().clamp(1, samples)
        mask = torch.arange(samples, device=sig.device)[None] < n[:, None]
        mean = (sig * mask).sum(1, keepdim=True) / n[:, None]
        var = (((sig - mean) * mask) ** 2).sum(1, keepdim=True) / n[:, None]
        normed = (sig - mean) * torch.rsqrt(var + 1e-7)
        self.model.to(sig.device)
        return self.model(input_values=normed, attention_mask=mask.long()).logits

    @torch.no_grad()
    def forward(self, sig: torch.Tensor, length: torch.Tensor | None = None,
                max_silence_s: float | None = None) -> tuple[torch.Tensor, list[str]]:
        logits = self.forward_sig(sig, length)
        durs, _ = ctc_durations(logits, length, self.blank_id, self.space_id, max_silence_s)
        transcripts = self.processor.batch_decode(logits.argmax(dim=-1)) if self.processor is not None else []
        return durs.to(sig.device), transcripts

    @torch.no_grad()
    def align(self, sig: torch.Tensor, length: torch.Tensor | None = None,
              max_silence_s: float | None = None) -> tuple[torch.Tensor, list[str]]:
        """Durations ``[B, N]`` and, per item, the character of each segment (one per token; the word
        separator as a space, a merged silence as ``_``)."""
        logits = self.forward_sig(sig, length)
        durs, ids = ctc_durations(logits, length, self.blank_id, self.space_id, max_silence_s)
        vocab = self.vocabulary()
        chars = ["".join(" " if i == self.space_id else "_" if i == self.blank_id else
                         (vocab[i] if i < len(vocab) and len(vocab[i]) == 1 else "?") for i in item) for item in ids]
        return durs.to(sig.device), chars
