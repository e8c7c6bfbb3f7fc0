"""DyCAST: parity with the official code, checkpoint format, algorithms, losses, plugin."""

from __future__ import annotations

import math
import warnings
from pathlib import Path

import pytest
import torch

from codecbench.api.codec import elias_gamma_bits, pad_batch
from codecbench.codecs.dycast.boundary import HazardModel, absolute_length, boundaries_to_durations
from codecbench.codecs.dycast.losses import hazard_nll, negbin_duration_loss, ssq_entropy_loss
from codecbench.codecs.dycast.model import DyCAST, build_modules
from codecbench.codecs.dycast.plugin import DyCASTCodec
from codecbench.codecs.dycast.presets import preset
from tests.conftest import tone

warnings.filterwarnings("ignore", message="Using padding='same'")
SHARED = Path(__file__).resolve().parents[3] / "shared"
FIXTURES = SHARED / "fixtures" / "dycast_parity"
KEYS_TSV = SHARED / "reference" / "dycast" / "default_state_dict_keys.tsv"


@pytest.fixture(scope="module")
def tiny() -> DyCAST:
    torch.manual_seed(0)
    return DyCAST(**build_modules(preset("tiny"))).eval()


def test_parity_with_official_fixtures(capsys) -> None:
    if not (FIXTURES / "manifest.json").is_file():
        pytest.skip("../shared/fixtures/dycast_parity not found")
    pytest.importorskip("faiss", reason="the retriever fixtures need faiss-cpu (extra 'dycast')")
    from codecbench.cli.main import main

    assert main(["parity", "dycast", str(FIXTURES)]) == 0
    out = capsys.readouterr().out
    assert "parity OK" in out and "modes_b1.safetensors" in out and "mms_postproc.safetensors" in out


def test_parity_checker_fails_on_changed_weights(tmp_path: Path) -> None:
    if not (FIXTURES / "manifest.json").is_file():
        pytest.skip("../shared/fixtures/dycast_parity not found")
    from safetensors.torch import load_file, save_file

    from codecbench.codecs.dycast.parity import check_folder

    for item in FIXTURES.iterdir():
        (tmp_path / item.name).symlink_to(item)
    state = load_file(FIXTURES / "model.safetensors")
    state["decoder.head.proj.bias"] = state["decoder.head.proj.bias"] + 0.01
    (tmp_path / "model.safetensors").unlink()
    save_file(state, tmp_path / "model.safetensors")
    (tmp_path / "manifest.json").unlink()
    (tmp_path / "manifest.json").write_text('{"inputs.safetensors": {}, "b1_stages.safetensors": {}}')
    failing = [c for c in check_folder(tmp_path) if not c.ok]
    assert failing and all(c.key.startswith("rec_sig") for c in failing)


@pytest.mark.slow  # the full-size model (269 M parameters)
def test_default_architecture_matches_official_keys_and_shapes() -> None:
    if not KEYS_TSV.is_file():
        pytest.skip("../shared/reference/dycast/default_state_dict_keys.tsv not found")
    with torch.device("meta"):
        model = DyCAST(**build_modules(preset("default")))
        no_retriever = DyCAST(**build_modules(preset("default", retriever=False)))
    expected = [line.split("\t")[:2] for line in KEYS_TSV.read_text().splitlines()]
    got = [[k, str(tuple(v.shape))] for k, v in model.state_dict().items()]
    assert got == expected
    assert sum(v.numel() for v in model.state_dict().values()) == 350_996_235
    assert round(sum(v.numel() for v in no_retriever.state_dict().values()) / 1e6, 2) == 268.82  # paper: 269M


def test_checkpoint_roundtrip_local_file_and_folder(tiny: DyCAST, tmp_path: Path) -> None:
    sig = torch.from_numpy(tone(1.0))[None]
    ref = tiny(sig, budget_decode=True)
    path = tiny.to_pretrained(tmp_path / "ckpt")
    assert path.name == "ckpt.json" and (tmp_path / "ckpt.safetensors").is_file()
    loaded = DyCAST.from_pretrained(str(path)).eval()
    folder = tmp_path / "hub_layout"
    folder.mkdir()
    (folder / "config.json").write_text(path.read_text())
    (folder / "model.safetensors").write_bytes((tmp_path / "ckpt.safetensors").read_bytes())
    from_folder = DyCAST.from_pretrained(str(folder)).eval()
    for model in (loaded, from_folder):
        out = model(sig, budget_decode=True)
        assert torch.equal(out[0], ref[0]) and torch.equal(out[2], ref[2])


def test_missing_keys_fail_and_unexpected_keys_warn(tiny: DyCAST) -> None:
    state = dict(tiny.state_dict())
    state.pop("decoder.head.proj.bias")
    with pytest.raises(RuntimeError, match="missing"):
        tiny.load_checked_state_dict(state)
    state = dict(tiny.state_dict(), extra_key=torch.zeros(1))
    with pytest.warns(UserWarning, match="unexpected"):
        tiny.load_checked_state_dict(state)


def _reference_greedy(logits, length, threshold=0.5, min_gap=1, max_gap=None):
    """The per-frame loop of the reference description, for checking the vectorised decoder."""
    batch, frames = logits.shape
    abs_len = absolute_length(length, frames, batch, logits.device)
    h = torch.sigmoid(logits)
    last = torch.full((batch,), -min_gap)
    since = torch.zeros(batch, dtype=torch.long)
    boundary = torch.zeros(batch, frames, dtype=torch.bool)
    for t in range(frames):
        can = (t - last) >= min_gap
        fire = can & (h[:, t] >= threshold)
        if max_gap is not None:
            fire |= can & (since >= max_gap - 1)
        fire &= t < abs_len
        boundary[:, t] = fire
        last = torch.where(fire, torch.full_like(last, t), last)
        since = torch.where(fire, torch.zeros_like(since), since + 1)
        since = torch.where(t < abs_len, since, torch.zeros_like(since))
    return boundaries_to_durations(boundary, abs_len)


@pytest.mark.parametrize("threshold, min_gap, max_gap", [(0.5, 1, None), (0.5, 3, None), (0.4, 2, 5),
                                                         (0.7, 1, 4), (0.3, 5, 12), (0.9, 3, 3)])
def test_vectorised_greedy_decoding_equals_frame_loop(threshold: float, min_gap: int, max_gap: int | None) -> None:
    gen = torch.Generator().manual_seed(min_gap * 100 + (max_gap or 0))
    logits = torch.randn(6, 80, generator=gen) * 2
    length = torch.tensor([1.0, 0.9, 0.5, 0.13, 0.01, 0.0])
    model = HazardModel(input_dim=8, hidden_dims=[8, 8, 8])
    for lens in (None, length):
        got = model.decode(logits, lens, threshold, min_gap, max_gap)
        assert torch.equal(got, _reference_greedy(logits, lens, threshold, min_gap, max_gap))
        totals = absolute_length(lens, 80, 6, logits.device)
        assert torch.equal(got.sum(dim=1), totals)


def test_budget_durations_sum_exactly(tiny: DyCAST) -> None:
    mu = torch.rand(4, 30) * 5
    frames = torch.tensor([100, 45, 30, 250])
    durs = tiny.duration_predictor.decode(mu, None, frames)
    assert torch.equal(durs.sum(dim=1), frames) and bool((durs >= 1).all())


def test_losses_are_finite_and_decrease_with_better_predictions() -> None:
    durs = torch.tensor([[3, 1, 4, 2, 0], [2, 2, 2, 0, 0]])
    boundary_logits = torch.full((2, 12), -3.0)
    good_logits = boundary_logits.clone()
    for b, row in enumerate(durs):
        ends = row[row > 0].cumsum(0) - 1
        good_logits[b, ends] = 3.0
    assert hazard_nll(good_logits, durs) < hazard_nll(boundary_logits, durs)
    alpha = torch.tensor(0.3)
    right = (durs - 1).clamp_min(0).float() + 0.01
    wrong = torch.full_like(right, 6.0)
    assert negbin_duration_loss(right, alpha, durs) < negbin_duration_loss(wrong, alpha, durs)
    codebook = DyCAST(**build_modules(preset("tiny"))).codebook
    spread = torch.randn(512, 8)
    collapsed = torch.ones(512, 8) + 0.01 * torch.randn(512, 8)
    assert ssq_entropy_loss(spread, codebook) < ssq_entropy_loss(collapsed, codebook)
    loss = hazard_nll(boundary_logits.requires_grad_(), durs)
    loss.backward()
    assert torch.isfinite(boundary_logits.grad).all()


@pytest.mark.parametrize("mode", ["tokens+length", "tokens+durations", "tokens"])
def test_plugin_modes_rates_and_shapes(mode: str) -> None:
    torch.manual_seed(0)
    codec = DyCASTCodec(random_preset="tiny", min_gap=3, mode=mode)
    assert codec.capabilities.random_weights and codec.capabilities.variable_rate
    wav, lengths = pad_batch([torch.from_numpy(tone(1.0)), torch.from_numpy(tone(0.6, freq=300))])
    tokens = codec.encode(wav, lengths)
    assert tokens.durations is not None and tokens.codes.shape[2] == 8
    assert int(tokens.codes.max()) <= 3 and int(tokens.codes.min()) >= 0
    for i in range(2):
        n = int(tokens.lengths[i])
        assert bool((tokens.durations[i, :n] > 0).all()) and int(tokens.durations[i, n:].sum()) == 0
    bits = codec.measured_bits(tokens)
    token_bits = tokens.lengths.double() * 16  # 8 streams x 2 bits in the tiny preset
    if mode == "tokens+durations":
        assert torch.equal(bits, token_bits + elias_gamma_bits(tokens.durations).mul(tokens.durations > 0).sum(1))
    else:
        assert torch.equal(bits, token_bits)
    out, out_lengths = codec.decode(tokens)
    if mode == "tokens+length":
        expected = [codec.model.encoder.num_frames(int(n)) * 320 for n in lengths]
        assert out_lengths.tolist() == expected
    assert out.shape[0] == 2 and torch.isfinite(out).all()
    feats = codec.features(tokens)
    assert feats.shape[0] == 2 and feats.shape[2] == 32
    tables = codec.embeddings()
    assert [tuple(e.shape) for e in tables] == [(4, 8)] * 8
    summed = sum(t[tokens.codes[0, 0, k]] for k, t in enumerate(tables))
    expected = codec.model.toks_to_pcodes(tokens.codes[0, :1])[0]
    assert torch.allclose(torch.nn.functional.normalize(summed, dim=-1), expected)


def test_official_bitrate_accounting() -> None:
    torch.manual_seed(0)
    codec = DyCASTCodec(random_preset="tiny")
    codec.codebook_sizes = [4] * 32  # the official 32 x 4 quantizer: 64 bits per token
    assert codec.bits_per_token == 64
    assert elias_gamma_bits(torch.tensor([1, 2, 3, 4, 8])).tolist() == [1, 3, 3, 5, 7]


def test_char_aligner_variant_runs_offline_with_a_flagged_random_aligner(tmp_path: Path) -> None:
    from codecbench.assets import AssetNotFound
    from codecbench.codecs.dycast.aligner import RANDOM_VOCAB
    from codecbench.config.runconfig import CodecSpec
    from codecbench.engine.jobs import build_codec

    torch.manual_seed(0)
    codec = build_codec(CodecSpec("dycast-ca", "dycast-ca", {"random_preset": "tiny"}))
    assert codec.capabilities.random_weights and codec.capabilities.character_aligned
    assert "aligner=random-tiny" in codec.weights_id
    assert RANDOM_VOCAB[0] == "<pad>" and RANDOM_VOCAB[4] == "|"  # MMS's layout: blank 0, word separator 4
    wav = 0.1 * torch.randn(2, 16000, generator=torch.Generator().manual_seed(0))
    tokens = codec.encode(wav, torch.tensor([16000, 12000]))
    for i in range(2):  # one aligner character per token
        assert len(tokens.extra["chars"][i]) == int(tokens.lengths[i])
    assert int(tokens.durations[1].sum()) == codec.model.encoder.num_frames(12000)
    assert not build_codec(CodecSpec("dycast-bp1", "dycast-bp1", {"random_preset": "tiny"})).capabilities \
        .character_aligned  # predicted boundaries: characters are not one-to-one
    with pytest.raises(AssetNotFound, match="mms-1b-all"):
        build_codec(CodecSpec("dycast-ca", "dycast-ca", {"random_preset": "tiny", "aligner": str(tmp_path / "no")}))


def test_bench_run_with_dycast_variants_end_to_end(audio_dir: Path, tmp_path: Path) -> None:
    from codecbench.config.runconfig import from_dict
    from codecbench.engine import runner
    from codecbench.results.tables import render

    config = from_dict({
        "name": "dy", "output_dir": str(tmp_path / "run"), "metric_profile": "offline", "metrics": [],
        "codecs": [{"name": f"dycast-bp{g}-tiny", "codec": f"dycast-bp{g}", "params": {"random_preset": "tiny"}}
                   for g in (1, 3, 5)],
        "datasets": {"d": {"format": "folder", "root": str(audio_dir)}},
    })
    runner.run(config, progress=False)
    md = render([tmp_path / "run"])["resynthesis"]
    assert "RANDOM WEIGHTS" in md and "dycast-bp3-tiny †" in md
    rates = {}
    for row in md.splitlines():
        if row.startswith("| dycast"):
            rates[row.split("|")[1].strip()] = float(row.split("|")[2])
    assert rates["dycast-bp1-tiny †"] >= rates["dycast-bp3-tiny †"] >= rates["dycast-bp5-tiny †"]
    assert rates["dycast-bp5-tiny †"] <= 50 / 5 + 2 / 1.5  # min_gap 5: <= 10 Hz + the first and forced last chunk
    assert math.isfinite(rates["dycast-bp1-tiny †"])


def test_rad_pool_index_and_decoding(audio_dir: Path, tmp_path: Path) -> None:
    pytest.importorskip("faiss", reason="RAD needs faiss-cpu (extra 'dycast')")
    from codecbench.cli.main import main
    from codecbench.codecs.dycast.rad import build_pool

    pool = tmp_path / "pool"
    assert main(["rad", "pool", str(pool), "--root", str(audio_dir), "--random-preset", "tiny"]) == 0
    assert main(["rad", "pool", str(pool), "--root", str(audio_dir), "--random-preset", "tiny"]) == 0
    assert len(list(pool.glob("shard_*.npy"))) == 1  # the second call resumed: nothing new
    assert main(["rad", "index", str(pool), "--nlist", "4", "--nprobe", "2", "--train-size", "100"]) == 0
    torch.manual_seed(0)
    plain = DyCASTCodec(random_preset="tiny", use_retriever=False)
    wav = torch.from_numpy(tone(1.5))[None]
    tokens = plain.encode(wav, torch.tensor([wav.shape[1]]))
    outs = {}
    for tau in (-1.0, 0.99, 2.0):
        torch.manual_seed(0)
        codec = DyCASTCodec(random_preset="tiny", use_retriever=True, sim_threshold=tau,
                            index=str(pool / "index.faiss"))
        assert torch.equal(codec.encode(wav, torch.tensor([wav.shape[1]])).codes, tokens.codes)
        outs[tau] = codec.decode(tokens)[0]
    assert torch.equal(outs[2.0], plain.decode(tokens)[0])  # nothing passes tau > 1: plain decoding
    assert not torch.equal(outs[-1.0], outs[2.0])  # every frame replaced
    assert build_pool(codec.model, [], pool, progress=False) == 0
    with pytest.raises(FileNotFoundError, match="codecbench rad pool"):
        DyCASTCodec(random_preset="tiny", use_retriever=True)


def test_mms_aligner_forward_with_a_tiny_random_wav2vec2() -> None:
    """The aligner's acoustic path (per-utterance normalisation, attention mask, CTC logits at
    the WavLM frame rate) with a tiny random Wav2Vec2ForCTC; the real MMS needs a download."""
    transformers = pytest.importorskip("transformers", reason="the MMS aligner needs transformers (extra 'paper')")
    from codecbench.codecs.dycast.aligner import MMS

    config = transformers.Wav2Vec2Config(vocab_size=10, hidden_size=16, num_hidden_layers=1, num_attention_heads=2,
                                         intermediate_size=32, conv_dim=(8,) * 7, num_conv_pos_embeddings=16,
                                         num_conv_pos_embedding_groups=2, feat_extract_norm="layer",
                                         do_stable_layer_norm=True)
    torch.manual_seed(0)
    aligner = MMS()
    aligner.model = transformers.Wav2Vec2ForCTC(config).eval()
    sig = torch.from_numpy(tone(1.5))[None].repeat(2, 1)
    length = torch.tensor([1.0, 0.6])
    logits = aligner.forward_sig(sig, length)
    assert logits.shape == (2, 74, 10)  # same 50 Hz frames as WavLM for 24000 samples
    durs, _ = aligner(sig, length)
    assert int(durs[0].sum()) == 74 and int(durs[1].sum()) == math.ceil(0.6 * 74)
    scaled = aligner.forward_sig(3.0 * sig[:1])  # per-utterance normalisation: gain-invariant
    assert torch.allclose(scaled, aligner.forward_sig(sig[:1]), atol=1e-4)


@pytest.mark.parametrize("mode", ["tokens+length", "tokens"])
def test_plugin_batch_equals_one_at_a_time(mode: str) -> None:
    """Items are never padded inside the model, so results do not depend on the batch."""
    torch.manual_seed(0)
    codec = DyCASTCodec(random_preset="tiny", min_gap=2, mode=mode)
    clips = [torch.from_numpy(tone(s, freq=f)) for s, f in ((1.0, 200), (0.7, 300), (1.0, 250))]
    wav, lengths = pad_batch(clips)
    batch = codec.encode(wav, lengths)
    out, out_lengths = codec.decode(batch)
    for i, clip in enumerate(clips):
        single = codec.encode(clip[None], torch.tensor([len(clip)]))
        assert torch.equal(batch.item(i).codes, single.codes)
        assert torch.equal(batch.item(i).durations, single.durations)
        one, one_len = codec.decode(single)
        assert int(out_lengths[i]) == int(one_len[0])
        assert torch.allclose(out[i, : int(one_len[0])], one[0], atol=1e-6)
