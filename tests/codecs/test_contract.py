"""Contract tests, parametrized over every registered (installed) codec."""

from __future__ import annotations

import gc
from collections.abc import Iterator

import pytest
import torch

from bench.audio import resample
from bench.codec import Codec, Tokens, pad_batch
from bench.config import CodecSpec
from bench.registry import CODECS, discover
from bench.runner import build_codec
from tests.conftest import tone

pytestmark = pytest.mark.slow  # builds every codec's real architecture

discover()
#: every installed codec, DyCAST included; each built from its declared ``test_params`` (a small
#: random-weight instance of the real architecture where the plugin offers one)
NAMES = CODECS.names()


def _clip(codec: Codec, seconds: float, seed: int = 0) -> torch.Tensor:
    return torch.from_numpy(resample(tone(seconds, 16000, 200 + 30 * seed, seed), 16000, codec.sample_rate))


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


@torch.inference_mode()
def test_roundtrip_shapes_range_and_length(codec: Codec) -> None:
    x = _clip(codec, 3.0)
    tokens = codec.encode(x[None], torch.tensor([len(x)]))
    assert tokens.codes.dim() == 3 and tokens.codes.shape[2] == len(codec.codebook_sizes)
    for k, vocab in enumerate(codec.codebook_sizes):
        stream = tokens.codes[0, : int(tokens.lengths[0]), k]
        assert int(stream.min()) >= 0 and int(stream.max()) < vocab
    wav, lengths = codec.decode(tokens)
    # one frame of slack (variable-rate codecs: one frame of their underlying grid, 20 ms)
    hop = codec.output_sample_rate / (codec.nominal_frame_rate or 50.0)
    expected = len(x) * codec.output_sample_rate / codec.sample_rate
    assert abs(int(lengths[0]) - expected) <= hop
    assert torch.isfinite(wav).all()


@torch.inference_mode()
def test_measured_frame_rate_matches_nominal(codec: Codec) -> None:
    x = _clip(codec, 3.0)
    tokens = codec.encode(x[None], torch.tensor([len(x)]))
    rate = float(codec.measured_frames(tokens)[0]) / 3.0
    if codec.capabilities.variable_rate:  # no nominal rate: frames are counted, one per token
        assert codec.nominal_frame_rate is None and tokens.durations is not None
        assert rate == pytest.approx(int(tokens.lengths[0]) / 3.0)
        return
    assert codec.nominal_frame_rate is not None
    assert rate == pytest.approx(codec.nominal_frame_rate, rel=0.02)
    if codec.nominal_bitrate is not None:
        assert float(codec.measured_bits(tokens)[0]) / 3.0 == pytest.approx(codec.nominal_bitrate, rel=0.02)


@torch.inference_mode()
def test_batch_equals_one_at_a_time(codec: Codec) -> None:
    clips = [_clip(codec, s, i) for i, s in enumerate((1.0, 1.7, 0.6))]
    x, lengths = pad_batch(clips)
    batch = codec.encode(x, lengths)
    wav, out_lengths = codec.decode(batch)
    for i, clip in enumerate(clips):
        single = codec.encode(clip[None], torch.tensor([len(clip)]))
        assert torch.equal(batch.item(i).codes, single.codes)
        one, one_len = codec.decode(single)
        assert int(out_lengths[i]) == int(one_len[0])
        assert torch.allclose(wav[i, : int(one_len[0])], one[0, : int(one_len[0])], atol=1e-6)


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
    x = _clip(codec, 1.0)
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
    from bench.codecs.opus import OpusCodec

    with pytest.raises(ValueError, match="compression_level"):
        OpusCodec(compression_level=2.0)
    with pytest.raises(ValueError, match="sample_rate"):
        OpusCodec(sample_rate=22050)
