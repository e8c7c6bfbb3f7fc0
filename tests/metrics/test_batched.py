"""Batched metric inference gives the numbers of one-at-a-time scoring on real speech: identical
transcripts, scores within 1e-4 (the per-utterance reference paths are the libraries' own calls)."""

from __future__ import annotations

import csv
from pathlib import Path

import numpy as np
import pytest

from codecbench import assets
from codecbench.api.datasets import Utterance
from codecbench.util.audio import load_audio, resample
from tests.metrics.random_assets import tiny_utmos, tiny_wavlm_sv

TOLERANCE = 1e-4


def _clips(shared_data: Path, count: int) -> tuple[list[np.ndarray], list[str]]:
    """``count`` clips spread over the corpora (several languages), plus silence and noise."""
    with open(shared_data / "manifest.csv", encoding="utf-8") as handle:
        rows = list(csv.DictReader(handle))
    spread = rows[:: max(1, len(rows) // count)][: count - count // 3]
    picked = spread + [row for row in rows[::-1] if row.get("language", "en") != "en"][: count // 3]
    audios, languages = [], []
    for row in picked:
        audio = load_audio(shared_data / "clips" / row["file"])
        audios.append(resample(audio.samples, audio.sample_rate, 16000).astype(np.float32))
        languages.append(row.get("language") or "en")
    rng = np.random.default_rng(0)
    audios += [np.zeros(24000, np.float32), (0.05 * rng.standard_normal(40000)).astype(np.float32)]
    return audios, languages + ["en", "en"]


@pytest.mark.slow
def test_whisper_batches_give_the_same_transcripts(shared_data: Path) -> None:
    pytest.importorskip("faster_whisper", reason="dWER needs faster-whisper (extra: offline)")
    from codecbench.metrics._whisper import get_transcriber

    audios, languages = _clips(shared_data, 7)
    transcriber = get_transcriber("base")
    one_by_one = [transcriber.transcribe(a, lang) for a, lang in zip(audios, languages, strict=True)]
    assert len(set(languages)) > 1 and sum(bool(t) for t in one_by_one) >= 6  # real speech, several languages
    for batch_size in (4,):  # two full batches and a partial one
        assert transcriber.transcribe_batch(audios, languages, batch_size) == one_by_one


def test_dwer_reuses_transcripts_of_identical_audio(shared_data: Path, tmp_path: Path, monkeypatch) -> None:
    pytest.importorskip("faster_whisper", reason="dWER needs faster-whisper (extra: offline)")
    monkeypatch.setenv("CODECBENCH_CACHE", str(tmp_path))
    from codecbench.metrics.dwer import DWER

    audios, _ = _clips(shared_data, 2)
    metric = DWER(asr="base", batch_size=4)
    calls: list[int] = []
    original = metric.transcriber.transcribe_batch
    monkeypatch.setattr(metric.transcriber, "transcribe_batch",
                        lambda a, lang, b: calls.append(len(a)) or original(a, lang, b))
    meta = [Utterance(utt_id=str(i), path=Path("x")) for i in range(2)]
    scores = metric.compute(audios[:2], audios[:2], meta)  # a lossless codec: hypothesis == reference
    assert calls == [2] and [s["dwer"].num for s in scores] == [0, 0]
    metric.compute(audios[:2], audios[:2], meta)
    assert calls == [2]  # the second pass is read from the transcript cache


@pytest.mark.slow
def test_text_errors_of_several_samples_match_one_at_a_time(shared_data: Path, tmp_path: Path,
                                                            monkeypatch) -> None:
    """TTS best-of-N scores its samples in one call: the same errors and transcripts as one by one."""
    pytest.importorskip("faster_whisper", reason="dWER needs faster-whisper (extra: offline)")
    from codecbench.metrics.dwer import DWER

    audios, _ = _clips(shared_data, 5)
    audios = audios[:3] + audios[-2:]  # speech, silence and noise
    text = "Chapter one. Missus Rachel Lynde is surprised!"
    monkeypatch.setenv("CODECBENCH_CACHE", str(tmp_path / "batched"))
    batched = DWER(asr="base", batch_size=4).text_errors(audios, text, "en")
    monkeypatch.setenv("CODECBENCH_CACHE", str(tmp_path / "single"))
    single = DWER(asr="base", batch_size=1)
    one_by_one = [single.text_errors([audio], text, "en")[0] for audio in audios]
    assert batched == one_by_one and len(batched) == 5
    assert all(n_words == 7 for _, n_words, _ in batched) and batched[3] == (7, 7, "")  # silence: every word missed


@pytest.mark.slow
def test_dnsmos_window_batches_match_the_reference_script(shared_data: Path) -> None:
    pytest.importorskip("speechmos", reason="DNSMOS needs speechmos (extra: offline)")
    from codecbench.metrics.dnsmos import DNSMOS

    audios, _ = _clips(shared_data, 8)
    audios.append(np.full(200, 0.01, np.float32))  # tiled many times over
    metric = DNSMOS(batch_size=5)
    batched = metric.compute(audios, audios, [None] * len(audios))  # type: ignore[list-item]
    names = {"p808_mos": "dnsmos_p808", "ovrl_mos": "dnsmos_ovrl", "sig_mos": "dnsmos_sig", "bak_mos": "dnsmos_bak"}
    for audio, score in zip(audios, batched, strict=True):
        reference = metric._model(np.clip(audio, -1.0, 1.0), 16000, False)  # speechmos, one window at a time
        for key, name in names.items():
            assert abs(float(reference[key]) - score[name].value) < TOLERANCE
    alone = [metric.compute([a], [a], [None])[0] for a in audios[:3]]  # type: ignore[list-item]
    assert alone == batched[:3]  # bit for bit: a clip's score does not depend on the clips beside it
    p808_only = DNSMOS(batch_size=5, outputs=["dnsmos_p808"])  # what a run computes unless it names P.835
    only = p808_only.compute(audios[:3], audios[:3], [None] * 3)  # type: ignore[list-item]
    assert [s["dnsmos_p808"] for s in only] == [s["dnsmos_p808"] for s in batched[:3]]
    assert all(set(s) == {"dnsmos_p808"} for s in only) and p808_only.backend != metric.backend


def test_sim_reuses_embeddings_of_identical_audio(shared_data: Path, tmp_path: Path, monkeypatch) -> None:
    pytest.importorskip("resemblyzer", reason="Sim (offline) needs resemblyzer (extra: offline)")
    monkeypatch.setenv("CODECBENCH_CACHE", str(tmp_path))
    from resemblyzer import preprocess_wav

    from codecbench.metrics.similarity import SpeakerSimilarity

    audios, _ = _clips(shared_data, 3)
    metric = SpeakerSimilarity("resemblyzer")
    encoder = metric._embedder._encoder  # type: ignore[attr-defined]
    for audio, emb in zip(audios, metric._embedder.embed_batch(audios, 1), strict=True):
        wav = preprocess_wav(audio, source_sr=16000)
        assert np.array_equal(encoder.embed_utterance(wav if len(wav) else audio), emb)  # the library's call
    calls: list[int] = []
    original = metric._embedder.embed_batch
    monkeypatch.setattr(metric._embedder, "embed_batch", lambda a, b: calls.append(len(a)) or original(a, b))
    scores = metric.compute(audios[:2], audios[:2], [None] * 2)  # type: ignore[list-item]
    assert calls == [2] and all(abs(s["sim"].value - 1.0) < 1e-6 for s in scores)


def test_equal_length_groups_for_models_without_a_mask(tmp_path: Path, monkeypatch) -> None:
    """WavLM-SV and UTMOS batch only clips of equal length: the scores equal one-at-a-time scoring."""
    pytest.importorskip("transformers", reason="WavLM-SV needs transformers (extra: paper)")
    monkeypatch.setenv("CODECBENCH_CACHE", str(tmp_path / "cache"))
    assets.set_overrides({"wavlm-base-sv": str(tiny_wavlm_sv(tmp_path / "sv")),
                          "utmos22-strong": str(tiny_utmos(tmp_path / "utmos"))})
    try:
        from codecbench.metrics.similarity import SpeakerSimilarity
        from codecbench.metrics.utmos import UTMOS

        rng = np.random.default_rng(1)
        audios = [(0.1 * rng.standard_normal(n)).astype(np.float32) for n in (8000, 12000, 8000, 16000, 8000, 12000)]
        sim = SpeakerSimilarity("wavlm-base-sv", batch_size=2)
        batched = sim._embedder.embed_batch(audios, 2)
        for audio, emb in zip(audios, batched, strict=True):  # random x-vectors are large: compare relatively
            alone = sim._embedder.embed_batch([audio], 1)[0]
            assert np.abs(alone - emb).max() < TOLERANCE * np.abs(alone).max()
        pairs = list(zip(audios[:3], audios[3:], strict=True))
        together = [s["sim"].value for s in sim.compute([h for h, _ in pairs], [r for _, r in pairs], [None] * 3)]  # type: ignore[list-item]
        one_by_one = [sim.compute([h], [r], [None])[0]["sim"].value for h, r in pairs]  # type: ignore[list-item]
        assert np.abs(np.array(together) - np.array(one_by_one)).max() < TOLERANCE
        utmos = UTMOS(batch_size=2)
        together = [s["utmos"].value for s in utmos.compute(audios, audios, [None] * 6)]  # type: ignore[list-item]
        alone = [utmos.compute([a], [a], [None])[0]["utmos"].value for a in audios]  # type: ignore[list-item]
        assert np.abs(np.array(together) - np.array(alone)).max() < TOLERANCE
    finally:
        assets.set_overrides({})


def test_metric_options_set_batch_sizes_and_reject_what_changes_numbers() -> None:
    from codecbench.config.profiles import metric_settings

    settings = metric_settings("offline", ["dwer", "dnsmos"], {"dwer": {"batch_size": 16}})
    assert settings["dwer"] == {"asr": "base", "batch_size": 16} and settings["dnsmos"] == {"outputs": ["dnsmos_p808"]}
    with pytest.raises(ValueError, match="does not score with"):
        metric_settings("offline", ["dnsmos"], {"dwer": {"batch_size": 16}})
    with pytest.raises(ValueError, match="change the numbers"):
        metric_settings("offline", ["dwer"], {"dwer": {"asr": "small"}})
    with pytest.raises(ValueError, match="did you mean 'batch_size'"):
        metric_settings("offline", ["dwer"], {"dwer": {"batchsize": 16}})


def test_metrics_compute_only_the_outputs_a_run_shows_or_names() -> None:
    from codecbench.config.profiles import metric_outputs, metric_settings

    assert metric_outputs("offline", ["dnsmos", "dwer"]) == {"dnsmos": ("dnsmos_p808",), "dwer": ("dwer",)}
    assert metric_outputs("offline", ["dnsmos", "dnsmos_ovrl"])["dnsmos"] == ("dnsmos_p808", "dnsmos_ovrl")
    assert metric_outputs("offline", ["dnsmos_bak"]) == {"dnsmos": ("dnsmos_p808", "dnsmos_bak")}
    assert metric_settings("offline", ["dnsmos_sig"])["dnsmos"]["outputs"] == ["dnsmos_p808", "dnsmos_sig"]
    with pytest.raises(ValueError, match="no backend"):
        metric_settings("offline", ["dnsmos_nope"])


@pytest.mark.slow  # each fallback loads a fresh Whisper (+0.55 GB peak): kept out of the README's 3 GB test run
def test_authors_fallback_decoding_is_seeded_and_named(shared_data: Path, monkeypatch) -> None:
    """The paper profile decodes as the authors' harness (temperature fallback): its backend says so, and
    sampled fallbacks give the same text in any order (reversed speech makes whisper-base fall back)."""
    pytest.importorskip("faster_whisper", reason="dWER needs faster-whisper (extra: offline)")
    from codecbench.metrics._whisper import get_transcriber

    clips, languages = _clips(shared_data, 4)
    audios = [clips[0], clips[1][::-1][:48000].copy(), clips[-1]]  # speech, 3 s of reversed speech, noise
    languages = [languages[0], languages[1], "en"]
    greedy, fallback = get_transcriber("base"), get_transcriber("base", fallback=True, seed=0)
    versions = "[faster-whisper=1.1.0,ctranslate2=4.3.1]"  # the authors' decoder, named in every row
    assert greedy.id.endswith(":beam1:T0" + versions) and fallback.id.endswith(":beam1:T0-1fallback:seed0" + versions)
    retried: list[int] = []
    original = fallback._with_fallback
    monkeypatch.setattr(fallback, "_with_fallback", lambda a, lang: retried.append(len(a)) or original(a, lang))
    forward = fallback.transcribe_batch(audios, languages)
    assert retried == [len(audios[1])]  # only the reversed speech fails at temperature 0
    backward = fallback.transcribe_batch(audios[::-1], languages[::-1])[::-1]
    one_by_one = [fallback.transcribe(a, lang) for a, lang in zip(audios, languages, strict=True)]
    assert forward == backward == one_by_one and forward[0] == greedy.transcribe(audios[0], languages[0])
