"""Aggregation (corpus-level ratios), best/second marks, and the CI regression gate."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest

from codecbench.api.metric import MetricOutput
from codecbench.api.rows import Row
from codecbench.cli.main import main
from codecbench.config.runconfig import from_dict
from codecbench.engine import runner
from codecbench.engine.store import ResultStore
from codecbench.results.columns import Column
from codecbench.results.gate import Tolerances, compare_aggregates, load_tolerances, write_baseline
from codecbench.results.tables import LATEX, MARKDOWN, Table, format_table, rank_marks, render, summarize
from tests.conftest import TOLERANCES

ROOT = Path(__file__).parents[2]


def test_dwer_is_corpus_level_not_mean_of_utterances(tmp_path: Path) -> None:
    store = ResultStore(tmp_path)
    store.add([
        Row("c", "t", "d", "short", "dwer", value=100.0, num=1, den=1, backend="asr"),
        Row("c", "t", "d", "long", "dwer", value=0.0, num=0, den=9, backend="asr"),
        Row("c", "t", "d", "short", "sim", value=0.5, backend="spk"),
        Row("c", "t", "d", "long", "sim", value=0.7, backend="spk"),
    ])
    summary = summarize(pd.DataFrame([r.__dict__ for r in store.rows()])).set_index("metric")
    assert summary.loc["dwer", "value"] == pytest.approx(10.0)  # 1 error / 10 words, not 50%
    assert summary.loc["sim", "value"] == pytest.approx(0.6)


def test_rows_of_several_training_seeds_give_mean_and_spread(tmp_path: Path) -> None:
    store = ResultStore(tmp_path)
    rows = []
    for seed, (a, b) in {0: (0.4, 0.6), 1: (0.7, 0.9), 2: (0.1, 0.3)}.items():
        rows += [Row("c", "tts_ar", "d", f"u1@seed{seed}", "sim", value=a, extra={"seed": seed}),
                 Row("c", "tts_ar", "d", f"u2@seed{seed}", "sim", value=b, extra={"seed": seed})]
    rows.append(Row("one", "tts_ar", "d", "u1", "sim", value=0.5, extra={"seed": 0}))
    store.add(rows)
    summary = summarize(pd.DataFrame([r.__dict__ for r in store.rows()])).set_index("codec")
    assert summary.loc["c", "value"] == pytest.approx(0.5)  # mean of the per-seed means 0.5, 0.8, 0.2
    assert summary.loc["c", "spread"] == pytest.approx(0.3) and summary.loc["c", "seeds"] == 3  # sample std
    assert pd.isna(summary.loc["one", "spread"]) and summary.loc["one", "seeds"] == 1
    md = render([tmp_path])["tts_ar"]
    assert "0.50 ± 0.30" in md and "0.50 ±" not in md.split("| one")[1].split("\n")[0]


def test_table4_joins_probes_and_tts_with_nar_first_and_published_rows(tmp_path: Path) -> None:
    store = ResultStore(tmp_path)
    rows = []
    for codec in ("dycast-ca", "focalcodec-50hz"):
        rows += [Row(codec, "asr_probe", "librispeech", "u1", "asr_wer", value=20.0, num=2, den=10),
                 Row(codec, "tts_ar", "librispeech", "u1", "utmos", value=3.0, backend="utmos"),
                 Row(codec, "tts_ar", "librispeech", "u1", "frame_rate", value=50.0, num=50, den=1)]
    rows += [Row("dycast-ca", "tts_nar", "librispeech", "u1", "utmos", value=4.0, backend="utmos"),
             Row("dycast-ca", "tts_nar", "librispeech", "u1", "frame_rate", value=14.0, num=14, den=1)]
    store.add(rows)
    groups = {"ASR": ["asr_probe"], "TTS": ["tts_nar", "tts_ar"]}
    md = render([tmp_path], published=ROOT / "results" / "published" / "table4.csv", joins={"table4": groups})["table4"]
    table = pd.read_csv(tmp_path / "tables" / "table4.csv", index_col=0)
    assert list(table.columns) == ["Frame Rate (Hz)", "ASR WER ↓", "TTS UTMOS ↑", "source", "random_weights"]
    ours, theirs = table[table["source"] == "ours"], table[table["source"] == "published"]  # the source: a column
    assert ours.loc["dycast-ca", "TTS UTMOS ↑"] == 4.0 and ours.loc["dycast-ca", "Frame Rate (Hz)"] == 14.0
    assert ours.loc["focalcodec-50hz", "TTS UTMOS ↑"] == 3.0
    assert theirs.loc["dycast-ca", "TTS UTMOS ↑"] == pytest.approx(4.20)
    assert theirs.loc["focalcodec-50hz", "ASR WER ↓"] == pytest.approx(17.63)
    assert "| dycast-ca (paper) " in md  # the label is made when the table is rendered
    assert "TTS: dycast-ca from tts_nar; focalcodec-50hz from tts_ar" in md


def test_best_and_second_best_skip_identity_random_and_published_rows_and_respect_direction() -> None:
    dwer, sim = (Column(MetricOutput(n, n, higher), "d") for n, higher in (("dWER", False), ("Sim", True)))
    frame = pd.DataFrame({dwer.title: [0.0, 5.0, 3.0, 9.0, 1.0], sim.title: [1.0, 0.8, 0.9, 0.7, 0.95]},
                         index=["reference", "a", "b", "c", "rnd"])
    published = pd.DataFrame({dwer.title: [0.5], sim.title: [0.99]}, index=["a"])
    table = Table(frame, {c.title: c for c in (dwer, sim)}, published=published, random=frozenset({"rnd"}),
                  identity=frozenset({"reference"}))
    marks = rank_marks(table)
    assert (dwer.title, sim.title) == ("d dWER ↓", "d Sim ↑")
    assert marks[("b", "d dWER ↓")] == 1 and marks[("a", "d dWER ↓")] == 2
    assert marks[("b", "d Sim ↑")] == 1 and marks[("a", "d Sim ↑")] == 2
    assert not [key for key in marks if key[0] in ("reference", "rnd")]
    shown = format_table(table, MARKDOWN)
    assert list(shown.index) == ["reference", "a", "b", "c", "rnd †", "a (paper)"]
    assert shown.loc["rnd †", "d dWER ↓"] == "1.00" and shown.loc["b", "d dWER ↓"] == "**3.00**"
    assert format_table(table, LATEX).loc["rnd$^\\dagger$", "d Sim $\\uparrow$"] == "0.95"


def test_tolerance_file_is_valid() -> None:
    tol = load_tolerances(ROOT / "configs" / "tolerances.yaml")
    assert tol.of("dwer") > 0 and tol.of("unknown-metric") == tol.default


def _run(out: Path, data: dict, codec: str) -> Path:
    config = from_dict({"name": "g", "output_dir": str(out), "metric_profile": "offline",
                        "metrics": ["sim"], "codecs": [{"name": "x", "codec": codec}], "datasets": data})
    runner.run(config, progress=False)
    return out


def test_gate_fails_when_a_codec_gets_worse(shared_data: Path, tmp_path: Path, capsys) -> None:
    pytest.importorskip("resemblyzer", reason="offline metric profile not installed")
    data = {"s": {"format": "manifest", "root": str(shared_data), "ids": ["p225_011", "84-121123-0004"]}}
    good = _run(tmp_path / "good", data, "opus-12kbps")
    baseline = tmp_path / "baseline.csv"
    write_baseline(good, baseline)
    tolerances = load_tolerances(ROOT / "configs" / "tolerances.yaml")
    assert (compare_aggregates(good, baseline, tolerances)["status"] == "ok").all()
    assert main(["check", str(good), "--baseline", str(baseline), "--tolerances", TOLERANCES]) == 0

    worse = _run(tmp_path / "worse", data, "opus-6kbps")  # same label, worse codec
    result = compare_aggregates(worse, baseline, tolerances).set_index("metric")["status"]
    assert result["sim"] == "exceeds tolerance" and result["bitrate"] == "exceeds tolerance"
    assert main(["check", str(worse), "--baseline", str(baseline), "--tolerances", TOLERANCES]) == 1
    assert "check FAILED" in capsys.readouterr().out


def test_gate_fails_on_missing_rows_and_changed_backend(tmp_path: Path) -> None:
    run = tmp_path / "run"
    ResultStore(run).add([Row("c", "t", "d", "u", "sim", value=0.9, backend="new-model")])
    baseline = tmp_path / "b.csv"
    pd.DataFrame([
        {"codec": "c", "task": "t", "dataset": "d", "metric": "sim", "value": 0.9, "n": 1, "errors": 0,
         "backend": "old-model", "random_weights": False},
        {"codec": "c", "task": "t", "dataset": "d", "metric": "dwer", "value": 1.0, "n": 1, "errors": 0,
         "backend": "asr", "random_weights": False},
    ]).to_csv(baseline, index=False)
    status = compare_aggregates(run, baseline, Tolerances(0.1, {})).set_index("metric")["status"]
    assert status["sim"].startswith("backend changed") and status["dwer"] == "missing in run"


def test_render_writes_csv_markdown_latex(tmp_path: Path) -> None:
    store = ResultStore(tmp_path)
    for codec, sim in (("reference", 1.0), ("a_b", 0.8), ("c", 0.9)):
        store.add([Row(codec, "resynthesis", "ds", "u", "sim", value=sim, backend="spk"),
                   Row(codec, "resynthesis", "ds", "u", "bitrate", value=1000, num=1000, den=1, backend="measured",
                       extra={"random_weights": codec == "c", "identity": codec == "reference"})])
    md = render([tmp_path])["resynthesis"]
    assert "**0.80**" in md and "RANDOM WEIGHTS" in md and "c †" in md
    assert "**0.90**" not in md and "_0.90_" not in md  # random weights are never ranked, however good they look
    tex = (tmp_path / "tables" / "resynthesis.tex").read_text()
    assert r"\textbf{0.80}" in tex and r"a\_b" in tex and r"$^\dagger$" in tex
    assert (tmp_path / "tables" / "resynthesis.csv").is_file() and (tmp_path / "tables" / "summary.csv").is_file()


def test_published_numbers_beside_ours(tmp_path: Path) -> None:
    store = ResultStore(tmp_path)
    store.add([Row("focalcodec-50hz", "resynthesis", "librispeech", "u", "sim", value=0.5, backend="spk"),
               Row("mine", "resynthesis", "librispeech", "u", "sim", value=0.4, backend="spk")])
    md = render([tmp_path], published=ROOT / "results" / "published" / "table2.csv")["resynthesis"]
    assert "| focalcodec-50hz (paper)" in md and "0.97" in md and "(paper) rows" in md
    assert "**0.50**" in md  # published rows are not ranked


def test_bootstrap_intervals_and_paired_test_against_the_best(tmp_path: Path) -> None:
    import numpy as np

    rng = np.random.default_rng(0)
    rows = []
    for i in range(40):
        good = 0.9 + 0.02 * rng.standard_normal()
        rows += [Row("good", "t", "d", f"u{i}", "sim", value=good, backend="s"),
                 Row("same", "t", "d", f"u{i}", "sim", value=good + 0.001 * rng.standard_normal(), backend="s"),
                 Row("bad", "t", "d", f"u{i}", "sim", value=good - 0.05, backend="s"),
                 Row("good", "t", "d", f"u{i}", "dwer", value=0.0, num=i % 3, den=10, backend="a"),
                 Row("ref", "t", "d", f"u{i}", "sim", value=1.0, backend="s", extra={"identity": True})]
    store = ResultStore(tmp_path)
    store.add(rows)
    render([tmp_path])
    summary = pd.read_csv(tmp_path / "tables" / "summary.csv").set_index(["codec", "metric"])
    low, high, value = summary.loc[("good", "sim"), ["ci_low", "ci_high", "value"]]
    assert low < value < high and high - low < 0.02
    best = summary.loc[("good", "sim"), "best"]
    assert best in ("good", "same") and summary.loc[("ref", "sim"), "best"] == best  # identity rows not ranked
    assert summary.loc[("bad", "sim"), "p_vs_best"] < 0.01  # 0.05 worse on every utterance
    other = "same" if best == "good" else "good"
    assert summary.loc[(other, "sim"), "p_vs_best"] > 0.05 and summary.loc[(best, "sim"), "p_vs_best"] == 1.0
    assert pd.isna(summary.loc[("ref", "sim"), "p_vs_best"])  # identity rows are not ranked
    ratio_low, ratio_high = summary.loc[("good", "dwer"), ["ci_low", "ci_high"]]
    assert ratio_low < 100 * 39 / 400 < ratio_high  # corpus dWER resampled as a ratio
    render([tmp_path])
    again = pd.read_csv(tmp_path / "tables" / "summary.csv").set_index(["codec", "metric"])
    assert again.loc[("good", "sim"), "ci_low"] == low  # seeded: the same rows give the same interval


def test_columns_are_data_and_their_titles_are_made_in_one_place() -> None:
    """Tables carry (output, dataset, group, spread) per column; headers come from Column.title, and the
    declared decimals are what cells show (Frame Rate: 1, as RATE_OUTPUTS declares)."""
    from codecbench.api.task import RATE_OUTPUTS

    dwer, wer = MetricOutput("dwer", "dWER", False), MetricOutput("asr_wer", "ASR WER", False)
    frame_rate = RATE_OUTPUTS[0]
    assert Column(frame_rate).title == "Frame Rate (Hz)" and Column(frame_rate).higher is None
    assert Column(frame_rate).decimals == 1 and Column(None).title == "Errors"
    assert Column(dwer, "clean").title == "clean dWER ↓" and Column(dwer, "clean").higher is False
    assert Column(dwer, "clean").in_group("TTS", dataset_shown=True).title == "TTS clean dWER ↓"
    assert Column(dwer, "clean").in_group("TTS", dataset_shown=False).title == "TTS dWER ↓"
    assert Column(wer, "libri").in_group("ASR", dataset_shown=False).title == "ASR WER ↓"  # no "ASR ASR WER"
    assert Column(frame_rate).in_group("ASR", dataset_shown=False) == Column(frame_rate)  # rates: one column
    spread = Column(dwer, "clean").spread_of()
    assert spread.title == "clean dWER ↓ ±" and spread.higher is None
