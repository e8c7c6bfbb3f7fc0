"""WavTokenizer: official key layout, Lightning checkpoint loading, SEANet framing, plugin hooks.
The official weights are not downloadable here: the real architecture runs with random weights
(numerical parity with the release is not exercised)."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch

from codecbench.assets import AssetNotFound
from codecbench.codecs._blocks.seanet import SConv1d, SEANetEncoder
from codecbench.codecs.wavtokenizer.model import WavTokenizer
from codecbench.codecs.wavtokenizer.plugin import WavTokenizerCodec, load_lightning_state

pytestmark = pytest.mark.slow  # builds the real architecture

SMALL = {"ratios": (2, 3), "codebook_size": 64, "dim": 64, "intermediate_dim": 96, "num_layers": 2,
         "adanorm_num_embeddings": 4, "n_fft": 24, "hop_length": 6}


def test_default_model_has_official_keys_and_size() -> None:
    torch.manual_seed(0)
    state = WavTokenizer().state_dict()
    fe = "feature_extractor.encodec."
    assert state[fe + "encoder.model.0.conv.conv.weight_v"].shape == (32, 1, 7)
    assert state[fe + "encoder.model.3.conv.conv.weight_v"].shape == (64, 32, 8)  # first stride: 4
    assert state[fe + "encoder.model.12.conv.conv.weight_v"].shape == (512, 256, 12)  # last stride: 6
    assert state[fe + "encoder.model.13.lstm.weight_hh_l1"].shape == (2048, 512)
    assert state[fe + "quantizer.vq.layers.0._codebook.embed"].shape == (4096, 512)
    assert state["backbone.pos_net.2.q.weight"].shape == (768, 768, 1)
    assert state["backbone.pos_net.5.weight"].shape == (768,)
    assert state["backbone.convnext.11.norm.scale.weight"].shape == (4, 768)
    assert state["head.out.weight"].shape == (2402, 768)
    params = sum(p.numel() for p in WavTokenizer().parameters())
    assert params == 72_111_714  # + 8.8M unused SEANet decoder + 4.2M VQ buffers = paper's 85M


def test_lightning_checkpoint_loads_dropping_training_parts(tmp_path: Path) -> None:
    torch.manual_seed(0)
    src = WavTokenizer(**SMALL).eval()
    state = dict(src.state_dict())
    state["head.istft.window"] = torch.hann_window(24)
    state["feature_extractor.encodec.decoder.model.0.conv.conv.weight_v"] = torch.zeros(1)
    state["multiperioddisc.discriminators.0.convs.0.weight"] = torch.zeros(1)
    torch.save({"state_dict": state, "epoch": 3}, tmp_path / "m.ckpt")
    dst = WavTokenizer(**SMALL).eval()
    dst.load_official(load_lightning_state(str(tmp_path / "m.ckpt"), trust_checkpoint=False))
    x = 0.1 * torch.randn(1, 120)
    with torch.inference_mode():
        assert torch.equal(src.sig_to_toks(x), dst.sig_to_toks(x))
    del state["backbone.embed.weight"]
    with pytest.raises(RuntimeError, match="backbone.embed.weight"):
        dst.load_official(state)


def test_pickled_training_objects_need_trust(tmp_path: Path) -> None:
    torch.save({"state_dict": {}, "hyper_parameters": Path("x")}, tmp_path / "m.ckpt")
    with pytest.raises(AssetNotFound, match="trust_checkpoint"):
        load_lightning_state(str(tmp_path / "m.ckpt"), trust_checkpoint=False)
    assert load_lightning_state(str(tmp_path / "m.ckpt"), trust_checkpoint=True) == {}


@pytest.mark.parametrize("length", [1, 5, 599, 600, 601, 1800])
def test_seanet_frames_are_ceil_of_length_over_hop(length: int) -> None:
    torch.manual_seed(0)
    enc = SEANetEncoder(ratios=(6, 5, 5, 4), dimension=8, n_filters=2)
    assert enc(torch.randn(1, 1, length)).shape == (1, 8, -(-length // 600))
    conv = SConv1d(1, 1, 7)  # reflect padding of an input shorter than the padding
    assert conv(torch.randn(1, 1, 2)).shape == (1, 1, 2)


def test_plugin_hooks_and_offline_error(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("CODECBENCH_ASSET_WAVTOKENIZER_40HZ", raising=False)
    with pytest.raises(AssetNotFound, match="wavtokenizer_large_unify_600_24k.ckpt"):
        WavTokenizerCodec(checkpoint="novateur/WavTokenizer-large-unify-40token")  # HF_HUB_OFFLINE=1 in tests
    monkeypatch.setattr("codecbench.codecs.wavtokenizer.plugin.LARGE_40HZ", SMALL)
    torch.manual_seed(0)
    codec = WavTokenizerCodec()
    wav, lengths = 0.1 * torch.randn(2, 60), torch.tensor([60, 45])
    tokens = codec.encode(wav, lengths)
    assert tokens.lengths.tolist() == [10, 8]
    assert [e.shape for e in codec.embeddings()] == [(64, 512)]
    assert codec.features(tokens).shape == (2, 10, 512)
    assert codec.encoder_features(wav, lengths).shape == (2, 10, 512)
    out, out_len = codec.decode_features(codec.features(tokens)[:1], torch.tensor([10]))
    assert out.shape == (1, 60) and out_len.tolist() == [60]
