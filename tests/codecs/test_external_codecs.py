"""Adapters of the codecs whose official code cannot be installed beside torch 2.13 (WavLM6-KM,
SemantiCodec, Stable Codec; they run in their own tox environments). Here the adapters' own logic
(shapes, padding, token layout, embeddings, kNN-VC hooks, offline errors) runs against small fakes
of the official APIs; the official models themselves are NOT exercised."""

from __future__ import annotations

import importlib
import importlib.machinery
import math
import sys
import types
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf
import torch

from codecbench.assets import AssetNotFound


def _import_with_fake(monkeypatch: pytest.MonkeyPatch, module: str, package: str, **attrs: object):
    """Import ``codecbench.codecs.<module>`` with a fake ``package`` installed (its registration is undone
    after the test, as every test's)."""
    fake = types.ModuleType(package)
    fake.__spec__ = importlib.machinery.ModuleSpec(package, None)
    for key, value in attrs.items():
        setattr(fake, key, value)
    monkeypatch.setitem(sys.modules, package, fake)
    name = f"codecbench.codecs.{module}"
    monkeypatch.setitem(sys.modules, name, None)  # teardown then restores the module table as it was
    monkeypatch.delitem(sys.modules, name)
    return importlib.import_module(name)


class FakeDiscreteWavLM(torch.nn.Module):
    """The official discrete_wavlm_large surface: feats [B, N, H, K], toks [B, N, K], 320 samples/frame."""

    def __init__(self, dim: int = 4) -> None:
        super().__init__()
        centroids = torch.randn(512, dim, generator=torch.Generator().manual_seed(0))
        self.centroids = torch.nn.Parameter(centroids, requires_grad=False)
        self.dim = dim

    def sig_to_feats(self, sig: torch.Tensor) -> torch.Tensor:
        frames = sig[:, : sig.shape[1] // 320 * 320].reshape(sig.shape[0], -1, 320)
        return frames[..., : self.dim][..., None] * 10

    def feats_to_toks(self, feats: torch.Tensor) -> torch.Tensor:
        return torch.cdist(feats[..., 0], self.centroids[None]).argmin(-1)[..., None]

    def toks_to_qfeats(self, toks: torch.Tensor) -> torch.Tensor:
        return self.centroids[toks].movedim(-1, -2)  # [..., H, K]

    def qfeats_to_feats(self, qfeats: torch.Tensor) -> torch.Tensor:
        return qfeats

    def feats_to_sig(self, feats: torch.Tensor) -> torch.Tensor:
        return feats.mean(dim=(-2, -1)).repeat_interleave(320, dim=1)[:, None]


def test_wavlm6_km_adapter(monkeypatch: pytest.MonkeyPatch) -> None:
    mod = _import_with_fake(monkeypatch, "wavlm6_km", "speechbrain")
    monkeypatch.delenv("CODECBENCH_ASSET_WAVLM6_KM_REPO", raising=False)
    with pytest.raises(AssetNotFound, match="CODECBENCH_ASSET_WAVLM6_KM_REPO"):
        mod.load_hub_model(None, (6,))  # offline in tests: no clone, no GitHub
    monkeypatch.setattr(mod, "load_hub_model", lambda repo, layers: FakeDiscreteWavLM())
    codec = mod.WavLM6KM()
    wav, lengths = torch.randn(2, 3200), torch.tensor([3200, 1600])
    tokens = codec.encode(wav, lengths)
    assert tokens.codes.shape == (2, 10, 1) and tokens.lengths.tolist() == [10, 5]
    assert int(tokens.codes.max()) < 512
    out, out_len = codec.decode(tokens)
    assert out_len.tolist() == [3200, 1600]
    assert [e.shape for e in codec.embeddings()] == [(512, 4)]
    assert codec.features(tokens).shape == (2, 10, 4)
    assert codec.encoder_features(wav, lengths).shape == (2, 10, 4)
    sig, sig_len = codec.decode_features(codec.features(tokens)[:1], torch.tensor([10]))
    assert sig.shape == (1, 3200) and sig_len.tolist() == [3200]
    assert codec.nominal_bitrate == 450.0


class FakeSemantiCodec:
    """``encode(path)`` -> tokens [1, N, 2] at 25 Hz; ``decode(tokens)`` -> [1, 1, 640 N] (numpy)."""

    def __init__(self, **kwargs: object) -> None:
        self.kwargs = kwargs
        self.encoder = types.SimpleNamespace(
            unquant=lambda idx: torch.ones(*idx.shape, 6),
            quantizer=types.SimpleNamespace(get_output_from_indices=lambda idx: torch.zeros(*idx.shape, 6)))

    def encode(self, path: str) -> np.ndarray:
        audio, rate = sf.read(path)
        assert rate == 16000
        n = math.ceil(len(audio) / 640)
        return np.stack([np.arange(n) % 8192, np.full(n, 7)], axis=-1)[None]

    def decode(self, tokens: torch.Tensor) -> np.ndarray:
        assert tokens.shape[0] == 1 and tokens.shape[-1] == 2
        return np.zeros((1, 1, tokens.shape[1] * 640), dtype=np.float32)


def test_semanticodec_adapter(monkeypatch: pytest.MonkeyPatch) -> None:
    mod = _import_with_fake(monkeypatch, "semanticodec_2cb", "semanticodec", SemantiCodec=FakeSemantiCodec)
    with pytest.raises(AssetNotFound, match="haoheliu/SemantiCodec"):
        mod.SemantiCodec2cb()
    monkeypatch.setenv("HF_HUB_OFFLINE", "0")
    codec = mod.SemantiCodec2cb()
    assert codec.model.kwargs == {"token_rate": 50, "semantic_vocab_size": 8192, "ddim_sample_step": 50,
                                  "cfg_scale": 2.0}
    assert codec.nominal_frame_rate == 25.0 and codec.nominal_bitrate == pytest.approx(650.0)
    wav, lengths = 0.1 * torch.randn(2, 16000), torch.tensor([16000, 8000])
    tokens = codec.encode(wav, lengths)
    assert tokens.codes.shape == (2, 25, 2) and tokens.lengths.tolist() == [25, 13]
    assert tokens.codes[0, :, 1].eq(7).all()
    out, out_len = codec.decode(tokens)
    assert out_len.tolist() == [16000, 8320]
    assert [e.shape for e in codec.embeddings()] == [(8192, 6), (8192, 6)]


class FakeStableCodec:
    """The stable_codec API: 640 samples per frame, K x [B, N, 1] tokens, inputs a multiple of 320."""

    def __init__(self, pretrained_model: str | None = None, model_config_path: str | None = None,
                 ckpt_path: str | None = None) -> None:
        self.source = pretrained_model or (model_config_path, ckpt_path)
        self.weight = torch.nn.Parameter(torch.zeros(1))
        self.residual_fsq = types.SimpleNamespace(quantizers=[
            types.SimpleNamespace(indices_to_codes=lambda idx: torch.zeros(idx.shape[0], 1, 6))] * 2)

    def parameters(self):
        return iter([self.weight])

    def set_posthoc_bottleneck(self, preset: str) -> None:
        self.preset = preset

    def encode(self, x: torch.Tensor, posthoc_bottleneck: bool = False):
        assert x.dim() == 3 and x.shape[-1] % 320 == 0 and posthoc_bottleneck
        n = math.ceil(x.shape[-1] / 640)
        toks = torch.arange(n).expand(x.shape[0], n)[..., None]
        return torch.zeros(x.shape[0], 6, n), [toks, toks + 1]

    def decode(self, tokens: list, posthoc_bottleneck: bool = False) -> torch.Tensor:
        assert len(tokens) == 2 and tokens[0].shape[-1] == 1 and posthoc_bottleneck
        return torch.zeros(tokens[0].shape[0], 1, tokens[0].shape[1] * 640)


def test_stablecodec_adapter(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    mod = _import_with_fake(monkeypatch, "stablecodec_2x15625", "stable_codec", StableCodec=FakeStableCodec)
    with pytest.raises(AssetNotFound, match="stabilityai/stable-codec-speech-16k"):
        mod.StableCodec2x15625()
    with pytest.raises(ValueError, match="no post-hoc bottleneck 3x15625"):
        mod.StableCodec2x15625(num_codebooks=3)
    with pytest.raises(AssetNotFound, match="model_config.json"):
        mod.StableCodec2x15625(checkpoint=str(tmp_path))
    (tmp_path / "model_config.json").write_text("{}")
    (tmp_path / "model.ckpt").write_bytes(b"")
    codec = mod.StableCodec2x15625(checkpoint=str(tmp_path))
    assert codec.model.preset == "2x15625_700bps"
    assert codec.nominal_bitrate == pytest.approx(696.6, abs=0.1)
    tokens = codec.encode(torch.randn(2, 1000), torch.tensor([1000, 700]))  # padded to 1280 / 960
    assert tokens.codes.shape == (2, 2, 2) and tokens.lengths.tolist() == [2, 2]
    assert torch.equal(tokens.codes[0, :, 1], tokens.codes[0, :, 0] + 1)
    out, out_len = codec.decode(tokens)
    assert out_len.tolist() == [1280, 1280]
    assert [e.shape for e in codec.embeddings()] == [(15625, 6), (15625, 6)]
