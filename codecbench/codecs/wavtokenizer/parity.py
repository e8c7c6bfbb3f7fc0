"""Replay a WavTokenizer parity folder (``scripts/baseline_record_fixtures.py wavtokenizer``: the authors' fork
lucadellalib/WavTokenizer run as their ``audiocodecs/wavtokenizer.py``, seeded weights and codebook) through this
harness's codec: the official module's names and shapes against ours (its unused SEANet decoder left out, as the
checkpoint loader does), then per clip the tokens (exact) and the decoded audio."""

from __future__ import annotations

import json
from pathlib import Path

from safetensors.torch import load_file

from codecbench.api import Check, register_parity

from .._blocks.replay import replay_cases
from .._blocks.seeded import seeded_state
from .model import LARGE_40HZ, WavTokenizer
from .plugin import WavTokenizerCodec


def build(folder: str | Path) -> WavTokenizerCodec:
    """The codec with the folder's weights: every seeded official tensor from its name, the other buffers recorded."""
    folder = Path(folder)
    manifest = json.loads((folder / "manifest.json").read_text())
    state = seeded_state(manifest["parameters"]["model"], int(manifest["seed"]))
    state.update({k.removeprefix("buffer.model."): v for k, v in load_file(folder / "cases.safetensors").items()
                  if k.startswith("buffer.model.")})
    model = WavTokenizer(**{**LARGE_40HZ, "bandwidth_id": 0})
    model.load_official(state)  # strict: every tensor of this module, by the fork's names
    return WavTokenizerCodec(model=model).eval()


@register_parity("wavtokenizer")
def check_folder(folder: str | Path) -> list[Check]:
    """Latents, tokens and audio of every recorded clip and the decoding of random tokens (:func:`replay_cases`)."""
    codec = build(folder)
    return replay_cases(codec, load_file(Path(folder) / "cases.safetensors"), codec.hop)
