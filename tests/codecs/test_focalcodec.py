"""FocalCodec: parity with the official code, checkpoint formats (v0.0.2 and legacy v0.0.1), plugin."""

from __future__ import annotations

import warnings
from pathlib import Path

import pytest
import torch

from codecbench.codecs.focalcodec.legacy import remap_state_dict
from codecbench.codecs.focalcodec.model import FocalCodec
from codecbench.codecs.focalcodec.plugin import FocalCodecCodec
from codecbench.codecs.focalcodec.presets import preset
from tests.conftest import tone

pytestmark = pytest.mark.slow  # builds the real architecture

warnings.filterwarnings("ignore", message="Using padding='same'")
warnings.filterwarnings("ignore", category=DeprecationWarning)
SHARED = Path(__file__).resolve().parents[3] / "shared"
FIXTURES = SHARED / "fixtures" / "focalcodec_parity"
REFERENCE = SHARED / "reference" / "focalcodec"


def _tsv(path: Path) -> list[tuple[str, tuple[int, ...]]]:
    rows = []
    for line in path.read_text().splitlines():
        key, shape = line.split("\t")[:2]
        rows.append((key, tuple(int(x) for x in shape.strip("[]()").split(",") if x.strip())))
    return rows


def test_parity_with_official_fixtures() -> None:
    if not (FIXTURES / "manifest.json").is_file():
        pytest.skip("../shared/fixtures/focalcodec_parity not found")
    from codecbench.cli.main import main
    from codecbench.codecs.focalcodec.parity import check_folder

    checks = check_folder(FIXTURES)
    assert [c for c in checks if not c.ok] == []
    files = {c.file.split("/")[0] for c in checks}
    assert {"b1_stages.safetensors", "batch3.safetensors", "units.safetensors", "variant_lowrate",
            "variant_causal", "legacy_v001"} <= files
    streamed = {c.key for c in checks if ".stream_" in c.key}
    assert {"sig_pad.stream_rec", "speech_pad.stream_toks", "speech_pad.stream_dec1_rec"} <= streamed
    assert len(checks) >= 140
    assert main(["parity", "focalcodec", str(FIXTURES)]) == 0


def test_default_50hz_architecture_matches_official_keys_and_paper_size() -> None:
    if not (REFERENCE / "focalcodec_50hz_state_dict_keys.tsv").is_file():
        pytest.skip("../shared/reference/focalcodec not found")
    with torch.device("meta"):
        model = FocalCodec(**preset("50hz"))
    got = [(k, tuple(v.shape)) for k, v in model.state_dict().items()]
    assert got == _tsv(REFERENCE / "focalcodec_50hz_state_dict_keys.tsv")
    assert sum(v.numel() for v in model.state_dict().values()) == 142_126_257  # the paper's 142M


def test_legacy_v001_key_names_remap_to_v002() -> None:
    path = REFERENCE / "focalcodec_50hz_v001_state_dict_keys.tsv"
    if not path.is_file():
        pytest.skip("../shared/reference/focalcodec not found")
    with torch.device("meta"):
        model = FocalCodec(**preset("50hz"))
        legacy = {k: torch.empty(shape) for k, shape in _tsv(path)}
    target = model.state_dict()
    remapped = remap_state_dict(legacy, list(target))
    assert list(remapped) == list(target)
    assert all(remapped[k].shape == target[k].shape for k in target)


def test_bsq_token_order_and_roundtrip() -> None:
    from codecbench.codecs.focalcodec.bsq import BinarySphericalQuantizer

    q = BinarySphericalQuantizer(8)
    lats = torch.tensor([[1.0, -1.0, 0.5], [0.0, -0.0, 1e-30]])
    assert q.lats_to_toks(lats).tolist() == [0b101, 0b001]  # dim 0 is the most significant bit
    assert torch.equal(q.codes_to_toks(q.codebook), torch.arange(8))
    assert torch.allclose(q.codebook.norm(dim=-1), torch.ones(8))


def test_config_roundtrip_is_verbatim(tmp_path: Path) -> None:
    torch.manual_seed(0)
    model = FocalCodec(**preset("50hz", size="tiny")).eval()
    path = model.to_pretrained(tmp_path / "fc")
    loaded = FocalCodec.from_pretrained(str(path)).eval()
    sig = torch.from_numpy(tone(1.0))[None]
    assert torch.equal(model(sig)[0], loaded(sig)[0]) and torch.equal(model(sig)[2], loaded(sig)[2])
    bad = tmp_path / "bad.json"
    bad.write_text(path.read_text().replace('"encoder_name"', '"extra_key": 1, "encoder_name"'))
    with pytest.raises(TypeError, match="unknown keys"):
        FocalCodec.from_config(str(bad))


@pytest.mark.parametrize("variant, rate, bits", [("50hz", 50.0, 13), ("25hz", 25.0, 13), ("12.5hz", 12.5, 13)])
def test_plugin_rates_features_embeddings(variant: str, rate: float, bits: int) -> None:
    torch.manual_seed(0)
    codec = FocalCodecCodec(variant=variant, size="tiny")
    assert codec.capabilities.random_weights and codec.nominal_frame_rate == rate
    assert codec.nominal_bitrate == rate * bits
    wav = torch.from_numpy(tone(3.0))[None]
    tokens = codec.encode(wav, torch.tensor([wav.shape[1]]))
    assert abs(float(codec.measured_frames(tokens)[0]) / 3.0 - rate) / rate < 0.02
    assert int(tokens.codes.max()) < 8192
    feats = codec.features(tokens)
    assert feats.shape[-1] == 32 and feats.shape[1] == int(tokens.lengths[0]) * round(50 / rate)
    (table,) = codec.embeddings()
    assert table.shape == (8192, 13)


def test_streaming_code_defaults_match_official_keys() -> None:
    path = REFERENCE / "focalcodec_stream_code_defaults_state_dict_keys.tsv"
    if not path.is_file():
        pytest.skip("../shared/reference/focalcodec not found")
    with torch.device("meta"):
        model = FocalCodec(**preset("50hz-4k-causal"))
    assert [(k, tuple(v.shape)) for k, v in model.state_dict().items()] == _tsv(path)
    assert model.info()["latency"] == 80.0 and model.sample_rate_output == 24000


def test_streaming_equals_full_sequence_on_whole_chunks() -> None:
    """Chunk-by-chunk encoding and decoding (80 ms chunks) equals one full call."""
    torch.manual_seed(0)
    model = FocalCodec(**preset("50hz-4k-causal", size="tiny")).eval()
    model.encoder.encoder.window_size = model.encoder.window_size = 16  # let the key/value cache roll
    x = torch.from_numpy(tone(1.6))[None]  # 25600 samples = 20 chunks of 1280
    with torch.no_grad():
        toks, _, rec = model(x)
        state: list = []
        parts_t, parts_r = [], []
        for i in range(0, x.shape[1], model.chunk_size):
            t, _, r, *state = model(x[:, i:i + model.chunk_size], *state, return_state=True)
            parts_t.append(t)
            parts_r.append(r)
    assert torch.equal(torch.cat(parts_t, dim=1), toks)
    assert torch.allclose(torch.cat(parts_r, dim=-1), rec, atol=1e-5)


def test_streaming_plugin_variant_runs() -> None:
    torch.manual_seed(0)
    codec = FocalCodecCodec(variant="50hz-4k-causal", size="tiny")
    assert codec.sample_rate == 16000 and codec.output_sample_rate == 24000
    wav = torch.from_numpy(tone(1.0))[None]
    tokens = codec.encode(wav, torch.tensor([wav.shape[1]]))
    assert int(tokens.lengths[0]) == 50 and codec.codebook_sizes == [4096]
    out, lengths = codec.decode(tokens)
    assert int(lengths[0]) == 50 * 480
