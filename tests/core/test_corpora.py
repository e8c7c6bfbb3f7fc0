"""Corpus adapters on miniature corpora in each distributed layout, built from ../shared/data clips."""

from __future__ import annotations

import shutil
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf

from codecbench.api.datasets import DatasetSpec, load_dataset

from . import mini_corpora as mini


def _load(fmt: str, root: Path, **options) -> list:
    return load_dataset(DatasetSpec(fmt, fmt, str(root), options=options))


def test_minimls_is_read_as_distributed(shared_data: Path, tmp_path: Path) -> None:
    """MiniMLS as the authors read it: every audio file of every language folder, nothing ranked or cut; a
    transcripts file may list more utterances than there is audio."""
    mini.mls(shared_data, tmp_path, per_language=2, unlisted=3)
    utts = _load("mls", tmp_path)
    assert len(utts) == 14 and {u.language for u in utts} == set(mini.MLS_LANGUAGES)
    assert all(u.path.is_file() and u.text for u in utts)
    assert len({u.utt_id for u in utts}) == 14
    assert [u.utt_id for u in utts] == [u.utt_id for u in _load("mls", tmp_path)]
    (tmp_path / "mls_polish").rename(tmp_path / "polish")  # a language folder named without the prefix
    assert {u.utt_id for u in _load("mls", tmp_path)} == {u.utt_id for u in utts}
    shutil.rmtree(tmp_path / "polish")
    assert len(_load("mls", tmp_path)) == 12  # the folders present, as distributed
    with pytest.raises(FileNotFoundError, match="mls_polish/test"):
        _load("mls", tmp_path, languages=["polish"])
    with pytest.raises(ValueError, match="per_language"):
        _load("mls", tmp_path, per_language=1)
    (tmp_path / "mls_dutch" / "test" / "transcripts.txt").write_text("")
    with pytest.raises(FileNotFoundError, match="no line in a transcripts.txt"):
        _load("mls", tmp_path)


def test_mls_hashed_subset_of_full_mls_is_ours_and_seeded(shared_data: Path, tmp_path: Path) -> None:
    mini.mls(shared_data, tmp_path)
    utts = _load("mls", tmp_path, selection="hash", per_language=2)
    assert len(utts) == 14 and {u.language for u in utts} == set(mini.MLS_LANGUAGES)
    assert [u.utt_id for u in utts] == [u.utt_id for u in _load("mls", tmp_path, selection="hash", per_language=2)]
    assert {u.utt_id for u in _load("mls", tmp_path, selection="hash", per_language=2, seed=1)} != {
        u.utt_id for u in utts}
    shutil.rmtree(tmp_path / "mls_polish")
    with pytest.raises(FileNotFoundError, match="mls_polish/test"):
        _load("mls", tmp_path, selection="hash")


def test_voicebank_noisy_and_clean_with_transcripts(shared_data: Path, tmp_path: Path) -> None:
    mini.voicebank(shared_data, tmp_path)
    noisy = _load("voicebank", tmp_path)
    assert len(noisy) == 3 and all(u.condition == "noisy" and u.text and u.speaker for u in noisy)
    assert [u.reference_path for u in noisy] == [tmp_path / "clean_testset_wav" / u.path.name for u in noisy]
    clean = _load("voicebank", tmp_path, condition="clean")
    assert {u.condition for u in clean} == {"clean"} and all(u.reference_path is None for u in clean)
    shutil.rmtree(tmp_path / "testset_txt")
    with pytest.raises(FileNotFoundError, match="testset_txt"):
        _load("voicebank", tmp_path)


def test_libri1mix_prepared_and_mixed_from_metadata(shared_data: Path, tmp_path: Path) -> None:
    libri = mini.librispeech(shared_data, tmp_path / "LibriSpeech")
    meta = mini.wham_metadata(shared_data, tmp_path, libri)
    options = {"metadata": str(meta), "librispeech_root": str(libri), "wham_root": str(tmp_path / "wham_noise")}
    (tmp_path / "out").mkdir()
    (tmp_path / "out2").mkdir()  # where the mixtures are written
    mixed = _load("librimix", tmp_path / "out", **options)
    assert len(mixed) == 3 and all(u.text and u.condition == "noisy" for u in mixed)
    again = _load("librimix", tmp_path / "out2", **options)
    assert np.array_equal(sf.read(mixed[0].path)[0], sf.read(again[0].path)[0])  # deterministic mixing
    mixture, source = sf.read(mixed[0].path)[0], sf.read(mixed[0].reference_path)[0]
    assert len(mixture) == len(source) and not np.allclose(mixture, source, atol=1e-3)  # s1: the clean source
    prepared = mini.libri1mix_prepared(mixed, tmp_path / "Libri1Mix")
    loaded = _load("librimix", prepared, librispeech_root=str(libri))
    assert [u.text for u in loaded] == [u.text for u in mixed]
    assert all(u.reference_path == u.path.parent.parent / "s1" / u.path.name for u in loaded)
    (loaded[0].reference_path).unlink()
    with pytest.raises(FileNotFoundError, match="clean source"):
        _load("librimix", prepared)
    with pytest.raises(FileNotFoundError, match="mix_single"):
        _load("librimix", prepared, mode="max")


@pytest.mark.parametrize("release", ["0.92", "0.80"])
def test_vctk_both_releases_with_parallel_groups(shared_data: Path, tmp_path: Path, release: str) -> None:
    utts = _load("vctk", mini.vctk(shared_data, tmp_path, release))
    assert len(utts) == 24 and {u.speaker for u in utts} == {"p225", "p226", "p227", "p228"}
    groups: dict[str, set] = {}
    for u in utts:
        if u.parallel_group:
            groups.setdefault(u.parallel_group, set()).add(u.speaker)
    assert len(groups) >= 6 and all(len(s) == 4 for s in groups.values())
    with pytest.raises(FileNotFoundError, match="wav48"):
        _load("vctk", tmp_path / "txt")


def test_libritts_subsets_give_splits(shared_data: Path, tmp_path: Path) -> None:
    utts = _load("libritts", mini.libritts(shared_data, tmp_path))
    assert len(utts) == 6 and {u.labels["subset"] for u in utts} == {"train-clean-100", "test-clean"}
    assert all(u.text for u in utts)
    assert len(_load("libritts", tmp_path, subsets=["test-clean"])) == 2
    with pytest.raises(FileNotFoundError, match="dev-clean"):
        _load("libritts", tmp_path, subsets=["dev-clean"])


def test_librispeech_subsets_are_checked(shared_data: Path, tmp_path: Path) -> None:
    root = mini.librispeech(shared_data, tmp_path, {"train-clean-100": slice(0, 5), "test-clean": slice(5, None)})
    assert len(_load("librispeech", root, subsets=["train-clean-100"])) == 5
    with pytest.raises(FileNotFoundError, match="train-clean-360"):
        _load("librispeech", root, subsets=["train-clean-100", "train-clean-360"])
