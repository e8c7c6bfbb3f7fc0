"""SenseVoice-Small's encoder (FunAudioLLM/SenseVoiceSmall, funasr's ``SenseVoiceEncoderSmall``), key-compatible
with its checkpoint: SAN-M layers (self-attention plus a depthwise "FSMN" memory convolution over the values),
pre-norm, one input layer (560 -> 512), ``num_blocks - 1`` more, then ``tp_blocks`` more after a norm. FlexiCodec
reads the hidden states before the ``tp`` blocks (its semantic features), after four prompt embeddings (language,
event, emotion, text normalisation) put in front of the features."""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import nn

PROMPT = (0, 1, 2, 15)  # embed ids in front of the features: language "auto", event, emotion, text norm "woitn"


class LayerNorm32(nn.LayerNorm):
    """A LayerNorm computed in float32 whatever the input's dtype (SenseVoice's)."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return F.layer_norm(x.float(), self.normalized_shape, self.weight.float(), self.bias.float(),
                            self.eps).type_as(x)


class FeedForward(nn.Module):
    def __init__(self, dim: int, hidden: int) -> None:
        super().__init__()
        self.w_1, self.w_2 = nn.Linear(dim, hidden), nn.Linear(hidden, dim)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.w_2(torch.relu(self.w_1(x)))


class SANMAttention(nn.Module):
    """Multi-head self-attention plus the values' depthwise convolution (kernel ``kernel_size``, centred)."""

    def __init__(self, heads: int, in_dim: int, dim: int, kernel_size: int) -> None:
        super().__init__()
        self.heads, self.head_dim = heads, dim // heads
        self.linear_q_k_v = nn.Linear(in_dim, 3 * dim)
        self.linear_out = nn.Linear(dim, dim)
        self.fsmn_block = nn.Conv1d(dim, dim, kernel_size, groups=dim, bias=False)
        left = (kernel_size - 1) // 2
        self.pad = (left, kernel_size - 1 - left)

    def forward(self, x: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:  # x [B, T, in], mask [B, T] float
        b, t, _ = x.shape
        q, k, v = torch.split(self.linear_q_k_v(x), self.heads * self.head_dim, dim=-1)
        weights = mask.reshape(b, -1, 1)
        masked = v * weights
        memory = self.fsmn_block(F.pad(masked.transpose(1, 2), self.pad)).transpose(1, 2)
        memory = (memory + masked) * weights
        q_h, k_h, v_h = (z.reshape(b, t, self.heads, self.head_dim).transpose(1, 2) for z in (q, k, v))
        scores = torch.matmul(q_h * self.head_dim ** (-0.5), k_h.transpose(-2, -1))
        blocked = mask.unsqueeze(1).unsqueeze(1).eq(0)  # [B, 1, 1, T]
        attn = torch.softmax(scores.masked_fill(blocked, -math.inf), dim=-1).masked_fill(blocked, 0.0)
        out = torch.matmul(attn, v_h).transpose(1, 2).reshape(b, t, self.heads * self.head_dim)
        return self.linear_out(out) + memory


class SANMLayer(nn.Module):
    def __init__(self, in_dim: int, dim: int, heads: int, hidden: int, kernel_size: int) -> None:
        super().__init__()
        self.self_attn = SANMAttention(heads, in_dim, dim, kernel_size)
        self.feed_forward = FeedForward(dim, hidden)
        self.norm1, self.norm2 = LayerNorm32(in_dim), LayerNorm32(dim)
        self.residual = in_dim == dim

    def forward(self, x: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
        update = self.self_attn(self.norm1(x), mask)
        x = x + update if self.residual else update
        return x + self.feed_forward(self.norm2(x))


def sinusoids(length: int, dim: int) -> torch.Tensor:
    """``[1, length, dim]``: positions 1..length, ``dim / 2`` sines then cosines, periods up to 10000."""
    increment = torch.log(torch.tensor([10000.0])) / (dim / 2 - 1)
    inv = torch.exp(torch.arange(dim / 2).float() * -increment)
    scaled = torch.arange(1, length + 1).float().reshape(1, -1, 1) * inv.reshape(1, 1, -1)
    return torch.cat([torch.sin(scaled), torch.cos(scaled)], dim=2)


class SenseVoiceEncoder(nn.Module):
    def __init__(self, input_size: int = 560, output_size: int = 512, attention_heads: int = 4,
                 linear_units: int = 2048, num_blocks: int = 50, tp_blocks: int = 20, kernel_size: int = 11) -> None:
        super().__init__()
        self.output_size = output_size
        self.encoders0 = nn.ModuleList([SANMLayer(input_size, output_size, attention_heads, linear_units, kernel_size)])
        self.encoders = nn.ModuleList(SANMLayer(output_size, output_size, attention_heads, linear_units, kernel_size)
                                      for _ in range(num_blocks - 1))
        self.tp_encoders = nn.ModuleList(SANMLayer(output_size, output_size, attention_heads, linear_units,
                                                   kernel_size) for _ in range(tp_blocks))
        self.after_norm, self.tp_norm = LayerNorm32(output_size), LayerNorm32(output_size)

    def hidden(self, x: torch.Tensor, lengths: torch.Tensor) -> torch.Tensor:
        """The states before the ``tp`` blocks (normed), ``[B, T, 512]``."""
        mask = (torch.arange(x.shape[1], device=x.device)[None, :] < lengths[:, None]).float()
        x = x * self.output_size ** 0.5
        x = x + sinusoids(x.shape[1], x.shape[2]).to(x)
        for layer in [*self.encoders0, *self.encoders]:
            x = layer(x, mask)
        return self.after_norm(x)


class CTCHead(nn.Module):
    """SenseVoice's CTC projection (kept for the checkpoint's keys; FlexiCodec does not use it)."""

    def __init__(self, dim: int, vocab_size: int) -> None:
        super().__init__()
        self.ctc_lo = nn.Linear(dim, vocab_size)


class SenseVoiceSmall(nn.Module):
    """The parts of SenseVoiceSmall FlexiCodec uses, under its checkpoint's key names (``embed``, ``encoder``,
    ``ctc``)."""

    def __init__(self, input_size: int = 560, vocab_size: int = 25055, encoder_conf: dict | None = None) -> None:
        super().__init__()
        self.embed = nn.Embedding(16, input_size)  # 7 + languages (7) + text norms (2)
        self.encoder = SenseVoiceEncoder(input_size, **(encoder_conf or {}))
        self.ctc = CTCHead(self.encoder.output_size, vocab_size)

    def semantic_features(self, feats: torch.Tensor) -> torch.Tensor:
        """``[B, T, 512]``: the hidden states of the features (the prompt positions dropped)."""
        prompt = self.embed(torch.tensor([PROMPT], device=feats.device)).repeat(feats.shape[0], 1, 1)
        x = torch.cat([prompt, feats], dim=1)
        lengths = torch.full((feats.shape[0],), x.shape[1], device=feats.device, dtype=torch.long)
        return self.encoder.hidden(x, lengths)[:, len(PROMPT):]
