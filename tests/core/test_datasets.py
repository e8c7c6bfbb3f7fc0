"""Dataset formats: folder, manifest (../shared/data), LibriSpeech layout, quickstart corpus."""

from __future__ import annotations

from pathlib import Path

import pytest
import soundfile as sf

from codecbench.api.datasets import DatasetSpec, load_dataset
from tests.conftest import tone


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
    with pytest.raises(KeyError, match="are not utterances"):
        load_dataset(DatasetSpec("x", "folder", str(tmp_path), ids=("nope",)))
    with pytest.raises(ValueError, match="no utterances"):
        load_dataset(DatasetSpec("x", "folder", str(tmp_path)))


def test_quickstart_corpus_is_deterministic(tmp_path: Path) -> None:
    pytest.importorskip("espeakng_loader", reason="eSpeak NG (extra 'synth') not installed")
    first = load_dataset(DatasetSpec("q", "quickstart", str(tmp_path / "a"), options={"num_paragraphs": 1}))
    second = load_dataset(DatasetSpec("q", "quickstart", str(tmp_path / "b"), options={"num_paragraphs": 1}))
    from codecbench.corpora._synth import VOICES

    assert len(first) == len(VOICES) and len({u.speaker for u in first}) == len(VOICES)
    assert all(a.path.read_bytes() == b.path.read_bytes() for a, b in zip(first, second, strict=True))
    assert first[0].text and sf.info(str(first[0].path)).samplerate == 16000


def test_iemocap_layout_and_split(tmp_path: Path) -> None:
    for session, turns in ((1, ["Ses01F_impro01_F000", "Ses01F_impro01_M001"]), (5, ["Ses05F_script01_F002",
                                                                                       "Ses05F_script01_M003"])):
        dialog = turns[0].rsplit("_", 1)[0]
        evald = tmp_path / f"Session{session}" / "dialog" / "EmoEvaluation"
        evald.mkdir(parents=True)
        lines = [f"[1.0 - 2.0]\t{turns[0]}\texc\t[2.5, 2.5, 2.5]", f"[3.0 - 4.0]\t{turns[1]}\tfru\t[2, 2, 2]",
                 f"[5.0 - 6.0]\t{dialog}_M009\tsad\t[2, 2, 2]"]
        (evald / f"{dialog}.txt").write_text("% header\n" + "\n".join(lines) + "\n")
    extra = tmp_path / "Session5" / "dialog" / "EmoEvaluation" / "Ses05M_impro01.txt"
    extra.write_text("[1.0 - 2.0]\tSes05M_impro01_F004\tneu\t[2, 2, 2]\n[2.0 - 3.0]\tSes05M_impro01_M005\thap\t[2]\n")
    utts = {u.utt_id: u for u in load_dataset(DatasetSpec("i", "iemocap", str(tmp_path)))}
    assert "Ses01F_impro01_M001" not in utts  # frustration is not one of the four classes
    assert "Ses01F_impro01_F000" not in utts and "Ses05F_script01_F002" not in utts  # exc dropped, as the authors
    assert utts["Ses05F_script01_M009"].labels == {"emotion": "sad", "split": "test"}
    # 5F / 5M by the letter of the turn's own suffix, whatever the dialog's name says
    assert utts["Ses05M_impro01_F004"].labels == {"emotion": "neu", "split": "valid"}
    assert utts["Ses05M_impro01_M005"].labels == {"emotion": "hap", "split": "test"}
    merged = {u.utt_id: u for u in load_dataset(DatasetSpec("i", "iemocap", str(tmp_path),
                                                            options={"merge_excited": True}))}
    assert merged["Ses01F_impro01_F000"].labels == {"emotion": "hap", "split": "train"}
    assert merged["Ses05F_script01_F002"].labels["split"] == "valid"
