"""Dataset formats: folder, manifest (../shared/data), LibriSpeech layout, quickstart corpus."""

from __future__ import annotations

from pathlib import Path

import pytest
import soundfile as sf

from bench.datasets import DatasetSpec, load_dataset

from .conftest import tone


def test_folder_with_sidecar_transcripts(audio_dir: Path) -> None:
    utts = load_dataset(DatasetSpec("f", "folder", str(audio_dir)))
    assert [u.utt_id for u in utts] == ["utt0", "utt1"]
    assert utts[0].text == "sentence number 0"


def test_librispeech_layout(tmp_path: Path) -> None:
    chapter = tmp_path / "84" / "121123"
    chapter.mkdir(parents=True)
    sf.write(chapter / "84-121123-0001.flac", tone(0.5), 16000)
    (chapter / "84-121123.trans.txt").write_text("84-121123-0001 HELLO WORLD\n")
    (utt,) = load_dataset(DatasetSpec("ls", "librispeech", str(tmp_path)))
    assert (utt.utt_id, utt.speaker, utt.text) == ("84-121123-0001", "84", "HELLO WORLD")
    assert utt.path.is_file()


def test_shared_manifest(shared_data: Path) -> None:
    utts = load_dataset(DatasetSpec("s", "manifest", str(shared_data)))
    assert len(utts) == 51 and all(u.path.is_file() for u in utts)
    by_id = {u.utt_id: u for u in utts}
    assert by_id["p225_003"].parallel_group == "vctk_003"
    assert by_id["880_795_000000"].text is None  # use=no_asr
    assert by_id["p257_003"].condition == "noisy"


def test_missing_root_and_ids_are_clear_errors(tmp_path: Path) -> None:
    with pytest.raises(FileNotFoundError, match=r"datasets\.x\.root"):
        load_dataset(DatasetSpec("x", "folder", str(tmp_path / "absent")))
    with pytest.raises(KeyError, match="ids not found"):
        load_dataset(DatasetSpec("x", "folder", str(tmp_path), ids=("nope",)))
    with pytest.raises(ValueError, match="no utterances"):
        load_dataset(DatasetSpec("x", "folder", str(tmp_path)))


def test_quickstart_corpus_is_deterministic(tmp_path: Path) -> None:
    pytest.importorskip("espeakng_loader", reason="eSpeak NG (extra 'synth') not installed")
    first = load_dataset(DatasetSpec("q", "quickstart", str(tmp_path / "a"), options={"num_sentences": 1}))
    second = load_dataset(DatasetSpec("q", "quickstart", str(tmp_path / "b"), options={"num_sentences": 1}))
    assert len(first) == 4 and len({u.speaker for u in first}) == 4
    assert all(a.path.read_bytes() == b.path.read_bytes() for a, b in zip(first, second))
    assert first[0].text and sf.info(str(first[0].path)).samplerate == 16000
