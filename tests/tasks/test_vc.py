"""Voice conversion: pair selection, both conversion methods, rows and tables."""

from __future__ import annotations

from pathlib import Path

import pytest
import soundfile as sf
import torch

from codecbench.api.datasets import DatasetSpec, Utterance, load_dataset
from codecbench.config.runconfig import from_dict
from codecbench.engine import runner
from codecbench.results.tables import load_rows, render, summarize
from codecbench.tasks._vc_pairs import select_vc_samples
from codecbench.tasks.voice_conversion import _duration, circular_fit


def _utt(speaker: str, group: str | None, n: int) -> Utterance:
    return Utterance(f"{speaker}_{group or 'x'}{n}", Path(f"{speaker}_{n}.wav"), speaker=speaker, parallel_group=group)


def _authors_pairs(root: Path) -> set[tuple[str, str, str]]:
    """The authors' rule written out from their description (datasets/vctk.py, test_vc.py), on file names:
    mic1 files numbered < 25, speakers of each number paired i -> i + 1 in sorted file order, the reference
    the longest of the target's other such files (the first of equals)."""
    files = sorted((root / "wav48_silence_trimmed").rglob("*.flac"))
    kept = [f for f in files if f.stem.split("_")[2] == "mic1" and int(f.stem.split("_")[1]) < 25]
    by_number: dict[str, list[Path]] = {}
    for f in kept:
        by_number.setdefault(f.stem.split("_")[1], []).append(f)
    expected = set()
    for number, readers in by_number.items():
        for src, tgt in zip(readers, readers[1:], strict=False):
            speaker = tgt.stem.split("_")[0]
            others = [f for f in kept if f.stem.split("_")[0] == speaker and f.stem.split("_")[1] != number]
            longest = max(others, key=lambda f: sf.info(str(f)).frames)
            expected.add((src.stem.rsplit("_", 1)[0], tgt.stem.rsplit("_", 1)[0], longest.stem.rsplit("_", 1)[0]))
    return expected


def test_vctk_pairs_follow_the_authors_rule(shared_data: Path, tmp_path: Path) -> None:
    from tests.core import mini_corpora as mini

    root = mini.vctk_awkward(shared_data, tmp_path)
    utts = load_dataset(DatasetSpec("v", "vctk", str(root)))
    samples = select_vc_samples(utts, _duration)
    got = {(s.source.utt_id, s.target_parallel.utt_id, s.reference.utt_id) for s in samples}
    assert got == _authors_pairs(root)
    assert any(s.target_parallel.speaker == "p315" for s in samples)  # no transcripts, still a target
    assert not any(s.source.speaker == "p315" for s in samples)  # the last reader: no wrap-around
    assert all("025" not in s.reference.utt_id for s in samples)  # not a parallel utterance
    assert len(samples) == 6 * 3 + 3  # six sentences read by p225-p228, three of them by p315 too
    assert {"p225_025", "p226_025"}.isdisjoint(u.utt_id for u in utts if u.parallel_group)
    old = select_vc_samples(load_dataset(DatasetSpec("v", "vctk", str(root), options={"parallel": "transcript"})),
                            _duration, pairing="next", reference_pool="all")
    assert len(old) == 6 * 4 and any("025" in s.reference.utt_id for s in old)  # the rule before, kept as options


def test_pair_selection_options() -> None:
    utts = [_utt(s, g, i) for s in ("a", "b", "c") for i, g in enumerate(("g1", "g2", "g3"))]
    utts.append(_utt("c", None, 9))  # a non-parallel utterance of c: its longest candidate in the "all" pool
    lengths = {u.utt_id: float(i) for i, u in enumerate(utts)}
    samples = select_vc_samples(utts, lambda u: lengths[u.utt_id])
    assert len(samples) == 6  # a -> b and b -> c for each of the three sentences
    for s in samples:
        assert s.source.speaker != s.target_parallel.speaker == s.reference.speaker
        assert s.target_parallel.parallel_group == s.source.parallel_group
        assert s.reference.parallel_group not in (None, s.source.parallel_group)
    wrapped = select_vc_samples(utts, lambda u: lengths[u.utt_id], pairing="next", reference_pool="all")
    assert len(wrapped) == 9
    assert [s.reference.utt_id for s in wrapped if s.target_parallel.speaker == "c"][0] == "c_x9"  # longest
    assert select_vc_samples(utts, lambda u: 1.0, pairing="random", seed=3) == \
        select_vc_samples(utts, lambda u: 1.0, pairing="random", seed=3)
    with pytest.raises(ValueError, match="pairing"):
        select_vc_samples(utts, lambda u: 1.0, pairing="wrap")


def test_circular_fit_truncates_or_pads_half_before() -> None:
    codes = torch.arange(3)[:, None]
    assert circular_fit(codes, 2)[:, 0].tolist() == [0, 1]
    assert circular_fit(codes, 7)[:, 0].tolist() == [1, 2, 0, 1, 2, 0, 1]  # 2 frames before, 2 after


@pytest.mark.parametrize("codec", [
    {"name": "dycast-tiny", "codec": "dycast-bp3", "params": {"random_preset": "tiny"}},
    {"name": "focal-tiny", "codec": "focalcodec-50hz", "params": {"size": "tiny"}},
    "wavtokenizer-40hz",  # kNN on encoder latents, 24 kHz codec on 16 kHz data
    "mulaw-8bit",
    "reference",
])
@pytest.mark.slow
def test_vc_runs_on_shared_vctk(shared_data: Path, tmp_path: Path, codec) -> None:
    config = from_dict({
        "name": "vc", "output_dir": str(tmp_path / "run"), "metric_profile": "offline", "metrics": [],
        "tasks": ["vc"], "codecs": [codec],
        "datasets": {"vctk": {"format": "manifest", "root": str(shared_data),
                              "ids": ["p225_003", "p225_008", "p226_003", "p226_008"]}},
    })
    runner.run(config, progress=False)
    rows = list(load_rows([tmp_path / "run"]).itertuples())
    errors = [r for r in rows if r.metric == "error"]
    if codec == "mulaw-8bit":
        assert len(errors) == 2 and "no voice-conversion method" in errors[0].error
        return
    if codec == "reference":
        assert not errors and {r.metric for r in rows} == {"frame_rate", "bitrate", "token_rate"}
        return
    assert not errors
    assert {r.utt_id for r in rows} == {"p225_003->p226", "p225_008->p226"}  # consecutive speakers, no wrap
    summary = summarize(load_rows([tmp_path / "run"]))
    assert (summary["task"] == "vc").all()
    assert "vc" in render([tmp_path / "run"])


@pytest.mark.slow
def test_vc_multi_codebook_swap_with_offline_metrics(shared_data: Path, tmp_path: Path) -> None:
    pytest.importorskip("transformers", reason="EnCodec runs through transformers (extra 'paper')")
    pytest.importorskip("resemblyzer")
    config = from_dict({
        "name": "vc", "output_dir": str(tmp_path / "run"), "metric_profile": "offline", "metrics": ["sim"],
        "tasks": ["vc"], "codecs": ["encodec-24khz-1.5kbps"],
        "datasets": {"vctk": {"format": "manifest", "root": str(shared_data), "ids": ["p225_003", "p226_003",
                                                                                      "p225_011", "p226_011"]}},
    })
    runner.run(config, progress=False)
    summary = summarize(load_rows([tmp_path / "run"])).set_index("metric")
    assert summary.loc["bitrate", "value"] == pytest.approx(1.5, rel=0.01)
    assert -1.0 <= summary.loc["sim", "value"] <= 1.0 and summary.loc["sim", "errors"] == 0


def test_vc_rows_do_not_depend_on_prefetch_or_scoring_groups(shared_data: Path, tmp_path: Path,
                                                            snr_metric: str) -> None:
    runs = []
    for prefetch, batch in ((0, 1), (2, 3)):
        out = tmp_path / f"p{prefetch}"
        runner.run(from_dict({
            "name": "vc", "output_dir": str(out), "metric_profile": "offline", "metrics": ["snr"],
            "tasks": ["vc"], "codecs": ["reference", "mulaw-8bit"], "prefetch": prefetch, "batch_size": batch,
            "datasets": {"vctk": {"format": "manifest", "root": str(shared_data),
                                  "ids": ["p225_003", "p225_008", "p226_003", "p226_008"]}},
        }), progress=False)
        runs.append(sorted((out / "rows.jsonl").read_text().splitlines()))
    assert runs[0] == runs[1] and any('"snr"' in line for line in runs[0])


def test_dycast_vc_decodes_at_the_target_parallel_length(tmp_path: Path) -> None:
    """DyCAST (tokens + utterance length) converts by kNN and, as the authors' dycast.py budgets from the last
    encode before decoding, decodes the conversion at the target's parallel utterance's length, not the source's;
    ``length_budget: source`` keeps the source's; a forced swap (their DyCAST run) budgets the reference's."""
    from codecbench.api.contract import tone
    from codecbench.api.diskcache import DiskCache
    from codecbench.config.runconfig import CodecSpec
    from codecbench.engine.jobs import build_codec
    from codecbench.plugins.registry import CODECS
    from codecbench.tasks.voice_conversion import conversion_method, convert

    torch.manual_seed(0)
    codec = build_codec(CodecSpec("d", "dycast-bp1", dict(CODECS.get("dycast-bp1").cls.test_params)))
    assert conversion_method(codec, "auto") == "knn" and conversion_method(codec, "swap") == "swap"
    source, reference = tone(1.0, seed=1), tone(1.6, freq=140.0, seed=2)
    target = 16000 * 2  # the target's parallel utterance: 2 s, slower than the 1 s source
    cache = DiskCache(tmp_path, "tokens")
    hop = codec.output_sample_rate / 50
    authors, _ = convert(codec, source, reference, cache, "k", "cpu", "auto", budget=target)
    own, _ = convert(codec, source, reference, cache, "k", "cpu", "auto", budget=None)
    swapped, _ = convert(codec, source, reference, cache, "k", "cpu", "swap", budget=len(reference))
    assert abs(len(authors) - target) <= hop  # the tail of the speech is not cut to the source's length
    assert abs(len(own) - len(source)) <= hop
    assert abs(len(swapped) - len(reference)) <= hop
