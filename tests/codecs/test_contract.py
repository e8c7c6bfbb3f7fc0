"""Contract tests, parametrized over every registered (installed) codec: the checks of :mod:`codecbench.api.contract`
(what ``codecbench check-codec NAME`` runs), and a few codec-specific ones."""

from __future__ import annotations

import gc
from collections.abc import Iterator

import pytest
import torch

from codecbench.api.codec import Codec, Tokens
from codecbench.api.contract import CHECKS, clip
from codecbench.config.runconfig import CodecSpec
from codecbench.engine.jobs import build_codec
from codecbench.plugins.registry import CODECS, discover

pytestmark = pytest.mark.slow  # builds every codec's real architecture

discover()
#: every installed codec that encodes, DyCAST included; each built from its declared ``test_params`` (a small
#: random-weight instance of the real architecture where the plugin offers one). A codec that reads recorded
#: outputs encodes nothing: it has no contract (codecbench check-codec says so; tests/core/test_score.py covers it)
NAMES = [name for name in CODECS.names() if not CODECS.get(name).cls.capabilities.recorded]


@pytest.fixture(params=NAMES, scope="module")
def codec(request: pytest.FixtureRequest) -> Iterator[Codec]:
    """Each codec built once, with random weights where no checkpoint is configured."""
    torch.manual_seed(0)
    params = dict(CODECS.get(request.param).cls.test_params)
    try:
        built = build_codec(CodecSpec(request.param, request.param, params))
    except NotImplementedError as err:
        pytest.skip(f"{request.param} cannot be built here: {err}")
    yield built
    del built
    gc.collect()


@pytest.mark.parametrize("check", list(CHECKS))
def test_contract(codec: Codec, check: str) -> None:
    """The checks ``codecbench check-codec NAME`` runs (:mod:`codecbench.api.contract`): round trip, frame rate,
    batching."""
    CHECKS[check](codec)


def test_tokens_collate_and_item_roundtrip() -> None:
    a = Tokens(codes=torch.ones(1, 3, 2, dtype=torch.long), lengths=torch.tensor([3]), num_samples=torch.tensor([30]))
    b = Tokens(codes=torch.zeros(1, 5, 2, dtype=torch.long), lengths=torch.tensor([5]), num_samples=torch.tensor([50]))
    both = Tokens.collate([a, b])
    assert both.codes.shape == (2, 5, 2)
    assert torch.equal(both.item(0).codes, a.codes) and torch.equal(both.item(1).codes, b.codes)
    with pytest.raises(ValueError, match=r"\[B, N, K\]"):
        Tokens(codes=torch.zeros(3, 2), lengths=torch.tensor([3]), num_samples=torch.tensor([3]))


def test_mulaw_is_near_lossless() -> None:
    codec = build_codec(CodecSpec("mulaw-8bit", "mulaw-8bit"))
    x = clip(codec, 1.0)
    wav, _ = codec.decode(codec.encode(x[None], torch.tensor([len(x)])))
    snr = 10 * torch.log10(x.pow(2).sum() / (wav[0] - x).pow(2).sum())
    assert snr > 25


def test_reference_returns_16_bit_audio_bit_for_bit() -> None:
    """16-bit PCM read as floats (k / 32768, soundfile's convention) comes back unchanged, extremes included,
    so the reference row's output is the original audio the caches already know."""
    codec = build_codec(CodecSpec("reference", "reference"))
    pcm = torch.tensor([-32768, -32767, -16385, -1, 0, 1, 16384, 32767] * 4)
    x = (pcm.float() / 32768)[None]
    wav, _ = codec.decode(codec.encode(x, torch.tensor([x.shape[1]])))
    assert torch.equal(wav, x)
    loud = torch.tensor([[1.5, -1.5]])  # beyond full scale: clipped to the 16-bit range
    wav, _ = codec.decode(codec.encode(loud, torch.tensor([2])))
    assert wav.tolist() == [[32767 / 32768, -1.0]]


def test_bad_codec_params_raise_clear_errors() -> None:
    from codecbench.codecs.opus import OpusCodec

    with pytest.raises(ValueError, match="compression_level"):
        OpusCodec(compression_level=2.0)
    with pytest.raises(ValueError, match="sample_rate"):
        OpusCodec(sample_rate=22050)
