"""DNSMOS (Microsoft DNS Challenge ONNX models shipped in ``speechmos``): P.808 and P.835.

The DyCAST / FocalCodec tables' "DNSMOS" is the P.808 MOS (``dnsmos_p808``), all the authors' DNSMOS
computes; the P.835 OVRL/SIG/BAK scores (a second, 3x costlier model) are computed only when a run names
one of them (``metrics: [dnsmos, dnsmos_ovrl]``). Clips shorter than 9.01 s are tiled, longer
clips scored in 9.01 s windows with a 1 s hop and averaged, as in the reference script.
No peak normalisation and no clipping (the paper's harness does neither: lucadellalib/audiocodecs
``downstream/metrics/dnsmos.py`` scores the decoded samples as they are; speechmos's own call refuses samples
outside [-1, 1], so its sessions and mel are used directly). A clip's windows go through the two ONNX
models ``batch_size`` at a time; windows of different clips never share a call, so a clip's scores
do not depend on the clips scored beside it (a resumed or sharded run gives the same rows).
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from pathlib import Path

import numpy as np

from codecbench.api import (
    Backend,
    BatchSize,
    Metric,
    MetricOutput,
    Score,
    Utterance,
    configured_threads,
    library_versions,
    register_metric,
)

INPUT_SECONDS = 9.01  # the models' window
P835 = ("dnsmos_ovrl", "dnsmos_sig", "dnsmos_bak")
log = logging.getLogger(__name__)


@register_metric("dnsmos")
class DNSMOS(Metric):
    """Reference-free DNSMOS P.808 (paper column) and P.835 SIG/BAK/OVRL."""

    name = "dnsmos"
    outputs = (
        MetricOutput("dnsmos_p808", "DNSMOS", True, order=20),
        MetricOutput("dnsmos_ovrl", "DNSMOS OVRL", True, in_table=False),
        MetricOutput("dnsmos_sig", "DNSMOS SIG", True, in_table=False),
        MetricOutput("dnsmos_bak", "DNSMOS BAK", True, in_table=False),
    )
    profiles = {"paper": Backend(), "offline": Backend()}
    tunable = ("batch_size",)  # leaves the numbers alone (metric_options)
    dependencies = ("speechmos", "onnxruntime", "librosa")
    extra = "offline"

    def __init__(self, batch_size: BatchSize | None = None, device: str = "cpu", outputs: Sequence[str] | None = None
                 ) -> None:
        """``outputs``: the scores to compute (all by default); without any P.835 output the P.835 model is
        not run (the tables show P.808 only, as the authors' DNSMOS computes)."""
        try:
            import speechmos
            from speechmos.dnsmos import DNSMOS as _Model
        except ModuleNotFoundError as err:
            raise ModuleNotFoundError(
                f"DNSMOS needs speechmos and onnxruntime (missing {err.name}): pip install "
                "'codecbench[offline]'"
            ) from err
        import onnxruntime as ort

        models = Path(speechmos.__file__).parent / "dnsmos_models"
        providers = onnx_providers(device, ort.get_available_providers())
        options = ort.SessionOptions()
        threads = configured_threads()
        if threads is not None:  # CODECBENCH_THREADS (codecbench.util.threads): else ONNX Runtime's default
            options.intra_op_num_threads, options.inter_op_num_threads = threads, 1
        # speechmos's own constructor names no providers, which onnxruntime-gpu refuses: same model, own sessions
        self._model = _Model.__new__(_Model)
        self.outputs_computed = tuple(o.name for o in self.outputs if outputs is None or o.name in outputs)
        self.p835 = any(name in P835 for name in self.outputs_computed)
        self._model.primary_model_path = str(models / "sig_bak_ovr.onnx")
        self._model.onnx_sess = (ort.InferenceSession(self._model.primary_model_path, options, providers=providers)
                                 if self.p835 else None)
        self._model.p808_onnx_sess = ort.InferenceSession(str(models / "model_v8.onnx"), options, providers=providers)
        on_cpu = providers == ["CPUExecutionProvider"]
        self.batch_size = batch_size or (1 if on_cpu else 16)  # windows per call (no gain on CPU)

    @property
    def backend(self) -> str:
        models = "sig_bak_ovr.onnx,model_v8.onnx" if self.p835 else "model_v8.onnx"
        return f"dnsmos:speechmos({models}){library_versions('speechmos', 'onnxruntime')}"

    def compute(
        self, hyp: Sequence[np.ndarray], ref: Sequence[np.ndarray], meta: Sequence[Utterance]
    ) -> list[dict[str, Score]]:
        per_clip: list[list[tuple[float, float, float, float]]] = []
        for audio in hyp:
            if len(audio) == 0:
                raise ValueError("DNSMOS got empty audio")
            windows = _windows(np.asarray(audio, np.float32))  # not clipped: the authors score samples as decoded
            values = []
            for start in range(0, len(windows), self.batch_size):
                group = windows[start:start + self.batch_size]
                raw = np.stack([w.astype("float32") for w in group])
                mels = np.stack([np.asarray(self._model.audio_melspec(audio=w[:-160])).astype("float32")
                                 for w in group])
                p808 = self._model.p808_onnx_sess.run(None, {"input_1": mels})[0]
                if not self.p835:
                    values += [(mos[0], np.nan, np.nan, np.nan) for mos in p808]
                    continue
                sig_bak_ovr = self._model.onnx_sess.run(None, {"input_1": raw})[0]
                for mos, (sig, bak, ovr) in zip(p808, sig_bak_ovr, strict=True):
                    sig_poly, bak_poly, ovr_poly = self._model.get_polyfit_val(sig, bak, ovr, False)
                    values.append((mos[0], sig_poly, bak_poly, ovr_poly))
            per_clip.append(values)
        scores = []
        for values in per_clip:
            p808_mos, sig_mos, bak_mos, ovr_mos = (np.mean([v[k] for v in values]) for k in range(4))
            every = {"dnsmos_p808": p808_mos, "dnsmos_ovrl": ovr_mos, "dnsmos_sig": sig_mos, "dnsmos_bak": bak_mos}
            scores.append({name: Score(float(every[name])) for name in self.outputs_computed})
        return scores


def onnx_providers(device: str, available: Sequence[str]) -> list:
    """onnxruntime execution providers for ``device``: CUDA (that GPU) when this onnxruntime has it,
    else the CPU, with a warning for a CUDA device."""
    if not device.startswith("cuda"):
        return ["CPUExecutionProvider"]
    if "CUDAExecutionProvider" not in available:
        log.warning("DNSMOS runs on the CPU: this onnxruntime has no CUDA provider (pip install onnxruntime-gpu)")
        return ["CPUExecutionProvider"]
    index = int(device.split(":", 1)[1]) if ":" in device else 0
    return [("CUDAExecutionProvider", {"device_id": index}), "CPUExecutionProvider"]


def _windows(audio: np.ndarray, fs: int = 16000) -> list[np.ndarray]:
    """The reference script's windows: the clip tiled to >= 9.01 s, then 9.01 s windows every second."""
    len_samples = int(INPUT_SECONDS * fs)
    while len(audio) < len_samples:
        audio = np.append(audio, audio)
    num_hops = int(np.floor(len(audio) / fs) - INPUT_SECONDS) + 1
    segments = [audio[int(idx * fs): int((idx + INPUT_SECONDS) * fs)] for idx in range(num_hops)]
    return [segment for segment in segments if len(segment) >= len_samples]
