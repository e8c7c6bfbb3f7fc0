"""The published numbers are transcribed consistently: what the paper repeats across tables agrees."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest

PUBLISHED = Path(__file__).parents[2] / "results" / "published"
VARIANTS = ("dycast-ca", "dycast-bp1", "dycast-bp3", "dycast-bp5")


def _read(name: str) -> pd.DataFrame:
    return pd.read_csv(PUBLISHED / f"{name}.csv")


def _triple(df: pd.DataFrame, codec: str) -> dict[str, float]:
    rows = df[(df["codec"] == codec) & (df["task"] == "resynthesis") & (df["dataset"] == "librispeech")]
    return dict(zip(rows["metric"], rows["value"], strict=True))


@pytest.mark.parametrize("variant", VARIANTS)
def test_each_dycast_librispeech_triple_is_the_same_in_tables_2_3_and_6(variant: str) -> None:
    t2, t3, t6 = (_triple(_read(t), variant) for t in ("table2", "table3", "table6"))
    assert set(t2) >= {"utmos", "dwer", "sim"} and t2 == t3 == t6


def test_table4_repeats_table1s_rates() -> None:
    t1 = _read("table1").set_index("registry_name")
    t4 = _read("table4")
    for metric, column in (("frame_rate", "frame_rate_hz"), ("bitrate", "bitrate_kbps")):
        rows = t4[t4["metric"] == metric]
        assert len(rows) == 14
        for _, r in rows.iterrows():
            assert r["value"] == pytest.approx(float(t1.loc[r["codec"], column])), (r["codec"], metric)


def test_published_tables_are_well_formed() -> None:
    for name in ("table2", "table3", "table4", "table6"):
        df = _read(name)
        assert {"codec", "task", "dataset", "metric", "value"} <= set(df.columns)
        assert not df.duplicated(["codec", "task", "dataset", "metric"]).any(), name
        sims = df[df["metric"] == "sim"]["value"]
        assert ((sims > 0) & (sims <= 1)).all(), f"{name}: Sim is a cosine, not a percentage"
    t4 = _read("table4")
    assert set(t4[t4["task"] == "tts_nar"]["codec"]) == {"dycast-ca"}  # NAR is defined only for DyCAST-CA
    assert len(_read("table3")) == 4 * 4 * 3 and len(_read("table6")) == 4 * 3 * 3


def test_table5_cards_reach_bench_list_and_table_footnotes(capsys, tmp_path) -> None:
    from codecbench.api.rows import Row
    from codecbench.cli.main import main
    from codecbench.engine.store import ResultStore
    from codecbench.results.cards import card_line, cards
    from codecbench.results.tables import render

    assert len(cards()) == 10 and "LibriTTS" in (card_line("focalcodec-50hz") or "")
    assert main(["list", "codecs"]) == 0
    assert "paper Table 5: trained on LibriSpeech (960 h" in capsys.readouterr().out
    ResultStore(tmp_path).add([Row("focalcodec-50hz", "resynthesis", "d", "u", "sim", value=0.9, backend="s")])
    assert "focalcodec-50hz (paper Table 5): trained on LibriTTS" in render([tmp_path])["resynthesis"]


def test_flexicodec_table5_is_transcribed_whole_and_agrees_with_its_text() -> None:
    """FlexiCodec paper, Table 5 (LibriSpeech test-clean, 4-10 s: 1,088 utterances; WER by HuBERT-Large against
    the ground truth, PESQ narrow band, SIM by a WavLM-large verifier): 19 systems in three bitrate classes,
    their own metric names (only UTMOS and the bitrate are our metrics as well)."""
    df = _read("flexicodec_table5")
    assert len(df["paper_codec"].unique()) == 19 and not df.duplicated(["paper_codec", "metric"]).any()
    assert df.groupby("bitrate_class")["paper_codec"].nunique().to_dict() == {"1kbps": 7, "0.8kbps": 5, "0.7kbps": 7}
    cell = df.set_index(["paper_codec", "metric"])["value"]
    assert cell["FlexiCodec @6.25Hz", "wer_rvq1"] == 4.15 and cell["DualCodec-12.5Hz", "wer_rvq1"] == 5.93  # the text
    assert ("Mimi-12.5Hz", "wer_rvq1") not in cell.index  # blank in the paper: Mimi cannot decode RVQ1 alone
    for rate in (12.5, 8.3, 6.25):  # RVQ1:8 = 15 + 7 x 12 bits a token, plus one bit a token for its length
        assert cell[f"FlexiCodec @{rate}Hz", "bitrate"] == pytest.approx((15 + 7 * 12 + 1) * rate / 1000, rel=0.05)
    assert set(df[df["paper_codec"].str.startswith("FlexiCodec")]["codec"]) == {
        "flexicodec-12.5hz", "flexicodec-8.3hz", "flexicodec-6.25hz"}


def test_flexicodec_table5_shows_beside_our_rows(tmp_path) -> None:
    """``--published results/published/flexicodec_table5.csv``: the cells that are our metrics too (UTMOS, bitrate)
    appear as ``(paper)`` rows under our FlexiCodec variants."""
    from codecbench.api.rows import Row
    from codecbench.engine.store import ResultStore
    from codecbench.results.tables import build_tables

    ResultStore(tmp_path).add([
        Row("flexicodec-8.3hz", "resynthesis", "librispeech", "u", "utmos", value=3.9, backend="b"),
        Row("flexicodec-8.3hz", "resynthesis", "librispeech", "u", "bitrate", value=900.0, num=900.0, den=1.0,
            backend="b")])
    table = build_tables([tmp_path], published=PUBLISHED / "flexicodec_table5.csv")["resynthesis"]
    assert table.published is not None
    paper = table.published.loc["flexicodec-8.3hz"]
    assert paper["librispeech UTMOS ↑"] == pytest.approx(4.21) and paper["Bitrate (kbps)"] == pytest.approx(0.85)
