"""Load v0.0.1 FocalCodec checkpoints (separate q/k/v, ``layers.{i}.0/1``) into v0.0.2 names."""

from __future__ import annotations

import re

import torch

_QKV = re.compile(r"\.(q|k|v)_proj\.")
_RENAMES = (
    (re.compile(r"^compressor\.layers\.(\d+)\.0\."), r"compressor.layers.\1.downscale."),
    (re.compile(r"^compressor\.layers\.(\d+)\.1\."), r"compressor.layers.\1.focal_block."),
    (re.compile(r"^decompressor\.layers\.(\d+)\.0\."), r"decompressor.layers.\1.focal_block."),
    (re.compile(r"^decompressor\.layers\.(\d+)\.1\."), r"decompressor.layers.\1.upscale."),
)
DROPPED = ("quantizer.mask", "encoder.encoder.norm.weight", "encoder.encoder.norm.bias")


def is_legacy(state: dict[str, torch.Tensor]) -> bool:
    return any(_QKV.search(k) for k in state)


def remap_state_dict(state: dict[str, torch.Tensor], target_keys: list[str]) -> dict[str, torch.Tensor]:
    """v0.0.1 -> v0.0.2: fuse q/k/v into ``qkv_proj`` (rows q, k, v), rename the focal layers,
    drop ``quantizer.mask`` and the unused final encoder norm. Other states pass unchanged."""
    if not is_legacy(state):
        return state
    out: dict[str, torch.Tensor] = {}
    for key, value in state.items():
        if key in DROPPED or _QKV.search(key):
            continue
        for pattern, repl in _RENAMES:
            key = pattern.sub(repl, key)
        out[key] = value
    for key in target_keys:
        if ".qkv_proj." in key:
            parts = [state[key.replace(".qkv_proj.", f".{p}_proj.")] for p in "qkv"]
            out[key] = torch.cat(parts, dim=0)
    missing = [k for k in target_keys if k not in out]
    if missing:
        raise KeyError(f"legacy checkpoint lacks {len(missing)} keys after remapping, e.g. {missing[:5]}")
    return {k: out[k] for k in target_keys} | {k: v for k, v in out.items() if k not in set(target_keys)}
