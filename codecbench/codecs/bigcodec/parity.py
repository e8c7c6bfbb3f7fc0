"""Replay a BigCodec parity folder (``scripts/baseline_record_fixtures.py bigcodec``: the authors' fork
lucadellalib/BigCodec run as their ``audiocodecs/bigcodec.py``, seeded weights) through this harness's codec: the
official module's parameter names and shapes against ours, then per clip the tokens of the unpadded signal (exact)
and the decoded audio."""

from __future__ import annotations

import json
from pathlib import Path

from safetensors.torch import load_file

from codecbench.api import Check, register_parity

from .._blocks.replay import replay_cases
from .._blocks.seeded import seeded_state
from .model import BigCodec
from .plugin import BigCodecCodec


def build(folder: str | Path) -> BigCodecCodec:
    """The codec with the folder's weights: every official parameter seeded from its name, its buffers recorded."""
    folder = Path(folder)
    manifest = json.loads((folder / "manifest.json").read_text())
    buffers = {k: v for k, v in load_file(folder / "cases.safetensors").items() if k.startswith("buffer.")}
    state = {}
    for part, shapes in manifest["parameters"].items():
        state[part] = seeded_state(shapes, int(manifest["seed"]))
        state[part].update({k.split(".", 2)[2]: v for k, v in buffers.items() if k.split(".")[1] == part})
    model = BigCodec()
    model.load_official(state)  # strict: names and shapes of the fork's modules
    return BigCodecCodec(model=model).eval()


@register_parity("bigcodec")
def check_folder(folder: str | Path) -> list[Check]:
    """Latents, tokens and audio of every recorded clip and the decoding of random tokens (:func:`replay_cases`)."""
    codec = build(folder)
    return replay_cases(codec, load_file(Path(folder) / "cases.safetensors"), codec.hop)
