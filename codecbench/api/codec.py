"""The Codec contract: what every tokenizer plugin provides, and the Tokens it produces."""

from __future__ import annotations

import dataclasses
import math
from abc import ABC, abstractmethod
from dataclasses import dataclass, field
from typing import Any, Callable, ClassVar, Hashable, Sequence

import torch

from codecbench import assets as asset_layer
from codecbench.plugins.registry import CODECS


@dataclass(frozen=True)
class Capabilities:
    """What a codec can do, declared by the plugin (tasks never guess)."""

    multi_codebook: bool = False
    variable_rate: bool = False
    character_aligned: bool = False
    needs_text: bool = False
    has_features: bool = False  # features() / decode_features() for kNN voice conversion
    has_embeddings: bool = False  # embeddings() for probe / TTS embedding layers
    batched: bool = True  # encode/decode accept B > 1
    deterministic: bool = True  # same input -> same tokens (token cache is safe)
    random_weights: bool = False  # numbers from this codec are not the real model's
    identity: bool = False  # reproduces its input: in VC its row is the target utterance (the paper's Reference row)
    free_length: bool = False  # decoded length follows the tokens, not the input (a free-duration decoding mode)
    #: outputs made elsewhere, read by item id (:meth:`Codec.recorded_output`): no tokens, no rates; only tasks that
    #: score outputs (resynthesis, vc) take such a codec
    recorded: bool = False


@dataclass
class Tokens:
    """Discrete tokens of a batch.

    Attributes:
        codes: ``[B, N, K]`` integer codes, N frames (padded), K parallel streams.
        lengths: ``[B]`` valid frames per item.
        num_samples: ``[B]`` input samples per item at the codec's rate (length budget).
        durations: optional ``[B, N]`` frames of the underlying grid per token (VFR codecs).
        side_bits: optional ``[B]`` side-information bits per item that a decoder needs on
            top of the codes (e.g. transmitted durations, container headers).
        extra: codec-specific payload needed to decode (e.g. opaque byte streams).
    """

    codes: torch.Tensor
    lengths: torch.Tensor
    num_samples: torch.Tensor
    durations: torch.Tensor | None = None
    side_bits: torch.Tensor | None = None
    extra: dict[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        if self.codes.dim() != 3:
            raise ValueError(f"Tokens.codes must be [B, N, K], got shape {tuple(self.codes.shape)}")
        batch = self.codes.shape[0]
        for name in ("lengths", "num_samples"):
            value = getattr(self, name)
            if value.shape != (batch,):
                raise ValueError(f"Tokens.{name} must be [B]={batch}, got {tuple(value.shape)}")

    def to(self, device: str | torch.device) -> Tokens:
        """The same tokens with every tensor on ``device``."""
        def move(t: torch.Tensor | None) -> torch.Tensor | None:
            return None if t is None else t.to(device)

        return Tokens(codes=self.codes.to(device), lengths=self.lengths.to(device),
                      num_samples=self.num_samples.to(device), durations=move(self.durations),
                      side_bits=move(self.side_bits), extra=self.extra)

    @property
    def batch_size(self) -> int:
        return int(self.codes.shape[0])

    def item(self, index: int) -> Tokens:
        """The ``index``-th item, trimmed to its valid frames, as a batch of one."""
        n = int(self.lengths[index])
        pick = slice(index, index + 1)
        return Tokens(
            codes=self.codes[pick, :n].clone(),
            lengths=self.lengths[pick].clone(),
            num_samples=self.num_samples[pick].clone(),
            durations=None if self.durations is None else self.durations[pick, :n].clone(),
            side_bits=None if self.side_bits is None else self.side_bits[pick].clone(),
            extra={k: v[index : index + 1] for k, v in self.extra.items()},
        )

    @staticmethod
    def collate(items: list[Tokens]) -> Tokens:
        """Pad a list of single-item Tokens into one batch."""
        if not items:
            raise ValueError("cannot collate an empty list of Tokens")
        max_n = max(int(t.lengths[0]) for t in items)
        k = items[0].codes.shape[2]
        codes = torch.zeros(len(items), max_n, k, dtype=items[0].codes.dtype)
        has_dur = items[0].durations is not None
        durations = torch.zeros(len(items), max_n, dtype=torch.long) if has_dur else None
        for i, t in enumerate(items):
            n = int(t.lengths[0])
            codes[i, :n] = t.codes[0, :n]
            if durations is not None and t.durations is not None:
                durations[i, :n] = t.durations[0, :n]
        side = None
        if items[0].side_bits is not None:
            side = torch.cat([t.side_bits for t in items if t.side_bits is not None])
        extra: dict[str, Any] = {}
        for key in items[0].extra:
            extra[key] = [v for t in items for v in t.extra[key]]
        return Tokens(
            codes=codes,
            lengths=torch.cat([t.lengths for t in items]),
            num_samples=torch.cat([t.num_samples for t in items]),
            durations=durations,
            side_bits=side,
            extra=extra,
        )


def pad_batch(items: list[torch.Tensor]) -> tuple[torch.Tensor, torch.Tensor]:
    """Right-pad waveforms ``[T]`` (or frames ``[T, D]``) with zeros into ``(x[B, T, ...], lengths[B])``."""
    lengths = torch.tensor([len(x) for x in items], dtype=torch.long)
    tail = tuple(items[0].shape[1:]) if items else ()
    dtype = items[0].dtype if items else torch.float32
    device = items[0].device if items else None
    wav = torch.zeros(len(items), int(lengths.max()) if items else 0, *tail, dtype=dtype, device=device)
    for i, x in enumerate(items):
        wav[i, : len(x)] = x
    return wav, lengths


def length_groups(lengths: torch.Tensor | Sequence[Hashable]) -> list[list[int]]:
    """Batch indices grouped by equal length: models whose padded items differ from single
    items (convolutions see the padding) run each group unpadded, so results never depend on
    how utterances were batched."""
    groups: dict[Hashable, list[int]] = {}
    keys = lengths.tolist() if isinstance(lengths, torch.Tensor) else list(lengths)
    for i, key in enumerate(keys):
        groups.setdefault(key, []).append(i)
    return list(groups.values())


def map_length_groups(fn: Callable[[torch.Tensor], torch.Tensor], x: torch.Tensor,
                      lengths: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """``fn`` on each equal-length group of ``x[B, T, ...]`` cut to its length (``[G, n, ...]`` ->
    ``[G, N, ...]``); the per-item results right-padded into ``(out[B, N_max, ...], N[B])``."""
    outs: list[torch.Tensor | None] = [None] * x.shape[0]
    for group in length_groups(lengths):
        result = fn(x[group, : int(lengths[group[0]])])
        for j, i in enumerate(group):
            outs[i] = result[j]
    return pad_batch([o for o in outs if o is not None])


def bits_per_token(codebook_sizes: list[int]) -> float:
    """Bits needed by one frame of K parallel streams: sum of log2(vocabulary)."""
    return float(sum(math.log2(v) for v in codebook_sizes))


def elias_gamma_bits(durations: torch.Tensor) -> torch.Tensor:
    """Bits of a self-delimiting Elias-gamma code of each duration (>= 1): 2*floor(log2 d) + 1; the side
    information variable-rate codecs send for their token durations (DyCAST, FlexiCodec)."""
    d = durations.clamp_min(1).double()
    return 2 * torch.floor(torch.log2(d)) + 1


def codebook_tables(codec: "Codec") -> list[torch.Tensor] | None:
    """The codec's codebook tables on the CPU (one per stream) to initialise a model's embeddings, or None
    when it has none (or not one per stream)."""
    if not codec.capabilities.has_embeddings:
        return None
    tables = [t.detach().float().cpu() for t in codec.embeddings()]
    return tables if len(tables) == len(codec.codebook_sizes) else None


class Codec(torch.nn.Module, ABC):
    """A speech tokenizer: waveform <-> discrete tokens.

    Class attributes a plugin sets: ``sample_rate`` (input rate, Hz),
    ``output_sample_rate``, ``codebook_sizes`` (vocabulary of each parallel stream),
    ``nominal_frame_rate`` (frames/s, None when variable), ``nominal_bitrate`` (bits/s,
    None when variable), ``capabilities``, ``min_samples`` (shortest input accepted),
    ``assets`` (the pretrained weights it can load), ``test_params`` (params of a small
    random-weight instance of the real architecture, for contract tests), ``families`` (registered
    variant -> rate family: the variants that differ only in rate, one rate-quality curve of the BD tables) and
    ``version`` (bumped when something outside its source changes its results; its source is fingerprinted by
    itself).
    """

    sample_rate: int = 16000
    output_sample_rate: int = 16000
    codebook_sizes: list[int] = []
    nominal_frame_rate: float | None = None
    nominal_bitrate: float | None = None
    capabilities: Capabilities = Capabilities()
    min_samples: int = 1
    assets: ClassVar[tuple[asset_layer.Asset, ...]] = ()
    test_params: ClassVar[dict[str, Any]] = {}
    #: registered variant name -> rate family (variants that differ only in rate: one curve of the BD tables)
    families: ClassVar[dict[str, str]] = {}
    weights_id: str = ""  # the weights behind the numbers (set by resolve_weights)
    #: bump when something outside the plugin's source changes its tokens or audio (part of its code fingerprint)
    version: ClassVar[str] = "1"

    @classmethod
    def variant_digest(cls, params: dict[str, Any]) -> str:
        """A digest of what else determines a variant's results besides its code, params and declared assets
        (part of its variant id): e.g. the content of a folder of recorded outputs. Empty by default."""
        return ""

    def recorded_output(self, item: str) -> tuple[Any, int]:
        """The recorded output of one item (an utterance id, or a voice-conversion item ``source->target``) as
        ``(samples, sample_rate)``; only codecs that declare ``Capabilities(recorded=True)`` have one."""
        raise NotImplementedError(f"{type(self).__name__} encodes and decodes; it has no recorded outputs")

    @classmethod
    def variant_assets(cls, params: dict[str, Any]) -> tuple[asset_layer.Asset, ...]:
        """The assets a variant with these constructor params loads (default: all the class declares)."""
        return cls.assets

    @abstractmethod
    def encode(self, wav: torch.Tensor, lengths: torch.Tensor) -> Tokens:
        """Encode ``wav[B, T]`` (float in [-1, 1], padded) with ``lengths[B]`` valid samples."""

    @abstractmethod
    def decode(self, tokens: Tokens) -> tuple[torch.Tensor, torch.Tensor]:
        """Decode to ``(wav[B, T'], lengths[B])`` at ``output_sample_rate``."""

    def embeddings(self) -> list[torch.Tensor]:
        """Codebook tables, one ``[V_k, D_k]`` per stream (probe / TTS initialisation)."""
        raise NotImplementedError(f"{type(self).__name__} has no codebook embeddings")

    def features(self, tokens: Tokens) -> torch.Tensor:
        """Continuous pre-decoder features ``[B, N, D]`` of the tokens (kNN voice conversion)."""
        raise NotImplementedError(f"{type(self).__name__} has no continuous features")

    def decode_features(
        self, features: torch.Tensor, lengths: torch.Tensor
    ) -> tuple[torch.Tensor, torch.Tensor]:
        """Decode continuous features ``[B, N, D]`` to a waveform."""
        raise NotImplementedError(f"{type(self).__name__} cannot decode features")

    def encoder_features(self, wav: torch.Tensor, lengths: torch.Tensor) -> torch.Tensor:
        """Continuous features ``[B, N, D]`` of raw audio, in the space of :meth:`features`
        (the kNN voice-conversion matching set)."""
        raise NotImplementedError(f"{type(self).__name__} has no encoder features")

    def counted_modules(self) -> list[torch.nn.Module]:
        """The modules whose parameters count as the codec's (Table 1); override to leave out external tools
        that run beside it (e.g. DyCAST-CA's MMS aligner, which the paper does not count)."""
        return [self]

    @property
    def bits_per_token(self) -> float:
        """Bits of one frame; override when the stream packs fewer bits than its codes span."""
        return bits_per_token(self.codebook_sizes)

    def measured_frames(self, tokens: Tokens) -> torch.Tensor:
        """Frames (tokens of K parallel streams) actually produced per item."""
        return tokens.lengths.double()

    def measured_bits(self, tokens: Tokens) -> torch.Tensor:
        """Bits actually needed per item: valid frames x bits/frame + side information."""
        bits = tokens.lengths.double() * self.bits_per_token
        if tokens.side_bits is not None:
            bits = bits + tokens.side_bits.double()
        return bits

    #: True when :meth:`cache_id` names everything the tokens depend on (weights, encoder params): variants
    #: that differ only in decoding then share cached tokens. False (the default): the token cache also follows
    #: the variant id (registry name, params, weights), so a changed param never reuses stale tokens.
    cache_id_complete: ClassVar[bool] = False

    def cache_id(self) -> str:
        """A string identifying this codec's behaviour for the token cache."""
        return f"{type(self).__module__}.{type(self).__qualname__}"

    def resolve_weights(self, asset: str, explicit: str | None = None) -> asset_layer.Resolved:
        """Locate this codec's weights through :mod:`codecbench.assets`. When absent the caller builds the
        real architecture with random weights: flagged here (capabilities, ``weights_id``, one warning)."""
        found = asset_layer.weights_or_random(asset, explicit, owner=asset)
        self.capabilities = dataclasses.replace(self.capabilities, random_weights=found.absent)
        self.weights_id = found.weights_id(f"seed={torch.initial_seed()}")
        return found


class GroupedCodec(Codec):
    """A codec whose padded batch items would differ from single items (convolutions see the
    padding): equal-length groups run unpadded through ``_encode`` / ``_decode``, so results never
    depend on batching. Subclasses implement the two hooks on ``[G, T]`` / ``[G, N, K]``."""

    def _encode(self, wav: torch.Tensor) -> torch.Tensor:
        """``[G, T]`` -> codes ``[G, N, K]``."""
        raise NotImplementedError

    def _decode(self, codes: torch.Tensor) -> torch.Tensor:
        """codes ``[G, N, K]`` -> waveform ``[G, T']``."""
        raise NotImplementedError

    def _device(self) -> torch.device:
        return next(self.parameters()).device

    def encode(self, wav: torch.Tensor, lengths: torch.Tensor) -> Tokens:
        items: list[Tokens | None] = [None] * wav.shape[0]
        for group in length_groups(lengths):
            n = int(lengths[group[0]])
            codes = self._encode(wav[group, :n]).long().cpu()
            for j, i in enumerate(group):
                items[i] = Tokens(codes=codes[j:j + 1], lengths=torch.tensor([codes.shape[1]]),
                                  num_samples=torch.tensor([n]))
        return Tokens.collate([t for t in items if t is not None])

    def decode(self, tokens: Tokens) -> tuple[torch.Tensor, torch.Tensor]:
        return map_length_groups(lambda codes: self._decode(codes.to(self._device())), tokens.codes, tokens.lengths)


CODECS.set_base(Codec)  # the registry checks every codec plugin against it
