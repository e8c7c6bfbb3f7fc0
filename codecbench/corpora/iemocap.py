"""``iemocap``: IEMOCAP (``Session{1..5}/dialog/EmoEvaluation`` + ``sentences/wav``), 4 emotions (``exc``
dropped, as the authors)."""

from __future__ import annotations

from pathlib import Path

from codecbench.api import Download, Utterance, register_dataset

IEMOCAP_CLASSES = ("sad", "hap", "ang", "neu")  # lucadellalib/audiocodecs hparams/datasets/iemocap.yaml `emotions`


DOWNLOAD = Download(
    source="https://sail.usc.edu/iemocap/ (a licence request to the authors)",
    files="IEMOCAP_full_release",
    layout="IEMOCAP/{Session1, ..., Session5}")


@register_dataset("iemocap")
def load_iemocap(root: str | Path, merge_excited: bool = False) -> list[Utterance]:
    """IEMOCAP, four classes (sad / hap / ang / neu); split: sessions 1-4 train, session 5 female speakers
    valid (5F), session 5 male speakers test (5M).

    As the authors' harness (lucadellalib/audiocodecs ``downstream/datasets/iemocap.py``, ``prepare_data``:
    turns whose label is not in ``emotions`` are dropped; a session-5 turn belongs to 5F or 5M by the first
    letter of its own suffix, ``Ses05M_impro01_F003`` -> F): ``exc`` is dropped. ``merge_excited=True``
    counts ``exc`` as ``hap`` (a common SER convention, not the paper's)."""
    root = Path(root)
    utts = []
    for session in range(1, 6):
        for evaluation in sorted((root / f"Session{session}" / "dialog" / "EmoEvaluation").glob("*.txt")):
            for line in evaluation.read_text(encoding="utf-8", errors="replace").splitlines():
                if not line.startswith("["):
                    continue
                parts = line.split("\t")
                if len(parts) < 3:
                    continue
                turn, emotion = parts[1].strip(), parts[2].strip()
                label = "hap" if emotion == "exc" and merge_excited else emotion
                if label not in IEMOCAP_CLASSES:
                    continue
                gender = turn.rsplit("_", 1)[-1][:1]
                split = "train" if session < 5 else ("valid" if gender == "F" else "test")
                wav = root / f"Session{session}" / "sentences" / "wav" / evaluation.stem / f"{turn}.wav"
                utts.append(Utterance(utt_id=turn, path=wav, speaker=f"Ses{session:02d}{gender}",
                                      labels={"emotion": label, "split": split}))
    return utts
