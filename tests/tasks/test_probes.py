"""Probes: model, CTC feasibility, a resumable training loop whose loss goes down, task rows."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch

from codecbench.config.runconfig import from_dict
from codecbench.engine import runner
from codecbench.plugins.registry import TASKS
from codecbench.results.tables import load_rows, render, summarize
from codecbench.tasks._probe_model import ProbeItem, TokenProbe, collate, ctc_feasible, evaluate_loss, loss_of, train
from codecbench.tasks._training import TrainConfig


def _items(n: int, classes: int, seed: int = 0) -> list[ProbeItem]:
    gen = torch.Generator().manual_seed(seed)
    items = []
    for i in range(n):
        label = i % classes
        codes = torch.randint(0, 8, (12 + i % 5, 2), generator=gen)
        codes[:, 0] = label  # a learnable cue in the first codebook
        items.append(ProbeItem(f"u{i}", codes, label))
    return items


def test_ctc_feasibility_counts_repeats() -> None:
    assert ctc_feasible(3, torch.tensor([1, 2, 3])) and not ctc_feasible(3, torch.tensor([1, 1, 2]))
    assert ctc_feasible(4, torch.tensor([1, 1, 2]))


def test_loss_goes_down_on_a_fixed_batch() -> None:
    torch.manual_seed(0)
    model = TokenProbe([8, 8], 3, "classify", embedding_dim=16, hidden=32)
    codes, lengths, targets = collate(_items(12, 3))
    opt = torch.optim.AdamW(model.parameters(), lr=3e-3)
    first = float(loss_of(model, codes, lengths, targets).detach())
    for _ in range(40):
        opt.zero_grad()
        loss_of(model, codes, lengths, targets).backward()
        opt.step()
    assert float(loss_of(model, codes, lengths, targets).detach()) < 0.5 * first


def test_ctc_probe_trains_and_embeddings_are_copied() -> None:
    tables = [torch.randn(8, 16), torch.randn(8, 16)]
    model = TokenProbe([8, 8], 5, "ctc", embeddings=tables, hidden=32)
    assert torch.equal(model.embeddings[1].weight.data, tables[1])
    items = [ProbeItem(f"u{i}", torch.randint(0, 8, (20, 2)), torch.tensor([1, 2, 3])) for i in range(4)]
    codes, lengths, targets = collate(items)
    assert torch.isfinite(loss_of(model, codes, lengths, targets))


def test_probe_model_is_the_authors_linear_pooling_and_speechbrain_lstm() -> None:
    """``pooling: linear`` is their models/pooling.py LinearPooling (a bias-free Linear(K -> 1), torch's default
    initialisation, unnormalised; the identity for K = 1); ``lstm_init: speechbrain`` re-initialises every
    recurrent weight orthogonally (speechbrain.nnet.RNN.rnn_init) and leaves the input weights and biases as torch
    makes them."""
    torch.manual_seed(0)
    model = TokenProbe([8] * 4, 5, "ctc", hidden=16)
    assert isinstance(model.pool, torch.nn.Linear) and model.pool.bias is None and model.pool.weight.shape == (1, 4)
    assert model.pool.weight.abs().max() <= 0.5 and not torch.allclose(model.pool.weight.sum(), torch.tensor(1.0))
    emb = torch.randn(2, 3, 128, 4)
    codes = torch.randint(0, 8, (2, 3, 4))
    expected = torch.stack([t(codes[..., k]) for k, t in enumerate(model.embeddings)], dim=-1) @ model.pool.weight[0]
    got = model.pool(torch.stack([t(codes[..., k]) for k, t in enumerate(model.embeddings)], dim=-1))[..., 0]
    assert torch.allclose(got, expected, atol=1e-6) and emb.shape[-1] == 4
    for name, param in model.lstm.named_parameters():
        if param.dim() != 2:
            continue
        product = param.T @ param
        orthogonal = torch.allclose(product, torch.eye(product.shape[0]), atol=1e-5)
        assert orthogonal == ("weight_hh" in name), name  # [4H, H]: orthonormal columns
    one = TokenProbe([8], 5, "ctc", hidden=16)
    assert isinstance(one.pool, torch.nn.Identity)
    torch.manual_seed(0)
    plain = TokenProbe([8] * 4, 5, "ctc", hidden=16, pooling="softmax", lstm_init="torch")
    assert torch.allclose(torch.softmax(plain.codebook_weights, 0), torch.full((4,), 0.25))
    assert not torch.allclose(plain.lstm.weight_hh_l0.T @ plain.lstm.weight_hh_l0, torch.eye(16), atol=1e-3)


def test_training_resumes_from_its_checkpoint(tmp_path: Path) -> None:
    cfg = TrainConfig(batch_size=4, max_epochs=2, lr=3e-3, grad_clip=1.0)
    ckpt = tmp_path / "ckpt.pt"
    torch.manual_seed(0)
    model = TokenProbe([8, 8], 3, "classify", embedding_dim=16, hidden=32)
    state = train(model, _items(16, 3), _items(6, 3, seed=1), cfg, ckpt)
    assert state.epoch == 2 and ckpt.is_file()
    more = train(TokenProbe([8, 8], 3, "classify", embedding_dim=16, hidden=32), _items(16, 3), _items(6, 3, 1),
                 TrainConfig(batch_size=4, max_epochs=4, lr=3e-3, grad_clip=1.0), ckpt)
    assert more.epoch == 4 and [h["epoch"] for h in more.history] == [1, 2, 3, 4]
    assert evaluate_loss(model, _items(6, 3, 1), cfg) > 0


def test_newbob_follows_speechbrain_and_the_best_scored_epoch_is_kept() -> None:
    """The authors' recipe: NewBob on the loss relative to the previous epoch with patient 1 (every second
    low-improvement epoch anneals), no early stopping, the epoch with the best *score* (not loss) restored."""
    from codecbench.tasks._training import TrainState, _newbob_anneals

    cfg, state = TrainConfig(), TrainState()
    assert cfg.betas == (0.9, 0.98) and cfg.patience is None and cfg.anneal_patience == 1
    losses = [1.0, 0.5, 0.499, 0.4989, 0.4988, 0.3, 0.31]
    assert [_newbob_anneals(state, loss, cfg) for loss in losses] == [False, False, False, True, False, False, True]
    eager = TrainState()
    assert [_newbob_anneals(eager, loss, TrainConfig(anneal_patience=0)) for loss in losses] == [
        False, False, True, True, True, False, True]

    torch.manual_seed(0)
    model = TokenProbe([8, 8], 3, "classify", embedding_dim=16, hidden=32)
    scores = iter([0.5, 0.2, 0.4, 0.3])  # the second epoch is the best by score, whatever its loss
    weights: list[dict] = []

    def score(trained: torch.nn.Module) -> float:
        weights.append({k: v.clone() for k, v in trained.state_dict().items()})
        return next(scores)

    state = train(model, _items(16, 3), _items(6, 3, seed=1),
                  TrainConfig(batch_size=4, max_epochs=4, lr=3e-3, grad_clip=1.0), score=score)
    assert state.epoch == 4 and state.best == 0.2 and [h["valid_score"] for h in state.history] == [0.5, 0.2, 0.4, 0.3]
    assert all(torch.equal(v, weights[1][k]) for k, v in model.state_dict().items())


@pytest.mark.slow
@pytest.mark.parametrize("task, metric", [("si_probe", "si_er"), ("asr_probe", "asr_wer")])
def test_probe_tasks_end_to_end_on_shared_clips(shared_data: Path, tmp_path: Path, task: str, metric: str) -> None:
    config = from_dict({
        "name": "p", "output_dir": str(tmp_path / "run"), "metric_profile": "offline", "metrics": [],
        "tasks": [task], "task_options": {task: {"max_epochs": 1, "max_steps": 2, "batch_size": 8}},
        "codecs": ["codec2-700c", {"name": "dycast-tiny", "codec": "dycast-bp3", "params": {"random_preset": "tiny"}}],
        "datasets": {"vctk": {"format": "manifest", "root": str(shared_data), "limit": 24}},
    })
    runner.run(config, progress=False)
    summary = summarize(load_rows([tmp_path / "run"]))
    values = summary[summary["metric"] == metric].set_index("codec")["value"]
    assert set(values.index) == {"codec2-700c", "dycast-tiny"}
    assert all(0 <= v <= 100 or metric == "asr_wer" for v in values)
    assert task in render([tmp_path / "run"])
    if task == "asr_probe":
        infeasible = summary[summary["metric"] == "ctc_infeasible"].set_index("codec")["value"]
        assert infeasible["codec2-700c"] == 0  # 25 frames/s always cover the characters
    # re-running finds every test row and trains nothing
    before = (tmp_path / "run" / "rows.jsonl").read_text()
    runner.run(config, progress=False)
    assert (tmp_path / "run" / "rows.jsonl").read_text() == before


@pytest.mark.slow
def test_asr_probe_with_bpe_targets(shared_data: Path, tmp_path: Path) -> None:
    pytest.importorskip("sentencepiece", reason="BPE targets need sentencepiece (extra 'probes')")
    config = from_dict({
        "name": "p", "output_dir": str(tmp_path / "run"), "metric_profile": "offline", "metrics": [],
        "tasks": ["asr_probe"], "codecs": ["codec2-700c"],
        "task_options": {"asr_probe": {"max_epochs": 1, "max_steps": 2, "tokenizer": "bpe", "vocab_size": 60}},
        "datasets": {"s": {"format": "manifest", "root": str(shared_data), "limit": 30}},
    })
    runner.run(config, progress=False)
    summary = summarize(load_rows([tmp_path / "run"]))
    row = summary[summary["metric"] == "asr_wer"].iloc[0]
    assert row["backend"].startswith("bilstm2x512:bpe") and row["n"] > 0
    assert list((tmp_path / "run" / "probes").rglob("bpe60.model"))


def test_probe_options_are_validated(shared_data: Path, tmp_path: Path) -> None:
    config = from_dict({
        "name": "p", "output_dir": str(tmp_path / "run"), "metric_profile": "offline", "metrics": [],
        "tasks": ["si_probe"], "codecs": ["codec2-700c"], "task_options": {"si_probe": {"max_epoch": 1}},
        "datasets": {"s": {"format": "manifest", "root": str(shared_data), "limit": 24}},
    })
    with pytest.raises(ValueError, match="unknown key 'max_epoch'; did you mean 'max_epochs'"):
        runner.run(config, progress=False)
    for bad, match in (({"hidden": 0}, "hidden must be >= 1, got 0"), ({"lr": "fast"}, r"lr must be a number"),
                       ({"batch_order": "random"}, "batch_order must be one of"), ({"split": 3}, "split must be")):
        with pytest.raises(ValueError, match=match):
            TASKS.get("si_probe").parse_options(bad)


@pytest.mark.slow
def test_probe_rows_do_not_depend_on_the_processing_order(shared_data: Path, tmp_path: Path,
                                                          monkeypatch: pytest.MonkeyPatch) -> None:
    """Training sees its utterances in one canonical order: a shuffled dataset order trains the same probe."""
    rows, weights = [], []
    for seed in ("", "1"):
        monkeypatch.setenv("CODECBENCH_ORDER_SEED", seed)
        out = tmp_path / f"order{seed or 0}"
        runner.run(from_dict({
            "name": "p", "output_dir": str(out), "metric_profile": "offline", "metrics": [],
            "tasks": ["si_probe"], "codecs": ["codec2-700c"],
            "task_options": {"si_probe": {"max_epochs": 2, "batch_size": 4, "hidden": 64}},
            "datasets": {"s": {"format": "manifest", "root": str(shared_data), "limit": 16}}}), progress=False)
        rows.append(sorted((out / "rows.jsonl").read_text().splitlines()))
        (ckpt,) = (out / "probes").rglob("ckpt.pt")
        weights.append(torch.load(ckpt, weights_only=True)["model"])
    assert rows[0] == rows[1] and rows[0]
    assert weights[0].keys() == weights[1].keys()
    assert all(torch.equal(weights[0][k], weights[1][k]) for k in weights[0])  # the same training, bit for bit


def test_speaker_id_split_follows_the_authors_rule(tmp_path: Path) -> None:
    """Per subset folder and speaker, files in path order: the first int(0.8 n) train, the next int(0.1 n) valid;
    ``split: authors`` (default) caps each speaker's test files at the remainder of the first speaker after their
    seeded shuffle, ``sequential`` keeps every remaining file, ``hashed`` is a seeded draw."""
    import random
    from types import SimpleNamespace

    from codecbench.api.datasets import Utterance
    from codecbench.tasks.probes import SpeakerIDProbe

    counts = {"train-clean-100": {"19": 20, "26": 57, "32": 9}, "train-clean-360": {"100": 9, "101": 33}}
    utts = [Utterance(utt_id=f"{spk}-{k:04d}", path=tmp_path / sub / spk / f"{spk}-{k:04d}.flac", speaker=spk,
                      labels={"subset": sub})
            for sub, speakers in counts.items() for spk, n in speakers.items() for k in range(n)]
    task = SpeakerIDProbe()

    def split(**given: object) -> dict[str, str]:
        ctx = SimpleNamespace(options=task.parse_options(given), seed=0)
        return task.splits(utts[::-1], ctx)  # type: ignore[arg-type]

    sequential = split(split="sequential")
    assert [sequential[f"19-{k:04d}"] for k in range(20)] == ["train"] * 16 + ["valid"] * 2 + ["test"] * 2
    assert [sequential[f"100-{k:04d}"] for k in range(9)] == ["train"] * 7 + ["test"] * 2  # int(0.9) = 0 valid
    authors = split()
    rng = random.Random(0)  # the authors' rule written out: their seeded shuffle of the speakers in path order
    for sub, speakers in counts.items():
        order = sorted(speakers, key=lambda s: str(tmp_path / sub / s))
        rng.shuffle(order)
        first = speakers[order[0]]
        cap = first - int(0.8 * first) - int(0.1 * first)
        for spk, n in speakers.items():
            rest = n - int(0.8 * n) - int(0.1 * n)
            tests = [k for k in range(n) if authors[f"{spk}-{k:04d}"] == "test"]
            assert tests == list(range(n - rest, n - rest + min(cap, rest)))
            assert [authors[f"{spk}-{k:04d}"] for k in range(n - rest)] == \
                [sequential[f"{spk}-{k:04d}"] for k in range(n - rest)]  # train and valid are the same
    assert "unused" in authors.values()
    hashed = split(split="hashed")
    assert hashed != sequential and set(hashed.values()) <= {"train", "valid", "test"}
    with pytest.raises(ValueError, match=r"task_options.si_probe.split must be one of \('authors', 'sequential'"):
        task.parse_options({"split": "random"})


def test_speaker_id_test_counts_on_the_real_train_clean_100_layout(tmp_path: Path) -> None:
    """LibriSpeech train-clean-100's real per-speaker file counts (251 speakers, 28,539 files): the authors' rule
    keeps 2,718 test files (the first speaker after their shuffle is 1034, 96 files, remainder 11), the
    sequential 80/10/10 keeps 3,073; train (22,725) and valid (2,741) are the same."""
    import json
    from collections import Counter

    from codecbench.api.datasets import Utterance
    from codecbench.tasks.probes import speaker_splits

    listing = Path(__file__).parents[1] / "fixtures" / "librispeech_train_clean_100_counts.json"
    counts = json.loads(listing.read_text())
    assert len(counts) == 251 and sum(counts.values()) == 28_539
    root = tmp_path / "train-clean-100"
    utts = [Utterance(f"{spk}-1-{k:04d}", root / spk / "1" / f"{spk}-1-{k:04d}.flac", speaker=spk,
                      labels={"subset": "train-clean-100"}) for spk, n in counts.items() for k in range(n)]
    authors = Counter(speaker_splits(utts, authors=True).values())
    sequential = Counter(speaker_splits(utts, authors=False).values())
    assert (authors["train"], authors["valid"], authors["test"]) == (22_725, 2_741, 2_718)
    assert (sequential["train"], sequential["valid"], sequential["test"]) == (22_725, 2_741, 3_073)


def test_training_batches_run_in_ascending_duration_as_the_authors(monkeypatch: pytest.MonkeyPatch) -> None:
    """Shortest first, cut into batches, the same every epoch, validation one utterance at a time;
    ``batch_order: shuffled`` reshuffles every epoch."""
    import random

    from codecbench.tasks import _probe_model
    from codecbench.tasks._probe_model import by_duration
    from codecbench.tasks._training import TrainState, ascending_batches

    items = [ProbeItem(f"u{i}", torch.zeros(3, 1, dtype=torch.long), 0, seconds=float((7 * i) % 10)) for i in range(10)]
    assert [[i.seconds for i in b] for b in ascending_batches(items[::-1], 4, by_duration)] == [
        [0.0, 1.0, 2.0, 3.0], [4.0, 5.0, 6.0, 7.0], [8.0, 9.0]]
    seen: dict = {}

    def trainer(model, train_batches, valid_batches, *args, **kwargs) -> TrainState:  # noqa: ANN001
        seen["epochs"] = [train_batches(random.Random(epoch)) for epoch in range(2)]
        seen["valid"] = valid_batches
        return TrainState()

    monkeypatch.setattr(_probe_model, "train_model", trainer)
    model = TokenProbe([8], 2, "classify", embedding_dim=8, hidden=8, layers=1)
    train(model, items, items[:3], TrainConfig(batch_size=4))
    assert seen["epochs"][0] == seen["epochs"][1] == ascending_batches(items, 4, by_duration)
    assert [len(b) for b in seen["valid"]] == [1, 1, 1]
    train(model, items, items[:3], TrainConfig(batch_size=4), order="shuffled")
    assert seen["epochs"][0] != seen["epochs"][1]
    with pytest.raises(ValueError, match="batch_order"):
        train(model, items, items, TrainConfig(batch_size=4), order="random")
