"""DNSMOS (Microsoft DNS Challenge ONNX models shipped in ``speechmos``): P.808 and P.835.

The DyCAST / FocalCodec tables' "DNSMOS" is the P.808 MOS (``dnsmos_p808``); the P.835
OVRL/SIG/BAK scores are kept beside it. Clips shorter than 9.01 s are tiled, longer
clips scored in 9.01 s windows with a 1 s hop and averaged, as in the reference script.
No peak normalisation (the paper's harness does none).
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import numpy as np

from bench.datasets import Utterance
from bench.metric import Backend, Metric, MetricOutput, Score
from bench.registry import register_metric


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
    dependencies = ("speechmos", "onnxruntime", "librosa")
    extra = "offline"

    def __init__(self) -> None:
        try:
            import speechmos
            from speechmos.dnsmos import DNSMOS as _Model
        except ModuleNotFoundError as err:
            raise ModuleNotFoundError(
                f"DNSMOS needs speechmos and onnxruntime (missing {err.name}): pip install "
                "'speech-tokenizer-bench[offline]'"
            ) from err
        models = Path(speechmos.__file__).parent / "dnsmos_models"
        self._model = _Model(str(models / "sig_bak_ovr.onnx"), str(models / "model_v8.onnx"))

    @property
    def backend(self) -> str:
        return "dnsmos:speechmos(sig_bak_ovr.onnx,model_v8.onnx)"

    def compute(
        self, hyp: Sequence[np.ndarray], ref: Sequence[np.ndarray], meta: Sequence[Utterance]
    ) -> list[dict[str, Score]]:
        scores = []
        for audio in hyp:
            if len(audio) == 0:
                raise ValueError("DNSMOS got empty audio")
            out = self._model(np.clip(np.asarray(audio, np.float32), -1.0, 1.0), 16000, False)
            scores.append({
                "dnsmos_p808": Score(float(out["p808_mos"])),
                "dnsmos_ovrl": Score(float(out["ovrl_mos"])),
                "dnsmos_sig": Score(float(out["sig_mos"])),
                "dnsmos_bak": Score(float(out["bak_mos"])),
            })
        return scores
