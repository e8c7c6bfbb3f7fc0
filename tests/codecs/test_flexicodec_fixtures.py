"""FlexiCodec groundwork (issue 29): the seeded weights both implementations are given, and the parity fixtures
recorded from the official code with them (tests/fixtures/flexicodec_parity, scripts/flexicodec_record_fixtures.py).
The in-tree model that replays them comes next; these tests pin what it will be checked against."""

from __future__ import annotations

import json
from pathlib import Path

import torch
from bench.codecs.flexicodec.seeded import seed_parameters, seeded_values
from safetensors.torch import load_file
from torch import nn

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "flexicodec_parity"


def test_seeded_values_depend_on_name_seed_and_shape_only() -> None:
    a = seeded_values("dac.encoder.block.0.weight_v", (8, 1, 7), 0)
    assert torch.equal(a, seeded_values("dac.encoder.block.0.weight_v", (8, 1, 7), 0))  # the same, every call
    assert not torch.equal(a, seeded_values("dac.encoder.block.0.weight_v", (8, 1, 7), 1))
    assert not torch.equal(a, seeded_values("dac.encoder.block.1.weight_v", (8, 1, 7), 0))
    assert a.dtype == torch.float32 and float(a.abs().max()) <= 1 / 7**0.5  # fan_in 7
    gain, bias = seeded_values("x.norm.weight", (64,), 0), seeded_values("x.norm.bias", (64,), 0)
    assert float((gain - 1).abs().max()) <= 0.1 and float(bias.abs().max()) <= 0.1
    # pinned, bit for bit: the values the official environment (torch 2.5.1) computed too when it recorded the
    # fixtures; a change to the generator would silently give the in-tree model other weights than the fixtures'
    assert seeded_values("probe", (2, 3), 0).tolist() == [
        [-0.2671579122543335, -0.39757809042930603, 0.4664260149002075],
        [-0.531609833240509, 0.20474201440811157, -0.2563038468360901]]
    assert seeded_values("probe.bias", (2,), 0).tolist() == [0.06811127066612244, -0.009309502318501472]


def test_seed_parameters_sets_every_parameter_and_leaves_buffers() -> None:
    layer = nn.BatchNorm1d(4)
    seed_parameters(layer, 3)
    assert torch.equal(layer.weight, seeded_values("weight", (4,), 3)) and torch.equal(layer.running_var, torch.ones(4))


def test_the_recorded_fixtures_are_whole_and_show_the_official_merging_rule() -> None:
    manifest = json.loads((FIXTURES / "manifest.json").read_text())
    config = json.loads((FIXTURES / "config.json").read_text())["flexicodec"]
    cases = load_file(FIXTURES / "cases.safetensors")
    assert set(manifest["tensors"]) == set(cases) and manifest["recorded_with"]["flexicodec"] == "0.1.2"
    assert any(k.startswith("semantic_model.encoder.") for k in manifest["state_dict"])  # SenseVoice's keys too
    groups = {}
    for case in ("case0", "case1"):
        frames = cases[f"{case}.similarity"].numel() + 1  # 12.5 Hz frames
        for threshold in manifest["thresholds"]:
            lengths = cases[f"{case}.t{threshold}.token_lengths"]
            assert int(lengths.sum()) == frames and int(lengths.max()) <= config["max_tokens_per_group"]
            assert int(cases[f"{case}.t{threshold}.semantic_codes"].max()) < 8**5  # FSQ levels [8] * 5
            assert int(cases[f"{case}.t{threshold}.acoustic_codes"].max()) < config["codebook_size"]
            assert cases[f"{case}.t{threshold}.acoustic_codes"].shape[0] == manifest["num_quantizers"] - 1
            groups[case, threshold] = lengths.numel()
        by_threshold = [groups[case, t] for t in sorted(manifest["thresholds"], reverse=True)]
        assert by_threshold == sorted(by_threshold, reverse=True)  # a lower threshold merges more
        assert groups[case, 1.0] == frames  # 1.0: no merging, a 12.5 Hz codec
        assert cases[f"{case}.t-1.0.token_lengths"][:-1].tolist() == [8] * (groups[case, -1.0] - 1)
