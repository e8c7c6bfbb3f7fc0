"""DNSMOS as the authors compute it, clip by clip on real speech.

The reference below is written from the steps of lucadellalib/audiocodecs ``downstream/metrics/dnsmos.py`` (read,
not copied): the P.808 model ``model_v8.onnx`` alone; a clip shorter than 9.01 s is doubled until it is not;
9.01 s windows every second; each window's last 160 samples dropped; a 120-band mel power spectrogram (n_fft 321,
hop 160) in dB relative to its maximum, ``(dB + 40) / 40``; the windows' MOS averaged. No clipping, no
normalisation. Our metric must give the same number for every clip.
"""

from __future__ import annotations

import csv
import hashlib
from pathlib import Path

import numpy as np
import pytest

from codecbench.util.audio import load_audio, resample

# sha256 of downstream/metrics/model_v8.onnx in lucadellalib/audiocodecs (fe350cc), 224,860 bytes
AUTHORS_MODEL_SHA256 = "9246480c58567bc6affd4200938e77eef49468c8bc7ed3776d109c07456f6e91"
RATE, SECONDS = 16000, 9.01


def _authors_p808(session, audio: np.ndarray) -> float:
    import librosa

    length = int(SECONDS * RATE)
    while len(audio) < length:
        audio = np.concatenate([audio, audio])
    hops = int(np.floor(len(audio) / RATE) - SECONDS) + 1
    scores = []
    for k in range(hops):
        window = audio[k * RATE: int((k + SECONDS) * RATE)]
        if len(window) < length:
            continue
        mel = librosa.feature.melspectrogram(y=window[:-160], sr=RATE, n_fft=321, hop_length=160, n_mels=120)
        features = ((librosa.power_to_db(mel, ref=np.max) + 40) / 40).T.astype(np.float32)[None]
        scores.append(session.run(None, {"input_1": features})[0][0][0])
    return float(np.mean(scores))


def test_dnsmos_equals_the_authors_computation_on_the_shared_clips(shared_data: Path) -> None:
    pytest.importorskip("speechmos", reason="DNSMOS needs speechmos (extra: offline)")
    import onnxruntime as ort
    import speechmos

    from codecbench.metrics.dnsmos import DNSMOS

    model = Path(speechmos.__file__).parent / "dnsmos_models" / "model_v8.onnx"
    assert hashlib.sha256(model.read_bytes()).hexdigest() == AUTHORS_MODEL_SHA256  # the authors' model file
    with open(shared_data / "manifest.csv", encoding="utf-8") as handle:
        rows = list(csv.DictReader(handle))
    picked = [min(rows, key=lambda r: float(r["duration_s"])), max(rows, key=lambda r: float(r["duration_s"])),
              *rows[5::12]]  # tiled, several windows, and a spread of corpora
    audios = []
    for row in picked:
        clip = load_audio(shared_data / "clips" / row["file"])
        audios.append(resample(clip.samples, clip.sample_rate, RATE).astype(np.float32))
    audios.append(audios[2] * np.float32(1.5 / np.abs(audios[2]).max()))  # a decoder overshooting full scale
    assert float(np.abs(audios[-1]).max()) > 1.0
    durations = [len(a) / RATE for a in audios]
    assert min(durations) < SECONDS < max(durations)
    ours = DNSMOS(outputs=["dnsmos_p808"]).compute(audios, audios, [None] * len(audios))  # type: ignore[list-item]
    session = ort.InferenceSession(str(model), providers=["CPUExecutionProvider"])
    for audio, score in zip(audios, ours, strict=True):
        assert score["dnsmos_p808"].value == pytest.approx(_authors_p808(session, audio), abs=1e-5)
