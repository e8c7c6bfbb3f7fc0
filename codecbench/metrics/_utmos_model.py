"""UTMOS22 strong learner (SpeechMOS v1.2.0's ``utmos22_strong``), in-tree and key-compatible with
``utmos22_strong_step7459_v1.pt`` (a plain state dict that loads strictly).

wav2vec 2.0 base encoder (conv feature extractor -> LayerNorm -> projection -> weight-normed
positional conv -> LayerNorm -> post-LN transformer layers, odd frame counts padded by one masked
frame) -> fixed domain and judge embeddings concatenated per frame -> BLSTM -> per-frame MLP score;
utterance score = mean frame score * 2 + 3. Widths are constructor arguments with the official
values as defaults; ``codecbench parity utmos DIR`` replays fixtures made by the official code.
"""

from __future__ import annotations

import math
from pathlib import Path

import torch
import torch.nn.functional as F
from torch import nn

from codecbench.api import Check, compare_tensors, register_parity

CONV_LAYERS = ((10, 5), (3, 2), (3, 2), (3, 2), (3, 2), (2, 2), (2, 2))  # (kernel, stride)


class FeatureExtractor(nn.Module):
    """Seven bias-free convolutions; GroupNorm (one group per channel) after the first only; GELU."""

    def __init__(self, channels: int = 512) -> None:
        super().__init__()
        layers = []
        for i, (kernel, stride) in enumerate(CONV_LAYERS):
            conv = nn.Conv1d(1 if i == 0 else channels, channels, kernel, stride, bias=False)
            norm = [nn.GroupNorm(channels, channels, affine=True)] if i == 0 else []
            layers.append(nn.Sequential(conv, nn.Dropout(0.0), *norm, nn.GELU()))
        self.conv_layers = nn.ModuleList(layers)

    def forward(self, wave: torch.Tensor) -> torch.Tensor:
        """``[B, T]`` -> ``[B, C, frames]``."""
        x = wave[:, None]
        for layer in self.conv_layers:
            x = layer(x)
        return x


class PositionalConv(nn.Module):
    """Conv1d(k=128, padding 64, groups) with ``weight_norm(dim=2)`` keys (``weight_g`` [1, 1, k]),
    then "SamePad" (the last step dropped: the kernel is even) and GELU."""

    def __init__(self, dim: int = 768, kernel: int = 128, groups: int = 16) -> None:
        super().__init__()
        self.padding, self.groups = kernel // 2, groups
        self.weight_v = nn.Parameter(torch.empty(dim, dim // groups, kernel))
        self.weight_g = nn.Parameter(torch.ones(1, 1, kernel))
        self.bias = nn.Parameter(torch.zeros(dim))
        nn.init.normal_(self.weight_v, std=math.sqrt(4.0 / (kernel * dim)))
        with torch.no_grad():
            self.weight_g.copy_(self._norm(self.weight_v))

    @staticmethod
    def _norm(v: torch.Tensor) -> torch.Tensor:
        """The norm over every dimension but the kernel axis (weight_norm with dim=2)."""
        return v.pow(2).sum(dim=(0, 1), keepdim=True).sqrt()

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """``[B, D, N]`` -> ``[B, D, N]``."""
        weight = self.weight_v * (self.weight_g / self._norm(self.weight_v))
        out = F.conv1d(x, weight, self.bias, padding=self.padding, groups=self.groups)
        return F.gelu(out[..., :-1])


class SelfAttention(nn.Module):
    """fairseq-style multi-head attention: separate q/k/v/out projections, query scaled, key padding mask."""

    def __init__(self, dim: int, heads: int) -> None:
        super().__init__()
        self.heads, self.scaling = heads, (dim // heads) ** -0.5
        self.q_proj, self.k_proj, self.v_proj, self.out_proj = (nn.Linear(dim, dim) for _ in range(4))

    def forward(self, x: torch.Tensor, pad_mask: torch.Tensor | None) -> torch.Tensor:
        batch, frames, dim = x.shape
        q, k, v = ((p(x) * s).view(batch, frames, self.heads, -1).transpose(1, 2)
                   for p, s in ((self.q_proj, self.scaling), (self.k_proj, 1.0), (self.v_proj, 1.0)))
        scores = q @ k.transpose(-1, -2)
        if pad_mask is not None:
            scores = scores.masked_fill(pad_mask[:, None, None, :], float("-inf"))
        out = scores.float().softmax(dim=-1).type_as(q) @ v
        return self.out_proj(out.transpose(1, 2).reshape(batch, frames, dim))


class EncoderLayer(nn.Module):
    """Post-LN transformer layer: attention -> residual -> LN; fc1 -> GELU -> fc2 -> residual -> LN."""

    def __init__(self, dim: int, ffn: int, heads: int) -> None:
        super().__init__()
        self.self_attn = SelfAttention(dim, heads)
        self.self_attn_layer_norm = nn.LayerNorm(dim)
        self.fc1, self.fc2 = nn.Linear(dim, ffn), nn.Linear(ffn, dim)
        self.final_layer_norm = nn.LayerNorm(dim)

    def forward(self, x: torch.Tensor, pad_mask: torch.Tensor | None) -> torch.Tensor:
        x = self.self_attn_layer_norm(x + self.self_attn(x, pad_mask))
        return self.final_layer_norm(x + self.fc2(F.gelu(self.fc1(x))))


class TransformerEncoder(nn.Module):
    def __init__(self, dim: int, ffn: int, heads: int, layers: int, groups: int) -> None:
        super().__init__()
        self.pos_conv = nn.Sequential(PositionalConv(dim, 128, groups))
        self.layer_norm = nn.LayerNorm(dim)
        self.layers = nn.ModuleList(EncoderLayer(dim, ffn, heads) for _ in range(layers))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """``[B, N, D]`` -> ``[B, N, D]``; odd N gets one zero frame, masked as a key, removed after."""
        x = self.layer_norm(x + self.pos_conv(x.transpose(1, 2)).transpose(1, 2))
        pad = x.shape[1] % 2
        mask = None
        if pad:
            x = F.pad(x, (0, 0, 0, pad))
            mask = torch.zeros(x.shape[:2], dtype=torch.bool, device=x.device)
            mask[:, -pad:] = True
        for layer in self.layers:
            x = layer(x, mask)
        return x[:, : x.shape[1] - pad]


class Wav2Vec2(nn.Module):
    """The wav2vec 2.0 base encoder of UTMOS22 (inference only; ``mask_emb`` kept for the keys)."""

    def __init__(self, conv: int = 512, dim: int = 768, ffn: int = 3072, heads: int = 12, layers: int = 12,
                 groups: int = 16) -> None:
        super().__init__()
        self.feature_extractor = FeatureExtractor(conv)
        self.layer_norm = nn.LayerNorm(conv)
        self.post_extract_proj = nn.Linear(conv, dim)
        self.mask_emb = nn.Parameter(torch.zeros(dim))
        self.encoder = TransformerEncoder(dim, ffn, heads, layers, groups)

    def forward(self, wave: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """``[B, T]`` -> (conv features ``[B, C, N]``, encoder output ``[B, N, D]``)."""
        features = self.feature_extractor(wave)
        x = self.post_extract_proj(self.layer_norm(features.transpose(1, 2)))
        return features, self.encoder(x)


class UTMOS22Strong(nn.Module):
    """The strong learner: SSL features + domain/judge embeddings -> BLSTM -> frame scores -> MOS."""

    def __init__(self, ssl: int = 768, ffn: int = 3072, heads: int = 12, layers: int = 12, conv: int = 512,
                 emb: int = 128, rnn: int = 512, proj: int = 2048, groups: int = 16) -> None:
        super().__init__()
        self.wav2vec2 = Wav2Vec2(conv, ssl, ffn, heads, layers, groups)
        self.domain_emb = nn.Parameter(torch.zeros(1, emb))
        self.judge_emb = nn.Parameter(torch.zeros(1, emb))
        self.blstm = nn.LSTM(ssl + 2 * emb, rnn, batch_first=True, bidirectional=True)
        self.projection = nn.Sequential(nn.Linear(2 * rnn, proj), nn.ReLU(), nn.Linear(proj, 1))

    def stages(self, wave: torch.Tensor) -> dict[str, torch.Tensor]:
        """Every stage of one forward pass (the parity fixture's outputs)."""
        features, encoded = self.wav2vec2(wave)
        batch, frames, _ = encoded.shape
        embs = [e[:, None].expand(batch, frames, -1) for e in (self.domain_emb, self.judge_emb)]
        blstm, _ = self.blstm(torch.cat([encoded, *embs], dim=-1))
        frame_scores = self.projection(blstm)
        score = frame_scores.mean(dim=(1, 2)) * 2 + 3
        return {"features": features, "encoder": encoded, "blstm": blstm, "frame_scores": frame_scores,
                "score": score}

    def forward(self, wave: torch.Tensor) -> torch.Tensor:
        """MOS ``[B]`` of 16 kHz waveforms ``[B, T]`` (score one utterance per call: there is no length mask)."""
        return self.stages(wave)["score"]


def widths(config: dict) -> dict[str, int]:
    """Constructor widths from a fixture's ``tiny`` block (the official names)."""
    keys = ("ssl", "ffn", "heads", "layers", "conv", "emb", "rnn", "proj", "groups")
    return {k: int(config[k]) for k in keys if k in config}


@register_parity("utmos")
def check_folder(folder: str | Path) -> list[Check]:
    """Replay a UTMOS fixture folder (``config.json`` widths, ``model.safetensors``, ``io.safetensors``):
    every stage of every clip against the official outputs, within 1e-5."""
    import json

    from safetensors.torch import load_file

    folder = Path(folder)
    config = json.loads((folder / "config.json").read_text())
    model = UTMOS22Strong(**widths(config.get("tiny", {}))).eval()
    model.load_state_dict(load_file(folder / "model.safetensors"), strict=True)
    io = load_file(folder / "io.safetensors")
    checks = []
    clips = sorted({key.split(".")[0] for key in io}, key=int)
    with torch.inference_mode():
        for clip in clips:
            got = model.stages(io[f"{clip}.wave"])
            for stage, value in got.items():
                ref = io.get(f"{clip}.{stage}")
                if ref is not None:
                    checks.append(compare_tensors(f"clip {clip}", stage, value, ref, float_tol=1e-5, wave_tol=1e-5))
    return checks
