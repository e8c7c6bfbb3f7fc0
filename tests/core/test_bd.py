"""Bjøntegaard deltas (tables/bd.csv), the speaker-clustered bootstrap and Holm-corrected best marks."""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from codecbench.api.rows import Row
from codecbench.config.runconfig import from_dict
from codecbench.engine import runner
from codecbench.engine.store import ResultStore
from codecbench.results import bd
from codecbench.results.bd import Point, bd_delta
from codecbench.results.intervals import CLUSTER_BOOTSTRAP, UTTERANCE_BOOTSTRAP, holm
from codecbench.results.tables import load_rows, render, summarize

pytest.importorskip("bjontegaard", reason="Bjøntegaard deltas need the report extra (bjontegaard)")
from bjontegaard import bd_psnr, bd_rate  # noqa: E402

#: (kbps, tokens/s, dWER %, Sim) of five quickstart-like codecs in two families
CODECS = {"opus-6kbps": (6.0, 50.0, 12.0, 0.80), "opus-12kbps": (12.0, 50.0, 4.0, 0.90),
          "codec2-700c": (0.7, 40.0, 40.0, 0.55), "codec2-1200": (1.2, 25.0, 20.0, 0.62),
          "codec2-3200": (3.2, 50.0, 5.0, 0.84)}
FAMILIES = {"opus-6kbps": "opus", "opus-12kbps": "opus", "codec2-700c": "codec2", "codec2-1200": "codec2",
            "codec2-3200": "codec2"}


def _rows(codecs: dict[str, tuple[float, float, float, float]], utts: int = 12, speakers: int = 4,
          seed: int = 0) -> list[Row]:
    rng = np.random.default_rng(seed)
    rows = []
    for codec, (kbps, tokens, dwer, sim) in codecs.items():
        for i in range(utts):
            utt, extra = f"u{i:02d}", {"speaker": f"s{i % speakers}"}
            seconds, words = 2.0 + i % 3, 10 + i % 4
            errors = max(0, round(words * dwer / 100 + rng.normal(0, 1)))
            rows += [Row(codec, "resynthesis", "d", utt, "bitrate", value=kbps * 1e3, num=kbps * 1e3 * seconds,
                         den=seconds, backend="measured", extra=extra),
                     Row(codec, "resynthesis", "d", utt, "token_rate", value=tokens, num=tokens * seconds,
                         den=seconds, backend="measured", extra=extra),
                     Row(codec, "resynthesis", "d", utt, "dwer", value=100 * errors / words, num=errors, den=words,
                         backend="asr", extra=extra),
                     Row(codec, "resynthesis", "d", utt, "sim", value=sim + rng.normal(0, 0.02), backend="spk",
                         extra=extra)]
    return rows


def _independent(summary: pd.DataFrame, metric: str, rate: str, anchor: list[str], test: list[str]
                 ) -> tuple[float, float]:
    """BD-rate and BD-quality straight from summary.csv with the bjontegaard package (pchip)."""
    value = summary.set_index(["codec", "metric"])["value"]

    def arrays(codecs: list[str], by: str) -> tuple[np.ndarray, np.ndarray]:
        points = sorted(((value[(c, rate)], value[(c, metric)]) for c in codecs),
                        key=lambda p: p[1] if by == "quality" else p[0])
        return np.array([p[0] for p in points]), np.array([p[1] for p in points])

    (ar, aq), (tr, tq) = arrays(anchor, "quality"), arrays(test, "quality")
    rate_delta = bd_rate(ar, aq, tr, tq, "pchip", require_matching_points=False, min_overlap=0)
    (ar, aq), (tr, tq) = arrays(anchor, "rate"), arrays(test, "rate")
    quality_delta = bd_psnr(ar, aq, tr, tq, "pchip", require_matching_points=False, min_overlap=0)
    return float(rate_delta), float(quality_delta)


def test_bd_csv_equals_the_package_on_summary_csv(tmp_path: Path) -> None:
    ResultStore(tmp_path).add(_rows(CODECS))
    df = load_rows([tmp_path])
    summary = summarize(df)
    table = bd.bd_table(summary, df, FAMILIES, _specs(), resamples=50)
    bd.write_bd(table, tmp_path)
    written = pd.read_csv(tmp_path / "bd.csv", keep_default_na=False, na_values=[""])
    assert list(written.columns) == bd.BD_COLUMNS
    members = {"opus": ["opus-6kbps", "opus-12kbps"], "codec2": ["codec2-700c", "codec2-1200", "codec2-3200"]}
    checked = 0
    for (anchor, test) in (("opus", "codec2"), ("codec2", "opus")):
        for metric in ("dwer", "sim"):
            row = written[(written["anchor"] == anchor) & (written["test"] == test) & (written["metric"] == metric)
                          & (written["rate_axis"] == "bitrate")].iloc[0]
            expected_rate, expected_quality = _independent(summary, metric, "bitrate", members[anchor], members[test])
            assert row["bd_rate"] == pytest.approx(expected_rate, abs=1e-9)
            assert math.isnan(row["bd_quality"]) and "no overlap of the rate ranges" in row["note"]  # 0.7-3.2 / 6-12
            assert math.isnan(expected_quality)  # the package agrees: no overlap
            assert row["method"] == "pchip" and row["n_anchor"] == len(members[anchor])
            assert row["bd_rate_low"] <= row["bd_rate"] <= row["bd_rate_high"]
            checked += 1
    assert checked == 4
    assert "Bjøntegaard" in (tmp_path / "bd.md").read_text()


def _specs() -> dict:
    from codecbench.results.columns import output_specs

    return output_specs()


def test_a_lower_is_better_metric_gives_the_same_saving_as_its_mirror() -> None:
    """dWER falls as rate rises; the package's interpolation needs its first axis ascending: a family that needs
    half the rate everywhere saves 50 % whichever way its quality runs."""
    anchor = [Point("a1", 1.0, 30.0), Point("a2", 2.0, 20.0), Point("a3", 4.0, 10.0)]
    test = [Point(p.codec.replace("a", "t"), p.rate / 2, p.quality) for p in anchor]
    assert bd_delta(anchor, test).bd_rate == pytest.approx(-50.0)
    mirrored = bd_delta([Point(p.codec, p.rate, -p.quality) for p in anchor],
                        [Point(p.codec, p.rate, -p.quality) for p in test])
    assert mirrored.bd_rate == pytest.approx(-50.0)
    assert bd_delta(anchor, test).bd_quality < 0  # lower dWER at equal rate: negative delta in the metric's units


def test_an_empty_overlap_and_two_single_points_give_a_reason_not_a_number() -> None:
    low = [Point("a", 1.0, 0.5), Point("b", 2.0, 0.6)]
    high = [Point("c", 4.0, 0.8), Point("d", 8.0, 0.9)]
    apart = bd_delta(low, high)
    assert math.isnan(apart.bd_rate) and "no overlap of the quality ranges" in apart.note
    single = bd_delta([Point("a", 1.0, 0.5)], [Point("c", 4.0, 0.8)])
    assert math.isnan(single.bd_rate) and "one point each" in single.note
    flat = bd_delta([Point("a", 1.0, 0.5), Point("b", 2.0, 0.7), Point("e", 3.0, 0.6)], high)
    assert math.isnan(flat.bd_rate) and "not monotonic" in flat.note


def test_a_one_point_family_is_read_against_the_other_curve_inside_its_range() -> None:
    curve = [Point("a", 1.0, 0.5), Point("b", 4.0, 0.9)]
    inside = bd_delta(curve, [Point("p", 1.0, 0.7)])  # the curve reaches 0.7 at 2 kbps (pchip on 2 points: linear)
    assert inside.bd_rate == pytest.approx(-50.0) and inside.quality_low == inside.quality_high == 0.7
    reverse = bd_delta([Point("p", 1.0, 0.7)], curve)  # the curve as the test family: it needs 2x the point's rate
    assert reverse.bd_rate == pytest.approx(100.0)
    outside = bd_delta(curve, [Point("q", 8.0, 0.95)])
    assert math.isnan(outside.bd_rate) and "outside the anchor's range" in outside.note
    assert math.isnan(outside.bd_quality)  # its rate is outside the curve's rates too: nothing is extrapolated


def test_the_cubic_fit_needs_four_points() -> None:
    three = [Point("a", 1.0, 0.5), Point("b", 2.0, 0.6), Point("c", 4.0, 0.8)]
    test = [Point(p.codec + "'", p.rate * 0.8, p.quality) for p in three]
    assert "four points" in bd_delta(three, test, "cubic").note
    with pytest.raises(ValueError, match="pchip"):
        bd_delta(three, test, "linear")


def test_holm_adjusts_within_a_column_and_ties_mark_the_runner_up(tmp_path: Path) -> None:
    assert holm(np.array([0.01, 0.04, 0.03])) == pytest.approx([0.03, 0.06, 0.06])
    assert holm(np.array([0.5, np.nan]))[0] == 0.5
    rng = np.random.default_rng(1)
    rows = []
    for i in range(30):
        base = 0.8 + 0.05 * rng.standard_normal()
        rows += [Row("first", "t", "d", f"u{i}", "sim", value=base + 0.002, backend="s"),
                 Row("second", "t", "d", f"u{i}", "sim", value=base + 0.002 + (0.01 if i % 2 else -0.01),
                     backend="s"),
                 Row("third", "t", "d", f"u{i}", "sim", value=base - 0.1, backend="s")]
    ResultStore(tmp_path).add(rows)
    md = render([tmp_path])["t"]
    summary = pd.read_csv(tmp_path / "tables" / "summary.csv").set_index("codec")
    assert {"p_vs_best_holm", "interval_method"} <= set(summary.columns)
    assert (summary["p_vs_best_holm"].fillna(1) >= summary["p_vs_best"].fillna(1) - 1e-12).all()
    best = summary["best"].iloc[0]
    runner_up = "second" if best == "first" else "first"
    assert summary.loc[runner_up, "p_vs_best_holm"] > 0.05  # no significant difference: both marked best
    assert md.count("**") == 4 and "**" not in next(line for line in md.splitlines() if "| third" in line)


def test_the_cluster_bootstrap_is_as_wide_as_the_speaker_level_one(tmp_path: Path) -> None:
    """Utterances identical within each speaker carry one speaker's worth of information: the interval resamples
    speakers (as wide as the bootstrap of the speaker means), not the 10x as many utterances."""
    speaker_means = np.linspace(0.6, 0.9, 8)
    rows = [Row("c", "t", "d", f"s{s}-u{u}", "sim", value=float(m), backend="s", extra={"speaker": f"s{s}"})
            for s, m in enumerate(speaker_means) for u in range(10)]
    ResultStore(tmp_path).add(rows)
    render([tmp_path])
    summary = pd.read_csv(tmp_path / "tables" / "summary.csv").iloc[0]
    assert summary["interval_method"] == CLUSTER_BOOTSTRAP
    rng = np.random.default_rng(0)
    speaker_level = speaker_means[rng.integers(0, 8, size=(20000, 8))].mean(axis=1)
    low, high = np.percentile(speaker_level, [2.5, 97.5])
    assert summary["ci_high"] - summary["ci_low"] == pytest.approx(high - low, rel=0.15)
    utterance_level = np.repeat(speaker_means, 10)[rng.integers(0, 80, size=(20000, 80))].mean(axis=1)
    u_low, u_high = np.percentile(utterance_level, [2.5, 97.5])
    assert summary["ci_high"] - summary["ci_low"] > 2 * (u_high - u_low)  # what the utterance bootstrap claimed


def test_a_dataset_without_speakers_keeps_the_utterance_bootstrap(tmp_path: Path) -> None:
    ResultStore(tmp_path).add([Row("c", "t", "d", f"u{i}", "sim", value=0.5 + i / 100, backend="s")
                               for i in range(20)])
    render([tmp_path])
    assert pd.read_csv(tmp_path / "tables" / "summary.csv").iloc[0]["interval_method"] == UTTERANCE_BOOTSTRAP


def test_families_come_from_the_codec_declarations_and_the_run_config(audio_dir: Path, tmp_path: Path) -> None:
    config = from_dict({"name": "f", "output_dir": str(tmp_path / "run"), "metrics": [],
                        "codecs": ["opus-6kbps", "opus-12kbps", "mulaw-8bit"],
                        "families": {"mine": ["mulaw-8bit"]},
                        "datasets": {"d": {"format": "folder", "root": str(audio_dir)}}})
    runner.run(config, progress=False)
    assert bd.declared_families([tmp_path / "run"]) == {"opus-6kbps": "opus", "opus-12kbps": "opus",
                                                        "mulaw-8bit": "mine"}
    with pytest.raises(ValueError, match="families"):
        from_dict({"name": "f", "codecs": ["opus-6kbps"], "families": {"x": ["nope"]},
                   "datasets": {"d": {"format": "folder", "root": str(audio_dir)}}})


@pytest.mark.slow
def test_bd_on_the_quickstart_codecs_with_real_metrics(tmp_path: Path) -> None:
    """The offline quickstart's rate families (Opus 6 / 12, Codec2 700C / 1200 / 3200) on its corpus, real dWER and
    Sim: bd.csv equals the package on summary.csv to 1e-9."""
    pytest.importorskip("faster_whisper", reason="offline metric profile not installed")
    from codecbench.cli.main import main

    out = tmp_path / "qs"
    assert main(["quickstart", "--out", str(out), "--no-progress", "metrics=[dwer, sim]",
                 f"codecs=[{', '.join(CODECS)}]"]) == 0
    tables = out / "tables"
    summary = pd.read_csv(tables / "summary.csv")
    written = pd.read_csv(tables / "bd.csv", keep_default_na=False, na_values=[""])
    members = {"opus": ["opus-6kbps", "opus-12kbps"], "codec2": ["codec2-700c", "codec2-1200", "codec2-3200"]}
    compared = 0
    for _, row in written.iterrows():
        if not math.isfinite(row["bd_rate"]):
            assert row["note"]  # no number: the reason is in the row
            continue
        expected_rate, _ = _independent(summary, row["metric"], row["rate_axis"], members[row["anchor"]],
                                        members[row["test"]])
        assert row["bd_rate"] == pytest.approx(expected_rate, abs=1e-9)
        compared += 1
    assert compared >= 2  # opus against codec2 and back, on dWER at least


def test_paper_bd_reads_the_published_claim_one_line_per_baseline(capsys) -> None:
    """DyCAST BP1 / BP3 / BP5 (17.5 / 9.0 / 6.2 tokens/s) read at each fixed-rate baseline's published quality."""
    from scipy.interpolate import PchipInterpolator

    from codecbench.cli.main import main
    from codecbench.results import paper_bd
    from codecbench.results.tables import read_published
    from codecbench.util.shipped import published

    rates = paper_bd.published_token_rates(published("table1.csv"))
    assert rates["encodec-24khz-1.5kbps"] == 150.0 and rates["dycast-bp3"] == 9.0 and rates["mimi-5cb"] == 62.5
    cells = paper_bd.published_cells(read_published(published("table2.csv")), rates)
    families = {f"dycast-bp{i}": "dycast-bp" for i in (1, 3, 5)}
    frame = paper_bd.paper_bd(cells, None, None, families, "dycast-bp", ["encodec-24khz-1.5kbps", "bigcodec"],
                              {"dwer": False, "sim": True, "utmos": True, "dnsmos_p808": True})
    row = frame[(frame["dataset"] == "librispeech") & (frame["metric"] == "dwer")].set_index("baseline")
    dwer = cells[("resynthesis", "librispeech", "dwer")]
    curve = sorted((dwer[c][1], math.log10(dwer[c][0])) for c in families)  # dWER ascending -> log tokens/s
    at = 10 ** PchipInterpolator([q for q, _ in curve], [r for _, r in curve])(dwer["encodec-24khz-1.5kbps"][1])
    assert row.loc["encodec-24khz-1.5kbps", "paper_bd_rate"] == pytest.approx((at / 150 - 1) * 100, abs=1e-9)
    assert row.loc["encodec-24khz-1.5kbps", "note"] == "not run"
    assert math.isnan(row.loc["bigcodec", "paper_bd_rate"]) and "outside" in row.loc["bigcodec", "paper_note"]
    utmos = frame[(frame["dataset"] == "librispeech") & (frame["metric"] == "utmos")].set_index("baseline")
    # DyCAST's published UTMOS spans 3.92-3.97: EnCodec's 1.58 is outside it, but BP5 alone beats it: a bound
    assert "quality 1.58 outside" in utmos.loc["encodec-24khz-1.5kbps", "paper_note"]
    assert utmos.loc["encodec-24khz-1.5kbps", "paper_bound"] == pytest.approx((6.2 / 150 - 1) * 100)
    assert main(["paper", "table2", "--dry-run", "--bd"]) == 1  # data roots missing here: exit 1, the view printed
    out = capsys.readouterr().out
    assert "Token-rate saving of dycast-bp" in out and "| encodec-24khz-1.5kbps |" in out and "(paper -96%)" in out
