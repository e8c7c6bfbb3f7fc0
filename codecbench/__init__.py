"""codecbench: a benchmark harness for speech tokenizers.

Three functions are the front door (importing the package imports no torch; they load on first use)::

    import codecbench

    results = codecbench.evaluate(["opus-6kbps", MyCodec()], "clips/", tasks=["resynthesis"], profile="offline")
    results.table()                        # a row per codec: Frame Rate, Bitrate, DNSMOS, dWER, Sim
    codecbench.run("configs/ci.yaml")      # a run config, as `codecbench run` runs it
    codecbench.load_results("runs/ci")     # run folders already made
    codecbench.score("outputs/", "clips/", label="my-tts")   # audio made elsewhere, same protocol

Plugins (codecs, tasks, metrics, datasets) import what they need from :mod:`codecbench.api`.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

__all__ = ["Results", "evaluate", "load_results", "run", "score"]
_SOURCES = {"evaluate": "codecbench.evaluation", "run": "codecbench.evaluation", "score": "codecbench.evaluation",
            "load_results": "codecbench.evaluation", "Results": "codecbench.results.handle"}


def __getattr__(name: str) -> Any:
    if name in _SOURCES:
        value = getattr(importlib.import_module(_SOURCES[name]), name)
        globals()[name] = value
        return value
    raise AttributeError(f"module 'codecbench' has no attribute {name!r}")


def __dir__() -> list[str]:
    return sorted([*globals(), *__all__])


if TYPE_CHECKING:
    from codecbench.evaluation import evaluate, load_results, run, score
    from codecbench.results.handle import Results
