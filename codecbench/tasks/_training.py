"""A resumable trainer shared by the token models (probes, TTS): AdamW, gradient clipping, NewBob
learning-rate annealing, the best epoch's weights by a validation score, optional early stopping, bf16 autocast
on CUDA.

Defaults are the authors' downstream recipe (lucadellalib/audiocodecs ``downstream/hparams/tasks/{asr,si,ser}.yaml``
and ``train_{asr,si,ser}.py``): AdamW lr 1e-4, betas (0.9, 0.98) (the paper's appendix D says 0.8 / 0.99; the
code that made the numbers says 0.9 / 0.98), weight decay 0.01, batch 16, gradient-norm clip 0.01, 100 epochs
with no early stopping, SpeechBrain's ``NewBobScheduler`` on the validation loss (x0.9 when the loss improves on
the *previous* epoch's by less than 0.0025 relatively, ``patient: 1``), and the checkpoint with the best
validation score kept (``min_keys=["WER"]`` / ``["ER"]``: the task supplies the score, else the loss).

Checkpoints hold tensors and plain data only and are read with ``torch.load(weights_only=True)``, so
a pickle planted in a run dir is refused, never executed. A checkpoint is written after every epoch
and, with ``checkpoint_every``, every N optimiser steps; it carries the position in the epoch and the
RNG states, so a killed training resumes where it stopped and ends with the same weights as an
uninterrupted one (the batch order of an epoch depends only on the seed and the epoch).
"""

from __future__ import annotations

import contextlib
import dataclasses
import logging
import math
import random
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Annotated, Any, Literal, TypeVar, get_args

import torch
from torch import nn
from tqdm import tqdm

from codecbench.api import (
    BatchSize,
    Count,
    NonNegativeFloat,
    OpenFraction,
    PositiveFloat,
    PositiveInt,
    Range,
    Seed,
    validate_options,
)

log = logging.getLogger(__name__)
Item = TypeVar("Item")
Beta = Annotated[float, Range(0, 1, open_high=True)]  # an Adam beta: [0, 1)


@dataclass(frozen=True)
class TrainOptions:
    """Optimiser and schedule: the ``task_options`` keys every training task takes (its Options subclass this,
    with its own defaults where it departs from these)."""

    lr: PositiveFloat = 1e-4
    betas: tuple[Beta, Beta] = (0.9, 0.98)
    weight_decay: NonNegativeFloat = 0.01
    batch_size: BatchSize = 16
    grad_clip: PositiveFloat = 0.01
    lr_factor: OpenFraction = 0.9  # NewBob: lr x lr_factor when the validation loss improves by less than `improvement`
    improvement: NonNegativeFloat = 0.0025  # relative to the previous epoch's validation loss (SpeechBrain's NewBob)
    anneal_patience: Count = 1  # NewBob's ``patient``: low-improvement epochs let pass before each annealing
    patience: PositiveInt | None = None  # epochs without a better validation score before stopping (None: never)
    max_epochs: PositiveInt = 100
    max_steps: PositiveInt | None = None
    checkpoint_every: Count = 0  # optimiser steps between mid-epoch checkpoints (0: after each epoch only)
    autocast: bool = True  # bf16 autocast where the device is CUDA (no effect on CPU)

    def __post_init__(self) -> None:
        validate_options(self, f"task_options ({type(self).__name__})")

    def train_config(self, seed: int, device: str) -> TrainConfig:
        """The training run's config: these settings, the run's seed and device."""
        chosen = {f.name: getattr(self, f.name) for f in dataclasses.fields(TrainOptions)}
        return TrainConfig(**chosen, seed=seed, device=device)


@dataclass(frozen=True)
class TrainConfig(TrainOptions):
    """What one training run uses: the task's :class:`TrainOptions`, the seed and the device."""

    seed: Seed = 0
    device: str = "cpu"


@dataclass
class TrainState:
    epoch: int = 0
    step: int = 0
    batch_in_epoch: int = 0  # batches of the current epoch already done (mid-epoch resume)
    best: float = math.inf  # the best validation score (the task's, else the loss)
    bad_epochs: int = 0
    previous_loss: float | None = None  # NewBob compares with the previous epoch
    anneal_wait: int | None = None  # NewBob's countdown (None: not started, the config's anneal_patience)
    history: list[dict] = field(default_factory=list)


#: ``ascending`` (the authors': shortest first, the same every epoch) or ``shuffled``
BatchOrder = Literal["ascending", "shuffled"]
BATCH_ORDERS: tuple[str, ...] = get_args(BatchOrder)


def ascending_batches(items: Sequence[Item], size: int, key: Callable[[Item], Any]) -> list[list[Item]]:
    """The authors' training order: the set sorted by ``key`` (duration, then id), shortest first, cut into
    batches, the same every epoch (``hparams/tasks/*.yaml`` ``sorting: ascending``; ``utils.py``: ``shuffle``
    only for ``sorting: random``; ``datasets/*.py``: ``filtered_sorted(sort_key="duration")``)."""
    ordered = sorted(items, key=key)
    return [ordered[i:i + size] for i in range(0, len(ordered), size)]


def random_batches(items: Sequence[Item], size: int, rng: random.Random) -> list[list[Item]]:
    """Shuffled items cut into batches."""
    order = list(items)
    rng.shuffle(order)
    return [order[i:i + size] for i in range(0, len(order), size)]


def bucketed_batches(items: Sequence[Item], size: int, rng: random.Random, length: Callable[[Item], int],
                     pool: int = 50) -> list[list[Item]]:
    """Length-bucketed batches: shuffle, sort pools of ``pool`` batches by length, cut, shuffle the batches
    (little padding, still a random order)."""
    order = list(items)
    rng.shuffle(order)
    batches: list[list[Item]] = []
    for start in range(0, len(order), size * pool):
        chunk = sorted(order[start:start + size * pool], key=length)
        batches += [chunk[i:i + size] for i in range(0, len(chunk), size)]
    rng.shuffle(batches)
    return batches


def autocast(device: str, enabled: bool = True) -> contextlib.AbstractContextManager:
    """bf16 autocast on CUDA; a no-op elsewhere."""
    if enabled and torch.device(device).type == "cuda":
        return torch.autocast("cuda", dtype=torch.bfloat16)
    return contextlib.nullcontext()


@torch.no_grad()
def evaluate(model: nn.Module, batches: Sequence[Any], loss_fn: Callable[[nn.Module, Any], torch.Tensor],
             cfg: TrainConfig) -> float:
    """Mean loss over ``batches`` (weighted by batch size), in eval mode."""
    model.eval()
    total, count = 0.0, 0
    for batch in batches:
        with autocast(cfg.device, cfg.autocast):
            total += float(loss_fn(model, batch)) * len(batch)
        count += len(batch)
    return total / max(count, 1)


def load_checkpoint(path: Path, device: str, required: set[str]) -> dict | None:
    """A checkpoint with the ``required`` keys, read with ``weights_only``; an unusable file is deleted
    (training starts over) with a warning."""
    if not path.is_file():
        return None
    try:
        saved = torch.load(path, map_location=device, weights_only=True)
        if not isinstance(saved, dict) or not required <= set(saved):
            raise ValueError("not a checkpoint of this trainer")
        return saved
    except Exception as err:  # noqa: BLE001 - any unreadable or foreign file: start over
        log.warning("checkpoint %s is unusable (%s: %s): deleted, training from scratch",
                    path, type(err).__name__, str(err).splitlines()[0][:200] if str(err) else "")
        path.unlink(missing_ok=True)
        return None


def save_checkpoint(path: Path, payload: dict) -> None:
    """Atomic write (a kill mid-write leaves the previous checkpoint)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(".tmp")
    torch.save(payload, tmp)
    tmp.replace(path)


_REQUIRED = {"model", "optimizer", "state", "best_weights", "rng"}


def _newbob_anneals(state: TrainState, loss: float, cfg: TrainConfig) -> bool:
    """SpeechBrain's ``NewBobScheduler`` step (the authors' scheduler), updating ``state``: the relative
    improvement on the previous epoch's loss below ``improvement`` anneals when the countdown is at 0 (which
    then restarts at ``anneal_patience``), else counts down. The first epoch never anneals."""
    previous, state.previous_loss = state.previous_loss, loss
    wait = cfg.anneal_patience if state.anneal_wait is None else state.anneal_wait
    anneal = False
    if previous is not None:
        improvement = 0.0 if previous == 0 else (previous - loss) / previous
        if improvement < cfg.improvement:
            anneal, wait = (True, cfg.anneal_patience) if wait == 0 else (False, wait - 1)
    state.anneal_wait = wait
    return anneal


class Interrupted(Exception):
    """Raised by a ``stop`` callback to end training early (tests use it to simulate a kill)."""


def train(model: nn.Module, train_batches: Callable[[random.Random], list[Any]], valid_batches: Sequence[Any],
          loss_fn: Callable[[nn.Module, Any], torch.Tensor], cfg: TrainConfig, checkpoint: Path | None = None,
          progress: bool | str = False, extra: dict[str, Any] | None = None,
          stop: Callable[[TrainState], bool] | None = None,
          score: Callable[[nn.Module], float] | None = None) -> TrainState:
    """Train; resumes from ``checkpoint`` when it holds one. The best epoch's weights are restored.

    ``train_batches(rng)`` gives one epoch's batches (rng seeded by seed and epoch); ``loss_fn(model,
    batch)`` the loss of one batch. ``score(model)`` (lower is better, e.g. the validation error rate) picks
    the best epoch; without it the validation loss does. ``extra`` (plain data) is saved in the checkpoint.
    ``stop(state)``, called after every step, ends training by raising :class:`Interrupted` when true.
    ``progress``: a progress bar over steps (a string names it).
    """
    model.to(cfg.device)
    optimizer = torch.optim.AdamW(model.parameters(), lr=cfg.lr, betas=cfg.betas, weight_decay=cfg.weight_decay)
    state, best_weights = TrainState(), None
    saved = load_checkpoint(checkpoint, cfg.device, _REQUIRED) if checkpoint is not None else None
    if saved is not None:
        model.load_state_dict(saved["model"])
        optimizer.load_state_dict(saved["optimizer"])
        state, best_weights = TrainState(**saved["state"]), saved["best_weights"]
        log.info("resumed training at epoch %d, step %d", state.epoch, state.step)

    def snapshot() -> None:
        if checkpoint is not None:
            rng: dict[str, Any] = {"torch": torch.get_rng_state()}
            if torch.cuda.is_available():
                rng["cuda"] = torch.cuda.get_rng_state_all()
            save_checkpoint(checkpoint, {"model": model.state_dict(), "optimizer": optimizer.state_dict(),
                                         "state": dataclasses.asdict(state), "best_weights": best_weights,
                                         "rng": rng, "extra": extra or {}})

    bar = tqdm(total=cfg.max_steps, initial=state.step, unit="step", leave=False, disable=not progress,
               desc=progress if isinstance(progress, str) else "train")
    while state.epoch < cfg.max_epochs and (cfg.patience is None or state.bad_epochs < cfg.patience):
        if cfg.max_steps is not None and state.step >= cfg.max_steps:
            break
        batches = train_batches(random.Random(cfg.seed * 1000 + state.epoch))
        if saved is not None and state.batch_in_epoch:
            torch.set_rng_state(saved["rng"]["torch"].cpu())
            if "cuda" in saved["rng"] and torch.cuda.is_available():
                torch.cuda.set_rng_state_all(saved["rng"]["cuda"])
        else:
            torch.manual_seed(cfg.seed * 1000 + state.epoch)
        saved = None
        model.train()
        for batch in batches[state.batch_in_epoch:]:
            with autocast(cfg.device, cfg.autocast):
                loss = loss_fn(model, batch)
            optimizer.zero_grad()
            loss.backward()
            nn.utils.clip_grad_norm_(model.parameters(), cfg.grad_clip)
            optimizer.step()
            state.step += 1
            state.batch_in_epoch += 1
            bar.update(1)
            if cfg.checkpoint_every and state.step % cfg.checkpoint_every == 0:
                snapshot()
            if stop is not None and stop(state):
                raise Interrupted(f"stopped at step {state.step}")
            if cfg.max_steps is not None and state.step >= cfg.max_steps:
                break
        valid = evaluate(model, valid_batches, loss_fn, cfg)
        if _newbob_anneals(state, valid, cfg):
            for group in optimizer.param_groups:
                group["lr"] *= cfg.lr_factor
        if score is not None:
            model.eval()
            with torch.no_grad():
                chosen = float(score(model))
        else:
            chosen = valid
        if chosen < state.best:
            state.best, state.bad_epochs = chosen, 0
            best_weights = {k: v.detach().clone() for k, v in model.state_dict().items()}
        else:
            state.bad_epochs += 1
        state.epoch += 1
        state.batch_in_epoch = 0
        state.history.append({"epoch": state.epoch, "step": state.step, "valid_loss": valid, "valid_score": chosen,
                              "lr": optimizer.param_groups[0]["lr"]})
        bar.set_postfix(epoch=state.epoch, valid=f"{valid:.4f}")
        snapshot()
    bar.close()
    if best_weights is not None:
        model.load_state_dict(best_weights)
    return state
