"""The asset layer: one resolver for codec checkpoints and metric models, the environment variable
derived one way, the random-weights fallback flagged once, config ``assets:`` for any declared asset."""

from __future__ import annotations

import logging
from pathlib import Path

import pytest
import torch

from codecbench import assets
from codecbench.config.runconfig import CodecSpec
from codecbench.engine.jobs import build_codec

TOY = assets.Asset("toy-model-1.5", "a toy model folder", "someone/toy", hub_id="someone/toy", files=("config.json",))


@pytest.fixture
def toy() -> assets.Asset:
    assets.declare(TOY)  # the per-test registry fixture forgets it afterwards
    return TOY


def test_env_var_is_derived_one_way() -> None:
    assert assets.env_var("encodec-24khz-1.5kbps") == "CODECBENCH_ASSET_ENCODEC_24KHZ_1_5KBPS"
    assert assets.env_var("focalcodec-12.5hz") == "CODECBENCH_ASSET_FOCALCODEC_12_5HZ"
    assert assets.env_var("dycast") == "CODECBENCH_ASSET_DYCAST"


def test_resolution_order_params_config_env_hub(toy: assets.Asset, tmp_path: Path,
                                                monkeypatch: pytest.MonkeyPatch) -> None:
    folders = {}
    for name in ("params", "config", "env"):
        folders[name] = tmp_path / name
        folders[name].mkdir()
        (folders[name] / "config.json").write_text("{}")
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    assert assets.locate(toy.name) == assets.Resolved(toy.name, None, "absent")
    monkeypatch.setenv("HF_HUB_OFFLINE", "0")
    assert assets.locate(toy.name).location == "someone/toy" and assets.locate(toy.name).origin == "hub"
    monkeypatch.setenv(assets.env_var(toy.name), str(folders["env"]))
    assert assets.locate(toy.name).origin == "env"
    assets.set_overrides({toy.name: str(folders["config"])})
    assert assets.locate(toy.name).location == str(folders["config"])
    assert assets.locate(toy.name, str(folders["params"])).origin == "params"


def test_incomplete_or_absent_configured_paths_are_errors(toy: assets.Asset, tmp_path: Path,
                                                          monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(assets.env_var(toy.name), str(tmp_path))  # no config.json inside
    with pytest.raises(assets.AssetNotFound, match="incomplete"):
        assets.locate(toy.name)
    monkeypatch.setenv(assets.env_var(toy.name), str(tmp_path / "nowhere"))
    with pytest.raises(assets.AssetNotFound, match="does not exist"):
        assets.locate(toy.name)
    assert not assets.reachable(toy.name)


def test_config_assets_accept_codec_and_metric_assets_and_reject_unknown(tmp_path: Path) -> None:
    assets.set_overrides({"bigcodec": str(tmp_path / "bigcodec.pt"), "whisper-small-ct2": str(tmp_path)})
    with pytest.raises(KeyError, match="unknown asset 'bigcodecc'"):
        assets.set_overrides({"bigcodecc": "/x"})
    catalogue = assets.catalogue()
    assert {"dycast", "focalcodec-50hz", "mimi-5cb", "utmos22-strong", "wavlm-base-sv"} <= set(catalogue)


def test_absent_weights_build_random_flagged_with_one_warning(caplog: pytest.LogCaptureFixture,
                                                              monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    monkeypatch.setattr(assets, "_warned", set())
    with caplog.at_level(logging.WARNING, logger="codecbench.assets"):
        for _ in range(2):
            torch.manual_seed(0)
            codec = build_codec(CodecSpec("f", "focalcodec-50hz", {"size": "tiny"}))
    assert codec.capabilities.random_weights and codec.weights_id == "random:focalcodec-50hz:seed=0"
    warnings = [r for r in caplog.records if "RANDOM weights" in r.getMessage()]
    assert len(warnings) == 1 and "CODECBENCH_ASSET_FOCALCODEC_50HZ" in warnings[0].getMessage()


def test_configured_codec_weights_load_and_are_not_flagged(tmp_path: Path) -> None:
    from codecbench.codecs.dycast.model import DyCAST, build_modules
    from codecbench.codecs.dycast.presets import preset

    torch.manual_seed(0)
    model = DyCAST(**build_modules(preset("tiny"))).eval()
    path = model.to_pretrained(tmp_path / "ckpt")
    assets.set_overrides({"dycast": str(path)})
    codec = build_codec(CodecSpec("d", "dycast-bp3"))
    assert not codec.capabilities.random_weights and codec.weights_id == str(path)
    sig = torch.zeros(1, 16000)
    assert codec.encode(sig, torch.tensor([16000])).codes.shape[-1] == len(codec.codebook_sizes)


def test_bench_assets_lists_every_declared_asset_and_its_resolution(toy: assets.Asset, tmp_path: Path,
                                                                     monkeypatch: pytest.MonkeyPatch,
                                                                     capsys: pytest.CaptureFixture) -> None:
    from codecbench.cli.main import main

    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    (tmp_path / "config.json").write_text("{}")
    monkeypatch.setenv(assets.env_var(toy.name), str(tmp_path))
    assert main(["assets"]) == 0
    out = capsys.readouterr().out
    assert f"env: {tmp_path}" in out and "absent (set CODECBENCH_ASSET_BIGCODEC)" in out and "whisper-small-ct2" in out


def test_fetch_offline_names_the_asset_and_the_command(toy: assets.Asset, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    with pytest.raises(assets.AssetNotFound, match=r"codecbench assets fetch toy-model-1.5"):
        assets.fetch(toy.name)


def test_fetched_copies_are_found_offline_and_verified(toy: assets.Asset, tmp_path: Path,
                                                       monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    monkeypatch.setenv("CODECBENCH_CACHE", str(tmp_path / "cache"))
    assert assets.verify(toy.name).status is assets.AssetStatus.ABSENT
    folder = assets.fetched_path(toy.name)
    folder.mkdir(parents=True)
    (folder / "weights.bin").write_bytes(b"abc")
    assert assets.locate(toy.name).origin == "fetched"
    verdict = assets.verify(toy.name)
    assert verdict.status is assets.AssetStatus.PROBLEM and "config.json" in verdict.detail
    (folder / "config.json").write_text("{}")
    assert assets.verify(toy.name).status is assets.AssetStatus.OK
    sealed = assets.Asset("sealed", "a checksummed file", "someone/sealed", files=("config.json",),
                          sha256=assets.sha256_of(folder / "weights.bin"))
    assets.declare(sealed)
    monkeypatch.setenv(assets.env_var("sealed"), str(folder))
    sealed_verdict = assets.verify("sealed")  # config.json differs from its declared sha256
    assert sealed_verdict.status is assets.AssetStatus.PROBLEM and "sha256" in sealed_verdict.detail
