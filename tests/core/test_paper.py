"""`codecbench paper TABLE`: dry runs name what is missing; runs on miniature corpora give the paper's layout
beside the published numbers, and --check fails on cells outside their tolerance."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest

from codecbench.api.datasets import DatasetSpec, load_dataset
from codecbench.cli.main import main
from codecbench.results import paper

from . import mini_corpora as mini

OFFLINE = ["metric_profile=offline", "device=cpu", "batch_size=4"]



def _labelled(table: pd.DataFrame) -> pd.DataFrame:
    """A table CSV indexed as the rendered table labels its rows: the paper's rows (``source: published``) as
    ``<codec> (paper)``."""
    return table.set_axis([f"{c} (paper)" if s == "published" else c for c, s in zip(table.index, table["source"],
                                                                                      strict=True)])

def test_table5_prints_the_codec_cards(capsys) -> None:
    assert main(["paper", "table5"]) == 0
    out = capsys.readouterr().out
    assert "| focalcodec-50hz" in out and "StabilityAI" in out


def test_every_paper_table_has_a_config_that_validates() -> None:
    assert paper.available() == ["table1", "table2", "table3", "table4", "table6"]
    for table in paper.available():
        plan = paper.load(table, {n: "/nonexistent" for n in ("librispeech", "mls", "voicebank", "librimix", "vctk",
                                                               "iemocap", "rad")})
        config = plan.config  # names, datasets and restrictions validate
        assert config.codecs and not plan.missing_roots
        if plan.published is not None:
            assert plan.published.is_file()


def test_dry_run_without_corpora_lists_every_missing_root_and_exits_1(tmp_path: Path, capsys, monkeypatch) -> None:
    for name in ("librispeech", "mls", "voicebank", "librimix", "vctk"):
        monkeypatch.delenv(f"CODECBENCH_ROOT_{name.upper()}", raising=False)
    assert main(["paper", "table2", "--dry-run", "--out", str(tmp_path / "run")]) == 1
    out = capsys.readouterr().out
    for name in ("librispeech", "mls", "voicebank", "librimix", "vctk"):
        assert f"MISSING data root '{name}'" in out and f"CODECBENCH_ROOT_{name.upper()}" in out
    assert "MISSING weights of dycast-bp1: asset 'dycast'" in out  # weights absent offline
    assert out.count("MISSING weights of focalcodec-50hz") == 1  # only the assets a variant loads
    assert "MISSING weights of dycast-bp1: asset 'mms-1b-all'" not in out and "asset 'mms-1b-all'" in out
    assert "MISSING metric weights: utmos needs asset 'utmos22-strong'" in out
    assert "work: 144975 utterance x codec passes" in out  # (7144 SR + 2521 VC) x 15, the paper's sizes
    plan = out[out.index("  plan:"):]  # what to download and what it takes, whatever the state of the paths
    assert "corpus librispeech (librispeech): https://www.openslr.org/12" in plan
    assert "test-clean.tar.gz (346 MB)" in plan and "VCTK-Corpus-0.92.zip (10.9 GB)" in plan
    assert "wham_noise.zip" in plan and "zenodo.org/records/14791114" in plan
    assert "download: 29.6 GB + mls" in plan
    assert "audio: 5.4 h (not counted: librimix, mls, vctk, voicebank)" in plan
    assert "weights missing: dycast (" in plan and "for dycast-ca, dycast-bp1, dycast-bp3, dycast-bp5" in plan
    assert "own environment: stablecodec-2x15625: tox -e stablecodec" in plan
    assert "GPU: stablecodec-2x15625 needs a CUDA GPU" in plan and "GPU hours: no costs measured on a GPU" in plan
    assert "compute: about" in plan and "NOT the codec's numbers" in plan
    main(["paper", "table4", "--dry-run", "--out", str(tmp_path / "run4")])
    assert "training runs" in capsys.readouterr().out


def test_dry_run_sets_the_counts_beside_the_papers_and_warns(shared_data: Path, tmp_path: Path, capsys) -> None:
    """Corpus sizes and VC pairs beside the counts the paper states; a difference is a warning, not a failure."""
    roots = {"mls": mini.mls(shared_data, tmp_path / "MiniMLS", per_language=1),
             "vctk": mini.vctk_awkward(shared_data, tmp_path / "VCTK")}
    main(["paper", "table2", *[a for n, r in roots.items() for a in ("--root", f"{n}={r}")], "--dry-run",
          "--out", str(tmp_path / "run")])
    lines = capsys.readouterr().out.splitlines()
    mls = next(line for line in lines if line.startswith("  dataset mls:"))
    assert "7 utterances" in mls and "WARNING: the paper states 700" in mls
    vc = next(line for line in lines if line.startswith("  samples vc on vctk:"))
    assert vc.startswith("  samples vc on vctk: 21 ") and "the paper states 2521" in vc  # the authors' pairs
    assert "  work vc: 21 samples (vctk) x 15 codec variants" in lines
    assert not any("dataset vctk" in line and "WARNING" in line for line in lines)  # no utterance count stated


@pytest.fixture
def table2_roots(shared_data: Path, tmp_path: Path) -> list[str]:
    libri = mini.librispeech(shared_data, tmp_path / "LibriSpeech")
    (tmp_path / "mix").mkdir()
    mixed = load_dataset(DatasetSpec("m", "librimix", str(tmp_path / "mix"), options={
        "metadata": str(mini.wham_metadata(shared_data, tmp_path, libri)), "librispeech_root": str(libri),
        "wham_root": str(tmp_path / "wham_noise")}))
    roots = {"librispeech": libri, "mls": mini.mls(shared_data, tmp_path / "MLS", per_language=1),
             "voicebank": mini.voicebank(shared_data, tmp_path / "VoiceBank"),
             "librimix": mini.libri1mix_prepared(mixed, tmp_path / "Libri1Mix"),
             "vctk": mini.vctk(shared_data, tmp_path / "VCTK")}
    return [arg for name, root in roots.items() for arg in ("--root", f"{name}={root}")]


@pytest.mark.slow
def test_table2_end_to_end_on_miniature_corpora(table2_roots: list[str], tmp_path: Path, capsys) -> None:
    small = [*OFFLINE, "metrics=[dnsmos, sim]", "datasets.librispeech.limit=2",
             "datasets.vctk.options.speakers=[p225, p226]", "task_codecs={vc: [reference, dycast-bp3]}",
             "codecs=[reference, mulaw-8bit, {name: dycast-bp3, codec: dycast-bp3, params: {random_preset: tiny}}]"]
    out_dir = tmp_path / "run"
    assert main(["paper", "table2", *small, *table2_roots, "--dry-run", "--out", str(out_dir)]) == 1
    dry = capsys.readouterr().out  # every root found; only DyCAST's weights are missing (random on purpose)
    assert "dataset mls: 7 utterances" in dry and "cached: nothing yet" in dry and "MISSING data" not in dry
    assert "samples vc on vctk: " in dry
    assert [line for line in dry.splitlines() if "MISSING" in line] == [
        line for line in dry.splitlines() if "MISSING weights of dycast-bp3: asset 'dycast'" in line]
    assert main(["paper", "table2", *small, *table2_roots, "--out", str(out_dir), "--no-progress"]) == 0
    printed = capsys.readouterr().out
    table = _labelled(pd.read_csv(out_dir / "tables" / "table2.csv", index_col=0))
    assert {"SR librispeech DNSMOS ↑", "SR mls DNSMOS ↑", "SR voicebank DNSMOS ↑", "SR librimix DNSMOS ↑",
            "VC Sim ↑"} <= set(table.columns)
    assert [c for c in table.columns if c.startswith("SR") and "DNSMOS" in c] == [  # the paper's column order
        "SR librispeech DNSMOS ↑", "SR mls DNSMOS ↑", "SR voicebank DNSMOS ↑", "SR librimix DNSMOS ↑"]
    assert "reference (paper)" in table.index and "dycast-bp3 (paper)" in table.index
    deltas = pd.read_csv(out_dir / "tables" / "table2_vs_paper.csv")
    assert {"librispeech", "mls"} & {c.split()[1] for c in deltas["column"]} and "delta" in printed
    assert main(["paper", "table2", *small, *table2_roots, "--out", str(out_dir), "--no-progress", "--check"]) == 1
    assert "CHECK FAILED" in capsys.readouterr().err  # toy corpora and random weights are not the paper's numbers
    main(["paper", "table2", *small, *table2_roots, "--dry-run", "--out", str(out_dir)])
    assert "rows in" in capsys.readouterr().out  # the dry run now sees the cached rows


@pytest.mark.slow
def test_table6_modes_and_table1_rates_on_miniature_librispeech(shared_data: Path, tmp_path: Path, capsys) -> None:
    libri = mini.librispeech(shared_data, tmp_path / "LibriSpeech")
    tiny = "{random_preset: tiny"
    codecs = ("codecs=[{name: dycast-bp3-durations, codec: dycast-bp3, params: " + tiny + ", mode: tokens+durations}}, "
              "{name: dycast-bp3, codec: dycast-bp3, params: " + tiny + "}}, "
              "{name: dycast-bp3-tokens, codec: dycast-bp3, params: " + tiny + ", mode: tokens}}]")
    args = [*OFFLINE, "metrics=[dnsmos, sim]", "datasets.librispeech.limit=2", codecs, "--root", f"librispeech={libri}",
            "--no-progress"]
    assert main(["paper", "table6", *args, "--out", str(tmp_path / "t6")]) == 0
    table = _labelled(pd.read_csv(tmp_path / "t6" / "tables" / "resynthesis.csv", index_col=0))
    assert {"dycast-bp3-durations", "dycast-bp3", "dycast-bp3-tokens", "dycast-bp3-tokens (paper)"} <= set(table.index)
    assert main(["paper", "table1", "device=cpu", "datasets.librispeech.limit=2", "codecs=[mulaw-8bit, codec2-700c]",
                 "--out", str(tmp_path / "t1"), "--root", f"librispeech={libri}", "--no-progress"]) == 0
    out = capsys.readouterr().out
    assert "codec_info" in out and "Table 1 as published" in out
    laid_out = pd.read_csv(tmp_path / "t1" / "table1.csv").set_index("codec")
    assert laid_out.loc["codec2-700c", "codebooks"] == "4x256" and "paper_bitrate_kbps" in laid_out.columns


@pytest.mark.slow
def test_table3_with_a_retrieval_index_built_by_bench_rad(shared_data: Path, tmp_path: Path) -> None:
    libri = mini.librispeech(shared_data, tmp_path / "LibriSpeech")
    rad = tmp_path / "rad"
    assert main(["rad", "pool", str(rad), "--root", str(libri / "test-clean"), "--format", "librispeech",
                 "--random-preset", "tiny"]) == 0
    assert main(["rad", "index", str(rad), "--nlist", "4", "--nprobe", "2", "--train-size", "2000"]) == 0
    tiny = "params: {random_preset: tiny"
    codecs = ("codecs=[{name: dycast-bp1, codec: dycast-bp1, " + tiny + "}}, "
              "{name: dycast-bp1-rad95, codec: dycast-bp1, " + tiny
              + ", use_retriever: true, sim_threshold: 0.95, index: '{root:rad}/index.faiss'}}]")
    assert main(["paper", "table3", *OFFLINE, "metrics=[sim]", "datasets.librispeech.limit=2", codecs,
                 "--root", f"librispeech={libri}", "--root", f"rad={rad}", "--out", str(tmp_path / "t3"),
                 "--no-progress"]) == 0
    table = _labelled(pd.read_csv(tmp_path / "t3" / "tables" / "resynthesis.csv", index_col=0))
    assert {"dycast-bp1", "dycast-bp1-rad95", "dycast-bp1-rad95 (paper)"} <= set(table.index)


@pytest.mark.slow
def test_table4_probes_and_tts_on_miniature_corpora(shared_data: Path, tmp_path: Path) -> None:
    libri = mini.librispeech(shared_data, tmp_path / "LibriSpeech", {
        "train-clean-100": slice(0, 5), "train-clean-360": slice(5, 7), "dev-clean": slice(7, 8),
        "test-clean": slice(8, 11)})
    iemocap = mini.iemocap(shared_data, tmp_path / "IEMOCAP")
    size = "{layers: 1, heads: 2, kv_heads: 1, dim: 32, ffn: 64}"
    overrides = [*OFFLINE, "metrics=[dnsmos]",
                 "codecs=[codec2-700c, {name: dycast-ca, codec: dycast-ca, "
                 "params: {random_preset: tiny, mode: tokens}}]",
                 "task_codecs={tts_ar: [codec2-700c], tts_nar: [dycast-ca]}",
                 "task_options.asr_probe={tokenizer: bpe, vocab_size: 40, max_epochs: 1, hidden: 32}",
                 "task_options.si_probe={max_epochs: 1, hidden: 32}",
                 "task_options.ser_probe={max_epochs: 1, hidden: 32}",
                 f"task_options.tts_ar={{size: {size}, max_steps: 4, num_samples: 1}}",
                 f"task_options.tts_nar={{size: {size}, max_steps: 4}}"]
    assert main(["paper", "table4", *overrides, "--root", f"librispeech={libri}", "--root", f"iemocap={iemocap}",
                 "--out", str(tmp_path / "t4"), "--no-progress"]) == 0
    table = _labelled(pd.read_csv(tmp_path / "t4" / "tables" / "table4.csv", index_col=0))
    assert {"Frame Rate (Hz)", "ASR WER ↓", "SI ER ↓", "SER ER ↓", "TTS DNSMOS ↑"} <= set(table.columns)
    assert {"codec2-700c", "dycast-ca", "dycast-ca (paper)"} <= set(table.index)
    assert table.loc["dycast-ca (paper)", "ASR WER ↓"] == pytest.approx(13.05)
