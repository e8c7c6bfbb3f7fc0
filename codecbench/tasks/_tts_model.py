"""TTS models on codec tokens (DyCAST paper, appendix D.6), built with transformers' Llama classes.

The AR model follows the authors' ``downstream/models/llama3.py`` / ``train_tts.py``
(lucadellalib/audiocodecs): the prompt is ``[speaker x-vector as is, characters, zero vectors up to a
multiple of K]`` then ``begin``; every stream has its own embedding table and head over its ids plus
``begin`` (id V) and ``end`` (id V + 1); dropout 0.1 on attention and feed-forward outputs; no biases.

Speech tokens: a codec frame has K streams, laid out by :class:`StreamLayout`:

- ``flatten`` (the authors', every codec with K > 1): one stream per step, K steps per frame (DyCAST's 32
  axes: 32 steps per token), the step's stream picking its table and head;
- ``parallel``: one step per frame, the K streams' embeddings summed at the input and one head per stream.

Stream embeddings are initialised from the codec's codebook tables.

- :class:`ARTTS`: next-step cross-entropy over the speech steps and the end mark; :meth:`ARTTS.generate`
  samples top-p with one ``torch.Generator`` per sample (seeded per utterance and sample) and a KV cache,
  either exactly ``frames`` frames with the end mark off and special ids clamped to the stream's last id
  (the authors' ``length: reference``) or until a sampled end mark (``length: predicted``).
- :class:`NARTTS`: the same layers with bidirectional attention, one frame per character; the speaker
  embedding is added to the hidden states before every layer; argmax decoding (the paper's description;
  the authors released no NAR code).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import asdict, dataclass
from typing import Any, Literal, get_args

import torch
from torch import nn
from torch.nn import functional as F

from codecbench.api import PositiveFloat, PositiveInt, validate_options

PAD, UNK = "<pad>", "<unk>"


@dataclass(frozen=True)
class LlamaSize:
    """The decoder's size; the default is the paper's (12 layers, 4 heads, 1 KV head, 512 / 2048, RoPE 1e4)."""

    layers: PositiveInt = 12
    heads: PositiveInt = 4
    kv_heads: PositiveInt = 1
    dim: PositiveInt = 512
    ffn: PositiveInt = 2048
    rope_theta: PositiveFloat = 10000.0
    max_positions: PositiveInt = 8192

    def __post_init__(self) -> None:
        validate_options(self, "size")
        if self.dim % self.heads or self.heads % self.kv_heads or (self.dim // self.heads) % 2:
            raise ValueError(f"dim ({self.dim}) must split into heads ({self.heads}) of an even width, and "
                             f"heads into kv_heads ({self.kv_heads})")


def normalise_text(text: str) -> str:
    """Lower case, whitespace collapsed (the character vocabulary is built on this form)."""
    return " ".join(text.lower().split())


class CharVocab:
    """Characters of the training transcripts (id 0 padding, 1 unknown), saved with the model."""

    def __init__(self, chars: Sequence[str]) -> None:
        self.symbols = [PAD, UNK] + [c for c in chars if c not in (PAD, UNK)]
        self._ids = {c: i for i, c in enumerate(self.symbols)}

    @classmethod
    def build(cls, transcripts: Sequence[str]) -> CharVocab:
        return cls(sorted({c for t in transcripts for c in normalise_text(t)}))

    def __len__(self) -> int:
        return len(self.symbols)

    def encode(self, text: str, normalise: bool = True) -> torch.Tensor:
        """Ids of ``text``'s characters (:func:`normalise_text` first unless ``normalise=False``)."""
        chars = normalise_text(text) if normalise else text
        return torch.tensor([self._ids.get(c, 1) for c in chars], dtype=torch.long)


Layout = Literal["flatten", "parallel", "auto"]
LAYOUTS: tuple[str, ...] = get_args(Layout)


class StreamLayout:
    """How a codec's frames ``[N, K]`` become model steps: ``flat`` (one stream per step, K steps per frame)
    or ``parallel`` (all K streams in one step)."""

    def __init__(self, codebook_sizes: Sequence[int], flat: bool) -> None:
        self.sizes = [int(v) for v in codebook_sizes]
        self.flat = flat and len(self.sizes) > 1

    @classmethod
    def named(cls, name: str, codebook_sizes: Sequence[int], multi_codebook: bool) -> StreamLayout:
        """``flatten`` (the authors': every K > 1 codec), ``parallel`` (one step per frame), or ``auto`` (flattened
        for residual codebooks, ``multi_codebook``, parallel otherwise: this harness's rule before #26)."""
        if name not in LAYOUTS:
            raise ValueError(f"layout must be one of {LAYOUTS}, got {name!r}")
        return cls(codebook_sizes, {"flatten": True, "parallel": False, "auto": multi_codebook}[name])

    @property
    def name(self) -> str:
        """``flatten``, ``parallel``, or ``single`` (one stream: both layouts are the same)."""
        return "single" if self.streams == 1 else "flatten" if self.flat else "parallel"

    @property
    def streams(self) -> int:
        return len(self.sizes)

    @property
    def per_step(self) -> int:
        """Streams predicted at each step."""
        return 1 if self.flat else self.streams

    @property
    def cycle(self) -> int:
        """Steps per frame (the authors' ``num_codebooks`` of the flattened pattern)."""
        return self.streams if self.flat else 1

    def steps(self, codes: torch.Tensor) -> torch.Tensor:
        """``[N, K]`` frames -> ``[S, per_step]`` step codes (flat: frame-major, stream-minor)."""
        return codes.reshape(-1, 1) if self.flat else codes

    def frames(self, steps: torch.Tensor) -> torch.Tensor:
        """``[S, per_step]`` -> ``[N, K]`` (a trailing incomplete frame is dropped)."""
        if not self.flat:
            return steps
        whole = steps.shape[0] // self.streams * self.streams
        return steps[:whole].reshape(-1, self.streams)

    def stream_of(self, step: int) -> list[int]:
        """The streams of step ``step`` (flat: one, cycling through 0..K-1)."""
        return [step % self.streams] if self.flat else list(range(self.streams))

    def stream_ids(self, start: int, count: int) -> torch.Tensor:
        """``[count, per_step]``: the streams of steps ``start .. start + count - 1``."""
        if self.flat:
            return ((torch.arange(count) + start) % self.streams)[:, None]
        return torch.arange(self.streams)[None].expand(count, -1)

    def flat_ids(self, codes: torch.Tensor) -> torch.Tensor:
        """``[N, K]`` -> one id per stream code, each stream in its own range (offset by earlier sizes)."""
        offsets = torch.tensor([0] + self.sizes[:-1]).cumsum(0).to(codes.device)
        return (codes.long() + offsets).reshape(-1)

    def from_flat_ids(self, ids: torch.Tensor) -> torch.Tensor:
        """Inverse of :meth:`flat_ids`."""
        offsets = torch.tensor([0] + self.sizes[:-1]).cumsum(0).to(ids.device)
        return ids.reshape(-1, self.streams) - offsets

    def clamp_special(self, frames: torch.Tensor) -> torch.Tensor:
        """``[N, K]`` with every special id (``begin`` / ``end``, >= the stream's size) replaced by the stream's
        last id, as the authors' ``hyp_toks[hyp_toks >= vocab_size] = vocab_size - 1``."""
        last = torch.tensor(self.sizes, device=frames.device) - 1
        return torch.minimum(frames, last)


class StreamEmbedding(nn.Module):
    """One table per stream (initialised from the codec's codebooks when given) with two more rows, ``begin``
    (id V) and ``end`` (id V + 1), stored as one matrix (stream k's rows from ``offsets[k]``, the authors'
    ``MultiHeadEmbedding``); summed over the streams of a step, projected to the model width (a bias-free
    linear map, the authors' ``input``, when the codec's tables set the width)."""

    def __init__(self, sizes: Sequence[int], dim: int, tables: Sequence[torch.Tensor] | None = None) -> None:
        super().__init__()
        widths = {int(t.shape[1]) for t in tables} if tables else {dim}
        if len(widths) != 1:
            raise ValueError(f"codebook embeddings must share one width, got {sorted(widths)}")
        width = widths.pop()
        rows = [int(v) + 2 for v in sizes]
        self.offsets: torch.Tensor
        self.register_buffer("offsets", torch.tensor([0] + rows[:-1]).cumsum(0), persistent=False)
        self.table = nn.Embedding(sum(rows), width)
        if tables:  # the codec's rows, then begin / end as zeros (the authors' F.pad of their embs)
            for k, init in enumerate(tables):
                start = int(self.offsets[k])
                self.table.weight.data[start: start + init.shape[0]] = init.float()
                self.table.weight.data[start + init.shape[0]: start + rows[k]] = 0.0
        self.project = nn.Linear(width, dim, bias=False) if tables else nn.Identity()
        self.begin_id = int(sizes[0])

    def begin(self) -> torch.Tensor:
        """``[dim]``: the begin-of-speech vector (stream 0's id V)."""
        return self.project(self.table.weight[self.begin_id])

    def forward(self, codes: torch.Tensor, streams: torch.Tensor) -> torch.Tensor:
        """``codes [B, S, per_step]`` with ``streams [S, per_step]`` the stream of each column -> ``[B, S, dim]``
        (one lookup for every step)."""
        ids = codes.long() + self.offsets.to(codes.device)[streams.to(codes.device)][None]
        return self.project(self.table(ids).sum(dim=2))


def _llama(size: LlamaSize, causal: bool, dropout: float = 0.0) -> Any:
    """transformers' Llama with the authors' dropout: on the attention weights (``attention_dropout``) and
    on each feed-forward block's output (a forward hook: the state dict keeps transformers' names)."""
    try:
        from transformers import LlamaConfig, LlamaModel
    except ModuleNotFoundError as err:
        raise ModuleNotFoundError("TTS needs transformers: pip install 'codecbench[paper]'") from err
    config = LlamaConfig(vocab_size=1, hidden_size=size.dim, intermediate_size=size.ffn,
                         num_hidden_layers=size.layers, num_attention_heads=size.heads,
                         num_key_value_heads=size.kv_heads, rope_theta=size.rope_theta,  # type: ignore[call-arg]
                         max_position_embeddings=size.max_positions, attention_dropout=dropout,
                         rms_norm_eps=1e-6, bos_token_id=None, eos_token_id=None, pad_token_id=None)
    config._attn_implementation = "sdpa"
    model = LlamaModel(config)
    for layer in model.layers:
        if not causal:
            layer.self_attn.is_causal = False  # type: ignore[union-attr]
        if dropout:
            layer.mlp.register_forward_hook(  # type: ignore[union-attr]
                lambda module, _inputs, out, p=dropout: F.dropout(out, p, module.training))
    return model


def _cached_call(decoder: nn.Module, embeds: torch.Tensor, cache: object, positions: torch.Tensor | None
                 ) -> torch.Tensor:
    """Last hidden states of a cached decoder call (the cache argument is ``cache`` in transformers >= 5,
    ``past_key_values`` before)."""
    import inspect

    name = "cache" if "cache" in inspect.signature(decoder.forward).parameters else "past_key_values"
    out = decoder(inputs_embeds=embeds, position_ids=positions, use_cache=True, **{name: cache})
    return out.last_hidden_state[:, -1]


def _layer_out(out: torch.Tensor | tuple) -> torch.Tensor:
    return out[0] if isinstance(out, tuple) else out  # older transformers return tuples


class _Heads(nn.Module):
    """One bias-free linear head per stream over its ids and ``extra`` special classes (AR: ``begin``, ``end``)."""

    def __init__(self, dim: int, sizes: Sequence[int], extra: int) -> None:
        super().__init__()
        self.heads: Any = nn.ModuleList(nn.Linear(dim, v + extra, bias=False) for v in sizes)

    def forward(self, hidden: torch.Tensor, stream: int) -> torch.Tensor:
        return self.heads[stream](hidden)


class ARTTS(nn.Module):
    """Autoregressive TTS: ``[speaker, chars..., zeros..., begin, steps...]`` -> next step (and the end mark)."""

    def __init__(self, num_chars: int, layout: StreamLayout, speaker_dim: int, size: LlamaSize = LlamaSize(),
                 tables: Sequence[torch.Tensor] | None = None, dropout: float = 0.0) -> None:
        super().__init__()
        self.layout, self.size, self.dropout = layout, size, float(dropout)
        self.chars = nn.Embedding(num_chars, size.dim, padding_idx=0)
        # the authors prepend the x-vector as is (its width is the model's); another width needs a map
        self.speaker: nn.Module = (nn.Identity() if speaker_dim == size.dim
                                   else nn.Linear(speaker_dim, size.dim, bias=False))
        self.speech = StreamEmbedding(layout.sizes, size.dim, tables)
        self.decoder = _llama(size, causal=True, dropout=self.dropout)
        self.heads = _Heads(size.dim, layout.sizes, extra=2)

    def config(self) -> dict:
        return {"kind": "ar", "size": asdict(self.size), "sizes": self.layout.sizes, "flat": self.layout.flat,
                "dropout": self.dropout, "speaker": type(self.speaker).__name__, "prompt": "authors-v1"}

    def begin_id(self, stream: int) -> int:
        return self.layout.sizes[stream]

    def end_id(self, stream: int) -> int:
        return self.layout.sizes[stream] + 1

    def _prefix(self, chars: torch.Tensor, speaker: torch.Tensor) -> torch.Tensor:
        """``[P + 1, dim]``: speaker, characters, zero vectors up to a multiple ``P`` of the steps per frame (1 to
        K of them, as the authors' ``train_tts.py`` pads), begin-of-speech."""
        prompt = torch.cat([self.speaker(speaker)[None], self.chars(chars)])
        cycle = self.layout.cycle
        zeros = prompt.new_zeros(cycle - prompt.shape[0] % cycle, prompt.shape[1])
        return torch.cat([prompt, zeros, self.speech.begin()[None]])

    def _steps_embedding(self, steps: torch.Tensor, start: int = 0) -> torch.Tensor:
        """``[S, per_step]`` -> ``[S, dim]`` (steps numbered from ``start`` for the flat layout's streams)."""
        return self.speech(steps[None], self.layout.stream_ids(start, steps.shape[0]))[0]

    def _predictions(self, chars: Sequence[torch.Tensor], speakers: torch.Tensor, frames: Sequence[torch.Tensor]
                     ) -> list[tuple[torch.Tensor, torch.Tensor, torch.Tensor]]:
        """Teacher-forced predictions: per stream, ``(logits [M, V + 2], targets [M], item index [M])`` over
        every speech step and the end mark (predicted by stream 0 after the last frame)."""
        device = speakers.device
        sequences, spans = [], []
        for c, spk, f in zip(chars, speakers, frames, strict=True):
            steps = self.layout.steps(f.to(device))
            prefix = self._prefix(c.to(device), spk)
            sequences.append(torch.cat([prefix, self._steps_embedding(steps)]))
            spans.append((prefix.shape[0] - 1, steps))
        length = max(s.shape[0] for s in sequences)
        embeds = torch.zeros(len(sequences), length, self.size.dim, device=device, dtype=sequences[0].dtype)
        for b, s in enumerate(sequences):
            embeds[b, : s.shape[0]] = s
        # right padding needs no mask under causal attention: a real position never sees a later (padded) one,
        # and padded positions are never scored; without a mask SDPA runs its fused causal kernel instead of
        # materialising a [B, heads, S, S] mask (32 steps per DyCAST token make S long)
        hidden = self.decoder(inputs_embeds=embeds).last_hidden_state
        per_stream: dict[int, tuple[list[torch.Tensor], list[torch.Tensor], list[torch.Tensor]]] = {}
        for b, (begin, steps) in enumerate(spans):
            n = steps.shape[0]
            for k in range(self.layout.streams):
                rows, col = ((torch.arange(k, n + 1, self.layout.streams, device=device), 0) if self.layout.flat
                             else (torch.arange(n + 1, device=device), k))
                target = torch.full((len(rows),), -100, dtype=torch.long, device=device)
                inside = rows < n
                target[inside] = steps[rows[inside], col].long()
                if k == 0:
                    target[~inside] = self.end_id(0)
                positions, targets, owners = per_stream.setdefault(k, ([], [], []))
                positions.append(b * length + begin + rows)  # position `begin` predicts step 0, the last the end
                targets.append(target)
                owners.append(torch.full((len(rows),), b, device=device))
        flat_hidden = hidden.reshape(-1, hidden.shape[-1])
        return [(self.heads(flat_hidden[torch.cat(pos)], k).float(), torch.cat(tgt), torch.cat(own))
                for k, (pos, tgt, own) in sorted(per_stream.items())]

    def loss(self, chars: Sequence[torch.Tensor], speakers: torch.Tensor, frames: Sequence[torch.Tensor]
             ) -> torch.Tensor:
        """Mean cross-entropy over every speech step and the end mark of a batch (padding masked)."""
        losses = [F.cross_entropy(logits, targets, reduction="sum")
                  for logits, targets, _ in self._predictions(chars, speakers, frames)]
        total = sum(int(self.layout.steps(f).numel()) + 1 for f in frames)
        return torch.stack(losses).sum() / total

    @torch.no_grad()
    def token_error_rates(self, chars: Sequence[torch.Tensor], speakers: torch.Tensor,
                          frames: Sequence[torch.Tensor]) -> list[float]:
        """Per item, the share of teacher-forced argmax predictions (speech steps and the end mark) that miss
        their target: the authors' validation TER (speechbrain ``classification_error``, ``reduction="batch"``)."""
        errors = torch.zeros(len(frames))
        counts = torch.zeros(len(frames))
        for logits, targets, owners in self._predictions(chars, speakers, frames):
            used = targets != -100  # parallel layout: streams 1..K-1 have no target at the end mark's step
            wrong = (logits[used].argmax(dim=-1) != targets[used]).float().cpu()
            errors.index_add_(0, owners[used].cpu(), wrong)
            counts.index_add_(0, owners[used].cpu(), torch.ones_like(wrong))
        return (errors / counts.clamp(min=1)).tolist()

    @torch.no_grad()
    def generate(self, chars: torch.Tensor, speaker: torch.Tensor, generators: Sequence[torch.Generator],
                 max_frames: int, top_p: float = 0.9, temperature: float = 1.0,
                 exact_frames: int | None = None) -> list[torch.Tensor]:
        """One sample per generator: frames ``[N, K]``.

        ``exact_frames`` (the authors' protocol): exactly that many frames, every class sampled (the end mark
        never stops a sample), special ids fed back as sampled and clamped to the stream's last id at the end.
        Without it: sampling stops at the end mark (allowed on stream 0 at a frame boundary; ``begin`` never
        sampled), at most ``max_frames`` frames."""
        from transformers import DynamicCache

        n = len(generators)
        device = speaker.device
        exact = exact_frames is not None
        prefix = self._prefix(chars.to(device), speaker)[None].expand(n, -1, -1)
        cache = DynamicCache()
        hidden = _cached_call(self.decoder, prefix, cache, None)
        position = prefix.shape[1]
        steps: list[list[list[int]]] = [[] for _ in range(n)]
        done = [False] * n
        max_steps = (exact_frames if exact else max_frames) * self.layout.cycle  # type: ignore[operator]
        for s in range(max_steps):
            ks = self.layout.stream_of(s)
            width = max(self.heads.heads[k].out_features for k in ks)
            logits = torch.full((n, len(ks), width), -torch.inf, device=device)
            for j, k in enumerate(ks):
                head = self.heads(hidden, k).float()
                logits[:, j, : head.shape[-1]] = head
                if not exact:
                    logits[:, j, self.begin_id(k)] = -torch.inf
                    if k != 0 or s % self.layout.cycle != 0:
                        logits[:, j, self.end_id(k)] = -torch.inf  # the end mark only at a frame boundary
            step_codes = torch.stack([top_p_rows(logits[b], generators[b], top_p, temperature)
                                      for b in range(n)]).to(device)
            for b in range(n):
                if done[b]:
                    continue
                if not exact and ks[0] == 0 and int(step_codes[b, 0]) == self.end_id(0):
                    done[b] = True
                else:
                    steps[b].append(step_codes[b].tolist())
            if all(done) or s == max_steps - 1:
                break
            if not exact and ks[0] == 0:
                ended = step_codes[:, 0] == self.end_id(0)
                step_codes[ended, 0] = 0  # finished samples feed a harmless code
            embeds = self.speech(step_codes[:, None], torch.tensor([ks]))
            position += 1
            hidden = _cached_call(self.decoder, embeds, cache, torch.full((n, 1), position - 1, device=device))
        per_step = self.layout.per_step
        out = [self.layout.frames(torch.tensor(st, dtype=torch.long).reshape(-1, per_step)) for st in steps]
        return [self.layout.clamp_special(f) for f in out] if exact else out


def top_p_rows(logits: torch.Tensor, generator: torch.Generator, top_p: float, temperature: float) -> torch.Tensor:
    """Nucleus sampling of one id per row of ``logits [R, V]`` with one generator (on the CPU: reproducible
    whatever the device and batch)."""
    probs = torch.softmax(logits.cpu().double() / max(temperature, 1e-6), dim=-1)
    ordered, index = probs.sort(dim=-1, descending=True)
    keep = ordered.cumsum(-1) - ordered <= top_p  # the authors' nucleus (``_sample_top_p``: mass before <= p)
    ordered = ordered * keep
    choice = torch.multinomial(ordered / ordered.sum(-1, keepdim=True), 1, generator=generator)
    return index.gather(-1, choice)[:, 0]


def top_p_sample(logits: torch.Tensor, generator: torch.Generator, top_p: float, temperature: float) -> int:
    """:func:`top_p_rows` of one row ``logits [V]``."""
    return int(top_p_rows(logits[None], generator, top_p, temperature)[0])


class NARTTS(nn.Module):
    """Non-autoregressive TTS: one frame per character, bidirectional attention, speaker added per layer."""

    def __init__(self, num_chars: int, layout: StreamLayout, speaker_dim: int, size: LlamaSize = LlamaSize(),
                 dropout: float = 0.0) -> None:
        super().__init__()
        if layout.flat:
            raise ValueError("NAR TTS predicts one frame per character: a flattened layout does not apply")
        self.layout, self.size, self.dropout = layout, size, float(dropout)
        self.chars = nn.Embedding(num_chars, size.dim, padding_idx=0)
        self.speaker = nn.Linear(speaker_dim, size.dim)
        self.decoder = _llama(size, causal=False, dropout=self.dropout)
        self.heads = _Heads(size.dim, layout.sizes, extra=0)

    def config(self) -> dict:
        return {"kind": "nar", "size": asdict(self.size), "sizes": self.layout.sizes, "flat": False,
                "dropout": self.dropout}

    def hidden(self, chars: torch.Tensor, lengths: torch.Tensor, speakers: torch.Tensor) -> torch.Tensor:
        """``chars [B, C]`` -> ``[B, C, dim]`` (bidirectional; padded keys masked)."""
        x = self.chars(chars)
        spk = self.speaker(speakers)[:, None]
        keep = torch.arange(chars.shape[1], device=chars.device)[None] < lengths.to(chars.device)[:, None]
        mask = torch.zeros(keep.shape, dtype=x.dtype, device=x.device).masked_fill(~keep, torch.finfo(x.dtype).min)
        mask = mask[:, None, None, :].expand(-1, 1, chars.shape[1], -1)
        positions = torch.arange(chars.shape[1], device=chars.device)[None].expand(chars.shape[0], -1)
        rotary = self.decoder.rotary_emb(x, positions)
        for layer in self.decoder.layers:
            x = _layer_out(layer(x + spk, attention_mask=mask, position_ids=positions, position_embeddings=rotary))
        return self.decoder.norm(x)

    def loss(self, chars: torch.Tensor, lengths: torch.Tensor, speakers: torch.Tensor, frames: torch.Tensor
             ) -> torch.Tensor:
        """Cross-entropy of every stream at every character position (``frames [B, C, K]``)."""
        h = self.hidden(chars, lengths, speakers)
        keep = torch.arange(chars.shape[1], device=chars.device)[None] < lengths.to(chars.device)[:, None]
        losses = [F.cross_entropy(self.heads(h[keep], k).float(), frames[..., k][keep].to(h.device))
                  for k in range(self.layout.streams)]
        return torch.stack(losses).mean()

    @torch.no_grad()
    def token_error_rates(self, chars: torch.Tensor, lengths: torch.Tensor, speakers: torch.Tensor,
                          frames: torch.Tensor) -> list[float]:
        """Per item, the share of argmax stream codes that miss their target (the AR task's validation TER)."""
        h = self.hidden(chars, lengths, speakers)
        wrong = torch.stack([self.heads(h, k).argmax(dim=-1) != frames[..., k].to(h.device)
                             for k in range(self.layout.streams)], dim=-1).float().mean(dim=-1).cpu()
        return [float(wrong[b, : int(n)].mean()) for b, n in enumerate(lengths)]

    @torch.no_grad()
    def generate(self, chars: torch.Tensor, speaker: torch.Tensor) -> torch.Tensor:
        """Argmax frames ``[C, K]``: exactly one per character."""
        h = self.hidden(chars[None].to(speaker.device), torch.tensor([len(chars)]), speaker[None])[0]
        return torch.stack([self.heads(h, k).argmax(dim=-1) for k in range(self.layout.streams)], dim=-1).cpu()
