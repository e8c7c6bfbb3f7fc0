"""FocalCodec: parity with the official code, checkpoint formats (v0.0.2 and legacy v0.0.1), plugin."""

from __future__ import annotations

import warnings
from pathlib import Path

import pytest
import torch
from bench.codecs.focalcodec import FocalCodec, FocalCodecCodec
from bench.codecs.focalcodec.legacy import remap_state_dict
from bench.codecs.focalcodec.presets import preset

from .conftest import tone

warnings.filterwarnings("ignore", message="Using padding='same'")
warnings.filterwarnings("ignore", category=DeprecationWarning)
SHARED = Path(__file__).resolve().parents[2] / "shared"
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
    from bench.codecs.focalcodec.parity import check_folder

    checks = check_folder(FIXTURES)
    failing = [c for c in checks if not c.ok]
    files = {c.file.split("/")[0] for c in checks if c.ok}
    assert {"b1_stages.safetensors", "batch3.safetensors", "units.safetensors", "variant_lowrate",
            "legacy_v001"} <= files
    assert len([c for c in checks if c.ok]) >= 100
    # The streaming (causal) blocks are not implemented yet: the only failure, reported as such.
    assert [(c.file, c.detail.split(":")[0]) for c in failing] == [("variant_causal", "not implemented")]


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
    from bench.codecs.focalcodec.bsq import BinarySphericalQuantizer

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


def test_streaming_variants_say_what_is_missing() -> None:
    with pytest.raises(NotImplementedError, match="causal"):
        FocalCodecCodec(variant="50hz-4k-causal", size="tiny")
