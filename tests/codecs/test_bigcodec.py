"""BigCodec: official key layout and shapes, checkpoint loading, weight-norm and anti-aliasing
blocks, kNN-VC hooks. The official weights are not downloadable here: the real architecture
runs with random weights (numerical parity with the release is not exercised)."""

from __future__ import annotations

import warnings
from pathlib import Path

import pytest
import torch

from codecbench.assets import AssetNotFound
from codecbench.codecs._blocks.antialias import Activation1d, kaiser_sinc_filter
from codecbench.codecs._blocks.weightnorm import (
    WNConv1d,
    WNConvTranspose1d,
    WNLinear,
    legacy_weight_norm_keys,
)
from codecbench.codecs.bigcodec.model import BigCodec
from codecbench.codecs.bigcodec.plugin import BigCodecCodec

pytestmark = pytest.mark.slow  # builds the real architecture

SMALL = {"encoder": {"ngf": 4}, "decoder": {"upsample_initial_channel": 64}}


def test_default_model_has_official_keys_shapes_and_size() -> None:
    torch.manual_seed(0)
    model = BigCodec()
    enc, dec = model.encoder.state_dict(), model.decoder.state_dict()
    assert enc["block.0.weight_v"].shape == (48, 1, 7)
    assert enc["block.5.block.4.weight_v"].shape == (1536, 768, 10)  # last stride-5 conv
    assert enc["block.6.lstm.weight_ih_l1"].shape == (4 * 1536, 1536)
    assert enc["block.8.weight_v"].shape == (1024, 1536, 3)
    assert enc["block.1.block.0.block.0.downsample.lowpass.filter"].shape == (1, 1, 12)
    assert dec["quantizer.layers.0._codebook.weight"].shape == (8192, 8)
    assert dec["quantizer.layers.0.in_proj.weight_g"].shape == (8, 1)
    assert dec["model.2.block.1.weight_v"].shape == (1536, 768, 10)  # first transposed conv (stride 5)
    assert dec["model.8.weight_v"].shape == (1, 48, 7)
    assert sum(p.numel() for p in model.parameters()) == 159_436_290  # paper Table 1: 160M


def test_official_checkpoint_dict_loads_including_new_weight_norm_keys(tmp_path: Path) -> None:
    torch.manual_seed(0)
    src = BigCodec(**SMALL)
    generator = {k.replace("weight_g", "parametrizations.weight.original0")
                 .replace("weight_v", "parametrizations.weight.original1"): v
                 for k, v in src.decoder.state_dict().items()}
    torch.save({"CodecEnc": src.encoder.state_dict(), "generator": generator}, tmp_path / "bigcodec.pt")
    dst = BigCodec(**SMALL)
    dst.load_official(torch.load(tmp_path / "bigcodec.pt", weights_only=True))
    x = 0.1 * torch.randn(1, 800)
    with torch.inference_mode():
        assert torch.equal(src.sig_to_toks(x), dst.sig_to_toks(x))
    with pytest.raises(KeyError, match="CodecEnc"):
        dst.load_official({"generator": generator})


def test_small_model_rates_and_lengths() -> None:
    torch.manual_seed(0)
    model = BigCodec(**SMALL).eval()
    with torch.inference_mode():
        codes = model.sig_to_toks(0.1 * torch.randn(2, 1600))
        assert codes.shape == (2, 8, 1) and int(codes.max()) < 8192
        assert model.sig_to_feats(0.1 * torch.randn(2, 1600)).shape == (2, 8, 1024)
        assert model.feats_to_sig(model.toks_to_qfeats(codes)).shape == (2, 1600)


def test_weight_norm_layers_match_torch_weight_norm() -> None:
    torch.manual_seed(0)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        for ours, theirs, x in (
            (WNConv1d(3, 5, 3, padding=1), torch.nn.utils.weight_norm(torch.nn.Conv1d(3, 5, 3, padding=1)),
             torch.randn(2, 3, 9)),
            (WNConvTranspose1d(3, 5, 4, stride=2, padding=1),
             torch.nn.utils.weight_norm(torch.nn.ConvTranspose1d(3, 5, 4, stride=2, padding=1)), torch.randn(2, 3, 9)),
            (WNLinear(3, 5), torch.nn.utils.weight_norm(torch.nn.Linear(3, 5)), torch.randn(2, 3)),
        ):
            assert set(ours.state_dict()) == set(theirs.state_dict()) == {"bias", "weight_g", "weight_v"}
            ours.load_state_dict(theirs.state_dict())
            assert torch.allclose(ours(x), theirs(x), atol=1e-6)
    renamed = legacy_weight_norm_keys({"a.parametrizations.weight.original0": torch.ones(1),
                                       "a.parametrizations.weight.original1": torch.zeros(1)})
    assert set(renamed) == {"a.weight_g", "a.weight_v"}


def test_antialiased_activation_keeps_length_and_dc() -> None:
    taps = kaiser_sinc_filter(0.25, 0.3, 12)
    assert taps.shape == (1, 1, 12) and float(taps.sum()) == pytest.approx(1.0, abs=1e-6)
    act = Activation1d(4)
    x = torch.randn(2, 4, 37)
    assert act(x).shape == x.shape
    # with alpha=beta=1, SnakeBeta maps a constant c to c + sin(c)^2; the filters keep DC
    c = torch.full((1, 4, 40), 0.5)
    assert torch.allclose(act(c)[..., 8:-8], torch.full((1, 4, 24), 0.5 + torch.sin(torch.tensor(0.5)) ** 2),
                          atol=1e-4)


def test_plugin_features_embeddings_and_missing_weights(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("CODECBENCH_ASSET_BIGCODEC", raising=False)
    with pytest.raises(AssetNotFound, match="bigcodec.pt"):
        BigCodecCodec(checkpoint="Alethia/BigCodec")  # HF_HUB_OFFLINE=1 in tests
    monkeypatch.setattr("codecbench.codecs.bigcodec.plugin.BigCodec", lambda: BigCodec(**SMALL))
    torch.manual_seed(0)
    codec = BigCodecCodec()
    assert codec.capabilities.random_weights and codec.capabilities.has_features
    wav = 0.1 * torch.randn(2, 1000)
    lengths = torch.tensor([1000, 700])
    tokens = codec.encode(wav, lengths)
    assert tokens.lengths.tolist() == [5, 3]  # unpadded, as the authors' wrapper: 700 samples -> 3 whole frames
    padded = BigCodecCodec(padding="frames")
    padded.load_state_dict(codec.state_dict())
    assert padded.encode(wav, lengths).lengths.tolist() == [5, 4]  # padding: frames -> 800 samples
    assert [e.shape for e in codec.embeddings()] == [(8192, 8)]
    feats = codec.features(tokens)
    assert feats.shape == (2, 5, 1024)
    matching = codec.encoder_features(wav, lengths)
    assert matching.shape == (2, 5, 1024)
    out, out_len = codec.decode_features(feats[:1, :4], torch.tensor([4]))
    assert out.shape == (1, 800) and out_len.tolist() == [800]
