"""Result store (atomic appends, torn tails, resume keys) and config parsing."""

from __future__ import annotations

from pathlib import Path

import pytest

from codecbench.api.rows import Row
from codecbench.config.runconfig import apply_override, from_dict, load_config
from codecbench.engine.store import ResultStore


def _row(utt: str, metric: str = "m", value: float = 1.0) -> Row:
    return Row(codec="c", task="t", dataset="d", utt_id=utt, metric=metric, value=value)


def test_rows_persist_and_duplicates_are_skipped(tmp_path: Path) -> None:
    store = ResultStore(tmp_path)
    store.add([_row("a"), _row("b")])
    store.add([_row("a", value=9.0)])
    again = ResultStore(tmp_path)
    rows = list(again.rows())
    assert [r.utt_id for r in rows] == ["a", "b"] and rows[0].value == 1.0
    assert again.has(("c", "t", "d", "a", "m", "", "")) and not again.has(("c", "t", "d", "z", "m", "", ""))


def test_torn_last_line_is_dropped_and_appends_continue(tmp_path: Path) -> None:
    store = ResultStore(tmp_path)
    store.add([_row("a")])
    with open(store.path, "a") as handle:
        handle.write('{"codec": "c", "task": "t", "data')  # killed mid-write
    store = ResultStore(tmp_path)
    assert [r.utt_id for r in store.rows()] == ["a"]
    store.add([_row("b")])
    assert [r.utt_id for r in ResultStore(tmp_path).rows()] == ["a", "b"]


def test_drop_errors(tmp_path: Path) -> None:
    store = ResultStore(tmp_path)
    store.add([_row("a"), Row("c", "t", "d", "b", "error", error="boom")])
    assert store.drop_errors() == 1
    assert [r.metric for r in store.rows()] == ["m"]


BASE = {"name": "x", "codecs": ["reference"], "datasets": {"d": {"format": "folder", "root": "/tmp"}}}


def test_overrides_parse_yaml_values_and_nested_keys() -> None:
    data = {"name": "x", "datasets": {"d": {"format": "folder"}}}
    apply_override(data, "batch_size=4")
    apply_override(data, "datasets.d.root=/data")
    apply_override(data, "codecs=[reference, mulaw-8bit]")
    assert data["batch_size"] == 4 and data["datasets"]["d"]["root"] == "/data"
    assert data["codecs"] == ["reference", "mulaw-8bit"]
    with pytest.raises(ValueError, match="key=value"):
        apply_override(data, "batch_size")


def test_config_validation_errors_are_clear() -> None:
    with pytest.raises(ValueError, match="unknown key .batchsize.; did you mean .batch_size."):
        from_dict({**BASE, "batchsize": 3})
    with pytest.raises(ValueError, match="non-empty 'codecs'"):
        from_dict({**BASE, "codecs": []})
    with pytest.raises(ValueError, match="batch_size"):
        from_dict({**BASE, "batch_size": 0})
    opus8k = {"name": "o", "codec": "opus-6kbps", "params": {"sample_rate": 8000}}
    config = from_dict({**BASE, "codecs": ["reference", opus8k]})
    assert config.codecs[1].label == "o" and config.codecs[1].params == {"sample_rate": 8000}


@pytest.mark.parametrize("name", sorted(p.name for p in (Path(__file__).parents[2] / "configs").glob("*.yaml")
                                        if p.name not in ("tolerances.yaml", "costs.yaml")))
def test_shipped_configs_validate(name: str) -> None:
    config = load_config(Path(__file__).parents[2] / "configs" / name)
    assert config.codecs and config.datasets


def test_shipped_costs_are_measured_seconds_per_second() -> None:
    """configs/costs.yaml (codecbench speed --write-costs): the machine it was measured on and a finite positive
    number per codec and metric, which the paper dry run multiplies by audio hours."""
    import math

    from codecbench.results.paper import shipped_costs

    costs = shipped_costs()
    assert isinstance(costs["machine"], str) and "cores" in costs["machine"] and costs["device"] == "cpu"
    values = [*costs["codecs"].values(), *costs["metrics"].values()]
    assert values and all(isinstance(v, float) and math.isfinite(v) and v > 0 for v in values)
    assert "opus-6kbps" in costs["codecs"] and "offline/dwer" in costs["metrics"]


@pytest.mark.parametrize("name", ["vc_vctk.yaml", "probes_librispeech_asr.yaml", "probes_librispeech_si.yaml",
                                  "probes_iemocap.yaml", "dycast_rad_table3.yaml"])
def test_full_scale_configs_name_the_missing_dataset_root(name: str, tmp_path: Path) -> None:
    from codecbench.engine import runner

    config = load_config(Path(__file__).parents[2] / "configs" / name, [f"output_dir={tmp_path}", "device=cpu"])
    with pytest.raises(FileNotFoundError, match=r"datasets\.\w+\.root"):
        runner.run(config, progress=False)


def test_item_ids_are_written_once_and_stored_as_typed_fields() -> None:
    """Row ids with structure (VC's conversion target, TTS's seed, a listener) are ItemIds, serialised in one
    place, injectively; rows carry the parts as typed fields, never parsed back out of the string."""
    from codecbench.api.rows import WHOLE, ItemId

    items = (ItemId("u1"), ItemId("p225_003", target="p226"), ItemId("u1", seed=3),
             ItemId("p225_003", target="p226", seed=0), ItemId(WHOLE), ItemId("a->b", target="c"),
             ItemId("a", target="b->c"), ItemId("u1", rater="P-07"), ItemId("p225_003", target="p226", seed=1,
                                                                            rater="x_1"),
             ItemId("take~2"), ItemId("take", rater="2"), ItemId("x@seed3"), ItemId("x", seed=3))
    assert len({str(i) for i in items}) == len(items)
    assert str(ItemId("p225_003", target="p226")) == "p225_003->p226" and str(ItemId("u", seed=2)) == "u@seed2"
    assert str(ItemId("1089-134686-0000")) == "1089-134686-0000" and ItemId("u1").fields() == {}
    assert ItemId("take~2").fields() == {"item_source": "take~2"}
    assert ItemId("p1", target="p2").fields() == {"item_source": "p1", "item_target": "p2"}
    assert not hasattr(ItemId, "parse")


