"""TTS on codec tokens: models learn, generation gives valid ids, selection, resumable training, task rows."""

from __future__ import annotations

import random
from pathlib import Path

import pytest
import torch

from codecbench.config.runconfig import load_config
from codecbench.engine import runner
from codecbench.results.tables import load_rows
from codecbench.tasks._training import Interrupted, TrainConfig, bucketed_batches, train
from codecbench.tasks._tts_model import ARTTS, NARTTS, CharVocab, LlamaSize, StreamLayout, top_p_sample
from codecbench.tasks.tts import best_sample

TINY = LlamaSize(layers=2, heads=2, kv_heads=1, dim=32, ffn=64)
LAYOUTS = {"single": ([16], False), "flat": ([8, 8, 8], True), "parallel": ([4] * 6, False)}


def _batch(sizes: list[int], seed: int = 0) -> tuple[list[torch.Tensor], torch.Tensor, list[torch.Tensor]]:
    gen = torch.Generator().manual_seed(seed)
    chars = [torch.randint(2, 10, (n,), generator=gen) for n in (7, 5, 6)]
    speakers = torch.randn(3, 6, generator=gen)
    frames = [torch.stack([torch.randint(0, v, (n,), generator=gen) for v in sizes], dim=1) for n in (9, 4, 6)]
    return chars, speakers, frames


def _fit(model: torch.nn.Module, loss, steps: int = 60) -> tuple[float, float]:
    opt = torch.optim.AdamW(model.parameters(), lr=3e-3)
    first = float(loss().detach())
    for _ in range(steps):
        opt.zero_grad()
        value = loss()
        value.backward()
        opt.step()
    return first, float(loss().detach())


@pytest.mark.parametrize("layout", sorted(LAYOUTS))
def test_ar_model_learns_a_fixed_batch_and_generates_valid_ids(layout: str) -> None:
    sizes, flat = LAYOUTS[layout]
    torch.manual_seed(0)
    model = ARTTS(10, StreamLayout(sizes, flat), 6, TINY)
    chars, speakers, frames = _batch(sizes)
    first, last = _fit(model, lambda: model.loss(chars, speakers, frames))
    assert last < 0.2 * first
    model.eval()
    out = model.generate(chars[0], speakers[0], [torch.Generator().manual_seed(k) for k in range(3)], max_frames=20)
    assert len(out) == 3
    for sample in out:
        assert sample.dtype == torch.long and sample.shape[1] == len(sizes) and 0 < sample.shape[0] <= 20
        for k, v in enumerate(sizes):
            assert int(sample[:, k].min()) >= 0 and int(sample[:, k].max()) < v
    (greedy,) = model.generate(chars[0], speakers[0], [torch.Generator().manual_seed(0)], 20, temperature=1e-4)
    assert torch.equal(greedy, frames[0])  # memorised: the end-of-speech mark and the KV cache line up with training


def test_flattening_round_trips() -> None:
    dycast = StreamLayout.named("flatten", [4] * 32, multi_codebook=False)  # DyCAST's 32 axes: 32 steps a token
    tokens = torch.randint(0, 4, (13, 32))
    assert dycast.flat and dycast.steps(tokens).shape == (13 * 32, 1) and dycast.cycle == 32
    assert torch.equal(dycast.frames(dycast.steps(tokens)), tokens)
    assert [dycast.stream_of(s)[0] for s in (0, 31, 32, 33)] == [0, 31, 0, 1]
    assert not StreamLayout.named("auto", [4] * 32, multi_codebook=False).flat  # the rule before #26
    assert StreamLayout.named("auto", [1024, 1024], multi_codebook=True).flat
    assert not StreamLayout.named("parallel", [1024, 1024], multi_codebook=True).flat
    with pytest.raises(ValueError, match="layout must be one of"):
        StreamLayout.named("interleaved", [4], multi_codebook=False)
    layout = StreamLayout([8, 16, 4], flat=True)
    codes = torch.stack([torch.randint(0, v, (11,)) for v in (8, 16, 4)], dim=1)
    ids = layout.flat_ids(codes)
    assert int(ids.max()) < 28 and torch.equal(layout.from_flat_ids(ids), codes)
    assert torch.equal(layout.frames(layout.steps(codes)), codes)
    assert [layout.stream_of(s)[0] for s in range(6)] == [0, 1, 2, 0, 1, 2]
    assert StreamLayout([4] * 5, flat=False).per_step == 5


@pytest.mark.parametrize("layout", ["flat", "parallel"])
def test_reference_length_gives_the_references_frames_with_special_ids_fed_back_then_clamped(layout: str) -> None:
    """The authors' ``length: reference``: N x K steps, nothing masked, no stop, special ids clamped at the end."""
    sizes, flat = LAYOUTS[layout]
    torch.manual_seed(0)
    model = ARTTS(10, StreamLayout(sizes, flat), 6, TINY).eval()
    for head in model.heads.heads:
        head.weight.data.zero_()  # uniform over V + 2 classes: begin / end are sampled often
    fed: list[torch.Tensor] = []
    model.speech.register_forward_hook(lambda _m, args, _out: fed.append(args[0].clone()))
    chars, speakers, _ = _batch(sizes)
    out = model.generate(chars[0], speakers[0], [torch.Generator().manual_seed(k) for k in range(4)],
                         max_frames=2, exact_frames=7)
    assert [tuple(f.shape) for f in out] == [(7, len(sizes))] * 4  # exactly the reference's frames, never cut
    last = torch.tensor(sizes) - 1
    assert all(bool((f >= 0).all() and (f <= last).all()) for f in out)
    specials = torch.cat([c.flatten() for c in fed]) >= min(sizes)
    assert bool(specials.any())  # sampled as is and fed back; only the output is clamped
    if sizes == [4] * 6:
        clamped = model.layout.clamp_special(torch.tensor([[0, 4, 5, 3, 4, 5]]))
        assert torch.equal(clamped, torch.tensor([[0, 3, 3, 3, 3, 3]]))
    cut = model.generate(chars[0], speakers[0], [torch.Generator().manual_seed(0)], max_frames=2)  # predicted
    assert cut[0].shape[0] <= 2 and bool((cut[0] <= last).all())


def test_prompt_is_padded_to_a_multiple_of_the_steps_per_frame() -> None:
    """``[speaker, chars, zeros]`` fills a multiple of K positions (1 to K zeros, as ``train_tts.py``), then begin."""
    torch.manual_seed(0)
    flat = ARTTS(10, StreamLayout([4] * 8, True), 32, TINY)
    for n_chars, length in ((7, 16), (5, 8), (6, 8)):
        prefix = flat._prefix(torch.randint(2, 10, (n_chars,)), torch.randn(32))
        assert prefix.shape[0] == length + 1 and bool((prefix[1 + n_chars:length] == 0).all())
    single = ARTTS(10, StreamLayout([16], False), 32, TINY)
    assert single._prefix(torch.randint(2, 10, (5,)), torch.randn(32)).shape[0] == 1 + 5 + 1 + 1  # K = 1: one zero
    assert isinstance(flat.speaker, torch.nn.Identity)  # an x-vector of the model's width goes in as is
    assert isinstance(ARTTS(10, StreamLayout([16], False), 6, TINY).speaker, torch.nn.Linear)


@pytest.mark.parametrize("layout", sorted(LAYOUTS))
def test_loss_masks_padding_and_token_error_rate_counts_steps_and_the_end(layout: str) -> None:
    sizes, flat = LAYOUTS[layout]
    torch.manual_seed(0)
    model = ARTTS(10, StreamLayout(sizes, flat), 6, TINY, dropout=0.1).eval()
    chars, speakers, frames = _batch(sizes)
    counts = [int(model.layout.steps(f).numel()) + 1 for f in frames]
    with torch.no_grad():
        batch = float(model.loss(chars, speakers, frames)) * sum(counts)
        alone = sum(float(model.loss([c], s[None], [f])) * n
                    for c, s, f, n in zip(chars, speakers, frames, counts, strict=True))
    assert batch == pytest.approx(alone, rel=1e-5)  # padded positions add nothing
    for head in model.heads.heads:
        head.weight.data.zero_()  # argmax is class 0 everywhere
    rates = model.token_error_rates(chars, speakers, frames)
    for rate, f in zip(rates, frames, strict=True):  # every code of every frame, and the end mark (never class 0)
        assert rate == pytest.approx(1 - float((f == 0).sum()) / (f.numel() + 1))


def test_nar_model_learns_and_emits_one_frame_per_character() -> None:
    torch.manual_seed(0)
    sizes = [4] * 6
    model = NARTTS(10, StreamLayout(sizes, False), 6, TINY)
    chars = torch.randint(2, 10, (2, 7))
    lengths = torch.tensor([7, 5])
    speakers = torch.randn(2, 6)
    frames = torch.randint(0, 4, (2, 7, 6))
    first, last = _fit(model, lambda: model.loss(chars, lengths, speakers, frames))
    assert last < 0.3 * first
    for n in (1, 5, 13):
        assert model.generate(torch.randint(2, 10, (n,)), speakers[0]).shape == (n, 6)
    with pytest.raises(ValueError, match="flattened"):
        NARTTS(10, StreamLayout([8, 8], True), 6, TINY)


def test_nar_padding_does_not_change_an_items_output() -> None:
    torch.manual_seed(0)
    model = NARTTS(10, StreamLayout([4] * 3, False), 6, TINY).eval()
    chars, speaker = torch.randint(2, 10, (5,)), torch.randn(6)
    alone = model.hidden(chars[None], torch.tensor([5]), speaker[None])[0]
    padded = model.hidden(torch.cat([chars, torch.zeros(4, dtype=torch.long)])[None], torch.tensor([5]), speaker[None])
    assert torch.allclose(alone, padded[0, :5], atol=1e-5)


def test_best_of_n_picks_the_fewest_errors_first_on_ties() -> None:
    assert best_sample([3, 1, 2, 1, 5], [0, 1, 2, 3, 4]) == 1
    assert best_sample([3, -1, 2], [0, 2]) == 2  # sample 1 produced no audio
    assert best_sample([None], [0]) == 0


def test_top_p_keeps_the_nucleus_and_is_seeded() -> None:
    logits = torch.tensor([5.0, 4.0, -10.0, -10.0])
    picks = {top_p_sample(logits, torch.Generator().manual_seed(s), 0.9, 1.0) for s in range(50)}
    assert picks <= {0, 1} and len(picks) == 2
    draw = [top_p_sample(logits, torch.Generator().manual_seed(7), 0.9, 1.0) for _ in range(2)]
    assert draw[0] == draw[1]


def test_vocabulary_and_bucketed_batches() -> None:
    vocab = CharVocab.build(["Hello  World", "it's"])
    assert vocab.symbols[:2] == ["<pad>", "<unk>"] and len(vocab.encode("hello world")) == 11
    assert int(vocab.encode("hellq")[-1]) == 1  # unknown character
    items = list(range(100))
    batches = bucketed_batches(items, 8, random.Random(0), lambda x: x, pool=50)
    assert sorted(i for b in batches for i in b) == items
    assert all(max(b) - min(b) <= 7 for b in batches[:-1] if len(b) == 8)  # one pool: sorted, so little padding
    assert batches != bucketed_batches(items, 8, random.Random(1), lambda x: x)  # the batch order is shuffled


def test_killed_training_resumes_to_the_same_weights(tmp_path: Path) -> None:
    sizes = [8, 8]
    chars, speakers, frames = _batch(sizes)
    items = list(range(3))

    def loss(model, batch):
        return model.loss([chars[i] for i in batch], speakers[batch], [frames[i] for i in batch])

    def batches(rng):
        return bucketed_batches(items, 2, rng, lambda i: len(frames[i]))

    cfg = TrainConfig(lr=3e-3, grad_clip=1.0, batch_size=2, max_epochs=4, checkpoint_every=1, seed=3)

    def fresh() -> ARTTS:
        torch.manual_seed(0)
        return ARTTS(10, StreamLayout(sizes, True), 6, TINY, dropout=0.1)  # dropout draws from the RNG

    whole = fresh()
    train(whole, batches, [items], loss, cfg, tmp_path / "a.pt")
    killed = fresh()
    with pytest.raises(Interrupted):
        train(killed, batches, [items], loss, cfg, tmp_path / "b.pt", stop=lambda s: s.step == 3)  # mid-epoch 2
    resumed = fresh()
    state = train(resumed, batches, [items], loss, cfg, tmp_path / "b.pt")
    assert state.step == 8 and state.epoch == 4
    for (name, a), b in zip(whole.state_dict().items(), resumed.state_dict().values(), strict=True):
        assert torch.equal(a, b), name


def test_a_foreign_checkpoint_is_never_unpickled(tmp_path: Path) -> None:
    import pickle

    class Boom:
        def __reduce__(self):
            return (Path(tmp_path / "exploited").touch, ())

    (tmp_path / "m.pt").write_bytes(pickle.dumps({"model": Boom()}))
    torch.manual_seed(0)
    model = NARTTS(10, StreamLayout([4], False), 6, TINY)
    chars, lengths, speakers, frames = torch.randint(2, 10, (1, 4)), torch.tensor([4]), torch.randn(1, 6), \
        torch.randint(0, 4, (1, 4, 1))
    state = train(model, lambda rng: [[0]], [[0]], lambda m, b: m.loss(chars, lengths, speakers, frames),
                  TrainConfig(max_epochs=1), tmp_path / "m.pt")
    assert state.epoch == 1 and not (tmp_path / "exploited").exists()


@pytest.mark.slow
def test_tts_shared_config_gives_ar_and_nar_rows(shared_data: Path, tmp_path: Path) -> None:
    root = Path(__file__).resolve().parents[2]
    small = "{size: {layers: 1, heads: 2, kv_heads: 1, dim: 32, ffn: 64}, max_steps: 20, batch_size: 16, lr: 0.002"
    config = load_config(root / "configs" / "tts_shared.yaml", [
        f"output_dir={tmp_path / 'run'}", f"datasets.shared.root={shared_data}", "metrics=[dnsmos]",
        "datasets.shared.limit=24", "task_codecs={tts_ar: [codec2-700c], tts_nar: [codec2-700c, dycast-ca]}",
        f"task_options.tts_ar={small}, num_samples: 2}}", f"task_options.tts_nar={small}}}",
        "codecs=[codec2-700c, {name: dycast-ca, codec: dycast-ca, params: {random_preset: tiny, mode: tokens}}]"])
    runner.run(config, progress=False)
    df = load_rows([tmp_path / "run"])
    ok = df[df["error"].isna()]
    for task, codec in (("tts_ar", "codec2-700c"), ("tts_ar.first", "codec2-700c"), ("tts_nar", "dycast-ca")):
        sub = ok[(ok["task"] == task) & (ok["codec"] == codec)]
        assert {"frame_rate", "bitrate", "dnsmos_p808"} <= set(sub["metric"]), (task, codec)
    assert ok[(ok["task"] == "tts_nar") & (ok["codec"] == "codec2-700c")].empty  # not character-aligned: skipped
    nar = ok[(ok["task"] == "tts_nar") & (ok["metric"] == "frame_rate")]
    assert all(r["num"] == r["extra"]["characters"] for _, r in nar.iterrows())  # one token per character
    ar = ok[(ok["task"] == "tts_ar") & (ok["metric"] == "frame_rate")]
    for e in ar["extra"]:  # length: reference, the authors' protocol: each sample has the reference's frames
        assert "pad_or_trim" in e and len(e["sample_errors"]) == 2 and e["frames"] == e["reference_frames"]
        assert e["model"].split(":")[1:3] == ["flatten", "length=reference"]
        assert e["sample"] == best_sample(e["sample_errors"], [k for k, x in enumerate(e["sample_errors"]) if x >= 0])
    before = len(df)
    runner.run(config, progress=False)  # resumes: nothing left to do
    assert len(load_rows([tmp_path / "run"])) == before


@pytest.mark.slow
def test_tts_rows_do_not_depend_on_prefetch(shared_data: Path, tmp_path: Path, snr_metric: str) -> None:
    """The next utterance is generated while the current one is scored: the same rows, in the same order."""
    root = Path(__file__).resolve().parents[2]
    small = "{size: {layers: 1, heads: 2, kv_heads: 1, dim: 32, ffn: 64}, max_steps: 10, batch_size: 16, lr: 0.002"
    rows = {}
    for depth in (0, 2):
        config = load_config(root / "configs" / "tts_shared.yaml", [
            f"output_dir={tmp_path / f'p{depth}'}", f"datasets.shared.root={shared_data}", "metrics=[snr]",
            "datasets.shared.limit=12",
            f"task_options.tts_ar={small}, num_samples: 2}}", f"task_options.tts_nar={small}}}",
            f"prefetch={depth}", "codecs=[codec2-700c, {name: dycast-ca, codec: dycast-ca, "
            "params: {random_preset: tiny, mode: tokens}}]",
            # AR on DyCAST-CA trains on 32 steps per token (a minute here): the AR path is codec2's
            "task_codecs={tts_ar: [codec2-700c], tts_nar: [dycast-ca]}"])
        runner.run(config, progress=False)
        rows[depth] = (tmp_path / f"p{depth}" / "rows.jsonl").read_text().splitlines()
    assert rows[0] == rows[2]
    tasks = {row["task"] for row in load_rows([tmp_path / "p0"]).to_dict("records")}
    assert {"tts_ar", "tts_ar.first", "tts_nar"} <= tasks
    from codecbench.util.timing import read_records

    for record in read_records(tmp_path / "p2"):  # where the time went: TTS stages beside the metrics
        if record["codec"] == "dycast-ca" or record["task"] == "tts_ar":
            assert {"train", "generate", "decode", "metric:snr"} <= set(record["stages"]), record


def test_options_default_to_the_authors_recipe_and_refuse_what_does_not_apply() -> None:
    from codecbench.tasks.tts import AutoregressiveTTS, NonAutoregressiveTTS

    opts = AutoregressiveTTS.parse_options({})
    cfg = opts.train_config(3, "cpu")
    assert (cfg.lr, cfg.betas, cfg.weight_decay, cfg.batch_size, cfg.grad_clip) == (1e-4, (0.9, 0.98), 0.01, 8, 0.01)
    assert (cfg.max_epochs, cfg.patience, cfg.improvement, cfg.anneal_patience, cfg.autocast) == (100, None, 0.0025,
                                                                                                 1, False)
    assert (opts.length, opts.layout, opts.dropout, opts.batch_order, opts.valid_batch_size) == (
        "reference", "flatten", 0.1, "ascending", 1)
    assert AutoregressiveTTS.parse_options({"size": {"layers": 2}, "seeds": [0, 1]}).size.layers == 2
    for bad, match in (({"length": "eos"}, "length must be one of"), ({"layout": "delay"}, "layout must be one of"),
                       ({"dropout": 1.0}, "dropout"), ({"valid_batch_size": 0}, "valid_batch_size")):
        with pytest.raises(ValueError, match=match):
            AutoregressiveTTS.parse_options(bad)
    with pytest.raises(ValueError, match=r"unknown keys \['length'\] \(AR only"):
        NonAutoregressiveTTS.parse_options({"length": "reference"})
    with pytest.raises(ValueError, match=r"size: unknown key 'layer'; did you mean 'layers'"):
        AutoregressiveTTS.parse_options({"size": {"layer": 2}})


def test_tts_librispeech_config_names_known_plugins_and_fails_clearly_without_data(tmp_path: Path) -> None:
    from codecbench.plugins.registry import CODECS, TASKS

    root = Path(__file__).resolve().parents[2]
    config = load_config(root / "configs" / "tts_librispeech.yaml", [f"output_dir={tmp_path / 'run'}"])
    known = set(CODECS.names()) | set(CODECS.unavailable())
    assert {c.name for c in config.codecs} <= known and len(config.codecs) == 14
    assert set(config.tasks) <= set(TASKS.names())
    local = load_config(root / "configs" / "tts_librispeech.yaml", [
        f"output_dir={tmp_path / 'run'}", "device=cpu", "codecs=[codec2-700c]",
        f"datasets.librispeech.root={tmp_path / 'absent'}"])
    with pytest.raises(FileNotFoundError, match="datasets.librispeech.root"):
        runner.run(local, progress=False)
