"""Replay a FlexiCodec parity folder (``scripts/flexicodec_record_fixtures.py``: the official code, seeded
weights) with the in-tree model and compare every recorded tensor: the state dict's keys and shapes, SenseVoice's
input features from the audio, its hidden states, the DAC latent, the frame similarities, and per merging
threshold the groups, token lengths, both code streams, the decoder latent and the decoded audio."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import torch
from safetensors.torch import load_file

from codecbench.api import Check, compare_tensors, register_parity

from .._blocks.seeded import seed_parameters
from . import frontend
from .model import FlexiCodec


def build(folder: str | Path) -> FlexiCodec:
    """The folder's model (``config.json``) with the folder's seeded weights."""
    folder = Path(folder)
    config = json.loads((folder / "config.json").read_text())
    sensevoice: dict[str, Any] = {k: v for k, v in config["sensevoice"].items() if k != "encoder"}
    sensevoice["encoder_conf"] = {k: v for k, v in sensevoice.get("encoder_conf", {}).items() if k != "sanm_shfit"}
    model = FlexiCodec.from_config(config["flexicodec"], sensevoice).eval()
    seed_parameters(model, int(json.loads((folder / "manifest.json").read_text())["seed"]))
    return model


def replay(folder: str | Path, model: FlexiCodec) -> list[Check]:
    folder = Path(folder)
    manifest = json.loads((folder / "manifest.json").read_text())
    ref = load_file(folder / "cases.safetensors")
    ours = {k: list(v.shape) for k, v in model.state_dict().items()}
    keys = set(ours) ^ set(manifest["state_dict"])
    shapes = [k for k in set(ours) & set(manifest["state_dict"]) if ours[k] != manifest["state_dict"][k]]
    checks = [Check("manifest.json", "state_dict", "int", float(len(keys) + len(shapes)), 0.0,
                    f"keys only one side has: {sorted(keys)[:5]}; shapes differ: {sorted(shapes)[:5]}"
                    if keys or shapes else "")]
    cases = sorted({k.split(".")[0] for k in ref if k.startswith("case")})
    for case in cases:
        audio = ref[f"{case}.audio"]
        feats = ref[f"{case}.fbank"]
        checks.append(compare_tensors("cases", f"{case}.fbank", frontend.features(audio, ref.get("cmvn")), feats))
        with torch.no_grad():
            hidden = model.semantic_model.semantic_features(feats[None])[0].T  # before the resampling to 12.5 Hz
            checks.append(compare_tensors("cases", f"{case}.semantic_repr", hidden, ref[f"{case}.semantic_repr"]))
            latent = model.dac.encoder(model.dac.preprocess(audio[None, None]))[0]
            checks.append(compare_tensors("cases", f"{case}.dac_latent", latent, ref[f"{case}.dac_latent"]))
        for threshold in manifest["thresholds"]:
            key = f"{case}.t{threshold}"
            encoded = model.encode(audio[None], feats[None], float(threshold), int(manifest["num_quantizers"]))
            if threshold == 1.0:
                checks.append(compare_tensors("cases", f"{case}.similarity", encoded.similarity[0],
                                              ref[f"{case}.similarity"]))
            got = {"alignment": encoded.alignment[0], "token_lengths": encoded.lengths[0],
                   "semantic_codes": encoded.semantic[0], "acoustic_codes": encoded.acoustic[0],
                   "decoder_latent": encoded.decoder_latent[0]}
            for name, value in got.items():
                checks.append(compare_tensors("cases", f"{key}.{name}", value, ref[f"{key}.{name}"]))
            decoded = model.decode(ref[f"{key}.semantic_codes"][None].long(), ref[f"{key}.acoustic_codes"][None].long(),
                                   ref[f"{key}.token_lengths"][None].long())
            checks.append(compare_tensors("cases", f"{key}.decoded", decoded[0, 0], ref[f"{key}.decoded"]))
    return checks


@register_parity("flexicodec")
def check_folder(folder: str | Path) -> list[Check]:
    """Every recorded tensor of a FlexiCodec fixture folder, replayed by the in-tree model."""
    return replay(folder, build(folder))
