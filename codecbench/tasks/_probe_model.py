"""Probes on frozen tokens (DyCAST paper, appendix D.3-D.5): model, batching and a resumable trainer.

Model: one embedding table per codebook (initialised from the codec's codebook embeddings), the codebooks
combined as the authors' ``models/pooling.py`` ``LinearPooling`` does (``pooling: linear``: a bias-free
``Linear(K, 1)`` with torch's default initialisation, unnormalised; the identity for one codebook;
``softmax``: a convex combination, their unused ``WeightedPooling``), a 2-layer BiLSTM (512 hidden units, dropout
0.1; SpeechBrain's ``nnet.RNN.LSTM`` re-initialises every recurrent ``weight_hh`` orthogonally, ``rnn_init``:
``lstm_init: speechbrain``), then a CTC head (ASR) or statistics pooling + linear classifier (speaker ID, emotion).
Training: the authors' recipe (:mod:`._training`: AdamW lr 1e-4, betas 0.9/0.98, weight decay 0.01, batch 16,
gradient-norm clip 0.01, SpeechBrain NewBob x0.9 below 0.0025, 100 epochs, the epoch with the best validation
error rate kept), a checkpoint after every epoch so an interrupted training resumes. As the authors'
``train_{asr,si,ser}.py`` (embedding -> pooling -> encoder -> [statistics pooling] -> head), dropout acts only
between the LSTM layers.
"""

from __future__ import annotations

import random
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable, Sequence

import torch
from torch import nn
from torch.nn import functional as F

from ._training import BATCH_ORDERS, TrainConfig, TrainState, ascending_batches, evaluate, random_batches
from ._training import train as train_model

__all__ = ["ProbeItem", "TokenProbe", "TrainConfig", "TrainState", "collate", "ctc_feasible", "evaluate_loss",
           "greedy_ctc", "loss_of", "train"]


@dataclass
class ProbeItem:
    """One utterance: tokens ``[N, K]`` and its target (char ids for ASR, a class index otherwise)."""

    utt_id: str
    codes: torch.Tensor
    target: Any  # the label (text or class name) until encoded: char / BPE ids (ASR) or a class index
    seconds: float = 0.0  # the recording's duration (the authors' batch order)


class TokenProbe(nn.Module):
    """Frozen-token probe: embeddings -> weighted sum over codebooks -> BiLSTM -> head."""

    def __init__(self, codebook_sizes: Sequence[int], num_outputs: int, task: str,
                 embeddings: Sequence[torch.Tensor] | None = None, embedding_dim: int = 128,
                 hidden: int = 512, layers: int = 2, dropout: float = 0.1, pooling: str = "linear",
                 lstm_init: str = "speechbrain") -> None:
        super().__init__()
        if task not in ("ctc", "classify"):
            raise ValueError(f"task must be 'ctc' or 'classify', got {task!r}")
        self.task = task
        dims = {int(t.shape[1]) for t in embeddings} if embeddings else {embedding_dim}
        if len(dims) != 1:
            raise ValueError(f"codebook embeddings must share one width, got {sorted(dims)}")
        dim = dims.pop()
        self.embeddings = nn.ModuleList(nn.Embedding(v, dim) for v in codebook_sizes)
        if embeddings:
            for table, init in zip(self.embeddings, embeddings, strict=True):
                table.weight.data.copy_(init.float())  # type: ignore[operator]
        if pooling not in ("linear", "softmax") or lstm_init not in ("speechbrain", "torch"):
            raise ValueError(f"pooling must be linear or softmax, lstm_init speechbrain or torch; got {pooling!r}, "
                             f"{lstm_init!r}")
        self.pooling = pooling
        k = len(codebook_sizes)
        if pooling == "linear":  # the authors' LinearPooling: Linear(K -> 1), no bias, torch's default init
            self.pool: nn.Module = nn.Linear(k, 1, bias=False) if k > 1 else nn.Identity()
        else:
            self.codebook_weights = nn.Parameter(torch.zeros(k))
        self.lstm = nn.LSTM(dim, hidden, num_layers=layers, dropout=dropout, bidirectional=True, batch_first=True)
        if lstm_init == "speechbrain":  # speechbrain.nnet.RNN.rnn_init: the recurrent weights orthogonal
            for name, param in self.lstm.named_parameters():
                if "weight_hh" in name:
                    nn.init.orthogonal_(param)
        self.head = nn.Linear(2 * hidden * (1 if task == "ctc" else 2), num_outputs)

    def forward(self, codes: torch.Tensor, lengths: torch.Tensor) -> torch.Tensor:
        """``codes [B, N, K]`` -> CTC log-probs ``[B, N, C]`` or class logits ``[B, C]``."""
        emb = torch.stack([table(codes[..., k]) for k, table in enumerate(self.embeddings)], dim=-1)  # [B, N, H, K]
        if self.pooling == "linear":
            x = emb[..., 0] if isinstance(self.pool, nn.Identity) else self.pool(emb)[..., 0]
        else:
            x = (emb * torch.softmax(self.codebook_weights, dim=0)).sum(dim=-1)
        packed = nn.utils.rnn.pack_padded_sequence(x, lengths.cpu(), batch_first=True, enforce_sorted=False)
        out, _ = self.lstm(packed)
        out, _ = nn.utils.rnn.pad_packed_sequence(out, batch_first=True, total_length=codes.shape[1])
        if self.task == "ctc":
            return F.log_softmax(self.head(out), dim=-1)
        mask = (torch.arange(out.shape[1], device=out.device)[None] < lengths.to(out.device)[:, None])[..., None]
        n = mask.sum(dim=1).clamp_min(1)
        mean = (out * mask).sum(dim=1) / n
        # SpeechBrain's StatisticsPooling (the authors' postnet): the unbiased std plus 1e-5; its mean also gets a
        # fresh random offset in [1e-5, 9e-5] on every call, left out here so scores are deterministic
        var = ((out - mean[:, None]) * mask).pow(2).sum(dim=1) / (n - 1).clamp_min(1)
        std = var.clamp_min(1e-12).sqrt() + 1e-5
        return self.head(torch.cat([mean, std], dim=-1))


def collate(items: Sequence[ProbeItem]) -> tuple[torch.Tensor, torch.Tensor, list]:
    lengths = torch.tensor([len(i.codes) for i in items])
    codes = torch.zeros(len(items), int(lengths.max()), items[0].codes.shape[1], dtype=torch.long)
    for j, item in enumerate(items):
        codes[j, : len(item.codes)] = item.codes
    return codes, lengths, [i.target for i in items]


def ctc_feasible(n_tokens: int, target: torch.Tensor) -> bool:
    """CTC needs as many frames as labels plus one blank between each repeated pair."""
    repeats = int((target[1:] == target[:-1]).sum()) if len(target) > 1 else 0
    return n_tokens >= len(target) + repeats


def loss_of(model: TokenProbe, codes: torch.Tensor, lengths: torch.Tensor, targets: list) -> torch.Tensor:
    out = model(codes, lengths)
    if model.task == "classify":
        return F.cross_entropy(out, torch.tensor(targets, device=out.device))
    flat = torch.cat([t for t in targets]).to(out.device)
    target_lengths = torch.tensor([len(t) for t in targets], device=out.device)
    return F.ctc_loss(out.transpose(0, 1), flat, lengths.to(out.device), target_lengths, blank=0,
                      zero_infinity=True)


def probe_loss(model: nn.Module, batch: Sequence[ProbeItem]) -> torch.Tensor:
    codes, lengths, targets = collate(batch)
    return loss_of(model, codes.to(next(model.parameters()).device), lengths, targets)  # type: ignore[arg-type]


def _batches(items: Sequence[ProbeItem], size: int) -> list[list[ProbeItem]]:
    return [list(items[i:i + size]) for i in range(0, len(items), size)]


def evaluate_loss(model: TokenProbe, items: Sequence[ProbeItem], cfg: TrainConfig) -> float:
    return evaluate(model, _batches(items, cfg.batch_size), probe_loss, cfg)


def by_duration(item: ProbeItem) -> tuple[float, str]:
    """The authors' sort key of a probe item: the recording's duration, then its id."""
    return item.seconds, item.utt_id


def train(model: TokenProbe, train_items: Sequence[ProbeItem], valid_items: Sequence[ProbeItem],
          cfg: TrainConfig, checkpoint: Path | None = None, progress: bool | str = False,
          score: Callable[[nn.Module], float] | None = None, order: str = "ascending") -> TrainState:
    """Train; resumes from ``checkpoint``. Batches in ascending duration (``order="shuffled"``: reshuffled every
    epoch); the validation loss (NewBob's input) over single utterances, as the authors' ``valid_batch_size: 1``.
    The weights of the epoch with the best ``score`` (the validation error rate; the loss without one) are
    restored."""
    if order not in BATCH_ORDERS:
        raise ValueError(f"batch_order must be one of {BATCH_ORDERS}, got {order!r}")
    fixed = ascending_batches(train_items, cfg.batch_size, by_duration) if order == "ascending" else None

    def epoch_batches(rng: random.Random) -> list[list[ProbeItem]]:
        return fixed if fixed is not None else random_batches(train_items, cfg.batch_size, rng)

    return train_model(model, epoch_batches, _batches(valid_items, 1), probe_loss, cfg, checkpoint, progress,
                       score=score)


def greedy_ctc(log_probs: torch.Tensor, length: int) -> list[int]:
    """Collapse repeats and drop blanks (id 0) of the argmax path."""
    path = log_probs[:length].argmax(dim=-1).tolist()
    out, prev = [], None
    for p in path:
        if p != prev and p != 0:
            out.append(p)
        prev = p
    return out
