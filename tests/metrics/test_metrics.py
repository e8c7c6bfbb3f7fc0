"""Metric plugins: declared metadata, text scoring, asset errors, real offline backends."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from codecbench import assets
from codecbench.api.text import word_errors, words
from codecbench.config.profiles import metric_settings, resolve_profile
from codecbench.plugins.registry import METRICS, discover
from codecbench.results.columns import output_specs
from codecbench.util.audio import load_audio

discover()


@pytest.mark.parametrize("name", METRICS.names())
def test_every_metric_declares_its_contract(name: str) -> None:
    cls = METRICS.get(name)
    assert cls.outputs and cls.reference in ("none", "source", "target") and cls.profiles
    for out in cls.outputs:
        assert out.higher_is_better in (True, False) and out.aggregation in ("mean", "ratio")
    assert set(o.name for o in cls.outputs) <= set(output_specs())


def test_word_errors_and_empty_transcripts() -> None:
    assert word_errors(words("a b c"), words("a x c d")) == 2
    assert word_errors(words(""), words("")) == 0
    assert words("") == [""]  # an empty reference counts as one word: no division by zero
    assert word_errors(words(""), words("hello there")) == 2


def _levenshtein(ref: list[str], hyp: list[str]) -> int:
    prev = list(range(len(hyp) + 1))
    for i, r in enumerate(ref, start=1):
        cur = [i] + [0] * len(hyp)
        for j, h in enumerate(hyp, start=1):
            cur[j] = min(prev[j] + 1, cur[j - 1] + 1, prev[j - 1] + (r != h))
        prev = cur
    return prev[-1]


def test_jiwer_alignment_counts_what_the_edit_distance_counts() -> None:
    """Seeded random word lists (empty words and references included): the same error count as a plain
    Levenshtein distance, split into substitutions, deletions and insertions."""
    import random

    from codecbench.api.text import align

    rng = random.Random(0)
    vocab = ["a", "b", "c", "", "dd"]
    for _ in range(500):
        ref = [rng.choice(vocab) for _ in range(rng.randint(0, 6))]
        hyp = [rng.choice(vocab) for _ in range(rng.randint(0, 6))]
        assert align(ref, hyp).errors == _levenshtein(ref, hyp)
    assert align(words("a b c"), words("a x c d")).as_extra() == {"sub": 1, "del": 0, "ins": 1}


def test_whisper_english_normaliser() -> None:
    pytest.importorskip("whisper_normalizer")
    from codecbench.api.text import english_normalizer

    norm = english_normalizer()
    assert norm("D'AVRIGNY rushed, Mr. Smith!") == "d avrigny rushed mister smith"


def test_paper_profile_without_weights_names_the_asset(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    assert resolve_profile("auto") == "offline"
    with pytest.raises(assets.AssetNotFound, match=r"utmos22-strong.*CODECBENCH_ASSET_UTMOS22_STRONG"):
        METRICS.get("utmos")()
    with pytest.raises(ValueError, match="no backend in profile"):
        metric_settings("offline", ["utmos"])


def test_configured_but_incomplete_asset_folder(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CODECBENCH_ASSET_WHISPER_SMALL_CT2", str(tmp_path))
    with pytest.raises(assets.AssetNotFound, match="missing"):
        assets.local_path("whisper-small-ct2")


@pytest.fixture(scope="module")
def clip(shared_data: Path) -> np.ndarray:
    return load_audio(shared_data / "clips" / "librispeech" / "84-121123-0001.flac").samples


@pytest.mark.slow
def test_offline_dwer_on_real_speech(clip: np.ndarray) -> None:
    pytest.importorskip("faster_whisper")
    from codecbench.api.datasets import Utterance
    from codecbench.metrics.dwer import DWER

    metric = DWER(asr="base")
    utt = Utterance("u", Path("u.flac"))
    noise = np.random.default_rng(0).standard_normal(len(clip)).astype(np.float32)
    same, noisy = metric.compute([clip, 0.2 * clip + 0.3 * noise], [clip, clip], [utt, utt])
    assert same["dwer"].value == 0.0 and same["dwer"].den >= 10
    assert "staircase" in same["dwer"].extra["ref"]
    assert noisy["dwer"].value > 0
    assert metric.backend.startswith("faster-whisper:base")


@pytest.mark.slow
def test_offline_sim_and_dnsmos_on_real_speech(clip: np.ndarray, shared_data: Path) -> None:
    pytest.importorskip("resemblyzer")
    pytest.importorskip("speechmos")
    from codecbench.api.datasets import Utterance
    from codecbench.metrics.dnsmos import DNSMOS
    from codecbench.metrics.similarity import SpeakerSimilarity

    other = load_audio(shared_data / "clips" / "vctk" / "p226_003.flac").samples
    utt = Utterance("u", Path("u.flac"))
    sim = SpeakerSimilarity(backend="resemblyzer")
    same, diff = sim.compute([clip, other], [clip, clip], [utt, utt])
    assert same["sim"].value == pytest.approx(1.0, abs=1e-6) and diff["sim"].value < 0.8
    noisy = clip + 0.05 * np.random.default_rng(0).standard_normal(len(clip)).astype(np.float32)
    clean, dirty = DNSMOS().compute([clip, np.clip(noisy, -1, 1)], [clip, clip], [utt, utt])
    assert clean["dnsmos_p808"].value > dirty["dnsmos_p808"].value
    assert 1.0 <= dirty["dnsmos_ovrl"].value <= 5.0


def test_dnsmos_names_its_onnx_providers(caplog: pytest.LogCaptureFixture) -> None:
    """onnxruntime-gpu refuses a session without providers; a CUDA run uses that GPU, or says it cannot."""
    from codecbench.metrics.dnsmos import onnx_providers

    gpu_build = ["TensorrtExecutionProvider", "CUDAExecutionProvider", "CPUExecutionProvider"]
    assert onnx_providers("cpu", gpu_build) == ["CPUExecutionProvider"]
    assert onnx_providers("cuda:1", gpu_build) == [("CUDAExecutionProvider", {"device_id": 1}), "CPUExecutionProvider"]
    assert onnx_providers("cuda", gpu_build)[0] == ("CUDAExecutionProvider", {"device_id": 0})
    with caplog.at_level("WARNING"):
        assert onnx_providers("cuda", ["CPUExecutionProvider"]) == ["CPUExecutionProvider"]
    assert "onnxruntime-gpu" in caplog.text


@pytest.mark.slow
def test_paper_sim_backend_loads_a_local_wavlm_sv_folder(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """The paper Sim path (transformers x-vectors from a local folder), with a tiny random model."""
    transformers = pytest.importorskip("transformers", reason="paper profile (extra 'paper') not installed")
    import torch

    from codecbench.api.datasets import Utterance
    from codecbench.metrics.similarity import SpeakerSimilarity

    config = transformers.WavLMConfig(hidden_size=16, num_hidden_layers=1, num_attention_heads=2, intermediate_size=32,
                                      conv_dim=(8,) * 7, num_conv_pos_embeddings=16, num_conv_pos_embedding_groups=2,
                                      tdnn_dim=(8, 8, 8, 8, 16), xvector_output_dim=12, num_buckets=32,
                                      initializer_range=1.0)
    torch.manual_seed(0)
    transformers.WavLMForXVector(config).save_pretrained(tmp_path / "wavlm-sv")
    monkeypatch.setenv("CODECBENCH_ASSET_WAVLM_BASE_SV", str(tmp_path / "wavlm-sv"))
    metric = SpeakerSimilarity(backend="wavlm-base-sv")
    rng = np.random.default_rng(0)
    a, b = (0.1 * rng.standard_normal(16000).astype(np.float32) for _ in range(2))
    utt = Utterance("u", Path("u.wav"))
    same, other, padded = metric.compute([a, b, a[:8000]], [a, a, a], [utt] * 3)
    assert same["sim"].value == pytest.approx(1.0, abs=1e-5) and other["sim"].value < 1.0
    assert np.isfinite(padded["sim"].value)
    with pytest.raises(ValueError, match="not finite"):  # 4880 samples leave one x-vector frame: no std
        metric.compute([a[:1000]], [a], [utt])
    assert metric.backend.startswith("wavlm-base-sv:xvector-512[transformers=") and "torch=" in metric.backend


def test_paper_dwer_backend_uses_a_local_ctranslate2_folder(monkeypatch: pytest.MonkeyPatch) -> None:
    """Asset resolution of the Whisper-small route (exercised with the Whisper-base files)."""
    pytest.importorskip("faster_whisper")
    from codecbench.metrics._whisper import WhisperTranscriber, whisper_base_dir

    monkeypatch.setenv("CODECBENCH_ASSET_WHISPER_SMALL_CT2", str(whisper_base_dir()))
    transcriber = WhisperTranscriber("small")
    assert transcriber.id.startswith("faster-whisper:small@")
    monkeypatch.delenv("CODECBENCH_ASSET_WHISPER_SMALL_CT2")
    with pytest.raises(assets.AssetNotFound, match="whisper-small-ct2"):
        WhisperTranscriber("small")


def test_scores_are_cached_by_content_and_failures_are_not(tmp_path: Path) -> None:
    from codecbench.api.datasets import Utterance
    from codecbench.api.diskcache import DiskCache
    from codecbench.api.metric import Metric, MetricOutput, Score
    from codecbench.api.task import score_batch

    class Energy(Metric):
        name = "energy"
        outputs = (MetricOutput("energy", "Energy", True),)
        reference = "none"
        calls = 0

        @property
        def backend(self) -> str:
            return "energy:v1"

        def compute(self, hyp, ref, meta):
            Energy.calls += len(hyp)
            if any(len(h) == 0 for h in hyp):
                raise ValueError("empty")
            return [{"energy": Score(float(np.mean(h ** 2)))} for h in hyp]

    cache = DiskCache(tmp_path, "scores")
    utt = Utterance("u", Path("u.wav"))
    a, b, empty = np.ones(10, np.float32), np.full(10, 2.0, np.float32), np.zeros(0, np.float32)
    first = score_batch(Energy(), [a, b, empty], [a, a, a], [utt] * 3, cache)
    assert isinstance(first[2], ValueError) and first[1]["energy"].value == 4.0
    Energy.calls = 0
    second = score_batch(Energy(), [a, b, empty], [a, a, a], [utt] * 3, cache)
    assert Energy.calls == 1 and second[0]["energy"].value == 1.0  # only the failure is recomputed
