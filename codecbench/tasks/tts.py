"""Text-to-speech on codec tokens (Table 4, TTS columns; DyCAST paper, appendix D.6).

Per codec variant and dataset: split (LibriSpeech folders, else a seeded 80/10/10), encode every
transcribed utterance once (token cache), condition on the speaker embedding of the target utterance
(the ``sim`` metric's speaker model: WavLM-base-SV in the paper profile, the offline one otherwise),
train a model (resumable checkpoints under ``RUN_DIR/tts``), generate for the test split (test
utterances longer than ``max_test_seconds`` are left out, as in the paper), decode with the codec,
match the reference length (the pad / trim is recorded) and score with the run's metrics against the
utterance itself (UTMOS / DNSMOS, dWER vs its transcript, Sim vs its speaker).

- ``tts_ar``: :class:`ARTTS`, the authors' protocol by default (lucadellalib/audiocodecs ``train_tts.py``,
  ``hparams/tasks/tts.yaml``): every codec with K > 1 streams flattened (``layout: flatten``), each sample
  exactly the reference's frame count with the end mark off and special ids clamped (``length: reference``);
  ``num_samples`` (5) top-p samples per utterance (seeded per utterance and sample, each cached so
  generation resumes), the one whose ASR transcript has the fewest word errors against the input text is
  scored as ``tts_ar`` (the paper's oracle best-of-5) and the first sample as ``tts_ar.first`` (no oracle).
  ``length: predicted`` (stop at a sampled end mark) and ``layout: parallel`` / ``auto`` are options.
- ``tts_nar``: :class:`NARTTS` for character-aligned codecs (DyCAST-CA; others are skipped): one token
  per input character, argmax; decoded with the codec's own durations (list DyCAST with
  ``mode: tokens``: its duration model).

Training is the authors' recipe (:class:`TTSOptions`' defaults): AdamW 1e-4
(0.9, 0.98), weight decay 0.01, batch 8 in ascending duration, gradient-norm clip 0.01, dropout 0.1, 100
epochs, NewBob x0.9 below 0.0025 relative improvement (patience 1), fp32, the epoch with the lowest
validation token error rate kept (validation one utterance at a time).

``task_options.<task>`` (:class:`TTSOptions`, :class:`ARTTSOptions`): every :class:`TrainOptions` field, ``size``
(:class:`LlamaSize` fields; the paper's by
default), ``seeds`` (one training per seed; tables show mean and spread), ``dropout``, ``batch_order``,
``valid_batch_size``, ``max_test_seconds``, ``speaker_metric``; ``tts_ar`` only: ``length``, ``layout``,
``num_samples``, ``top_p``, ``temperature``, ``asr_metric``, ``max_frames_factor`` (``length: predicted``).
"""

from __future__ import annotations

import dataclasses
import difflib
import functools
import logging
import math
import random
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any, ClassVar, Literal

import numpy as np
import torch
from tqdm import tqdm

from codecbench.api import (
    METRIC_SAMPLE_RATE,
    RATE_OUTPUTS,
    WHOLE,
    AudioError,
    BatchSize,
    Codec,
    Count,
    DiskCache,
    Dropout,
    ItemId,
    OpenFraction,
    PositiveFloat,
    PositiveInt,
    Row,
    Seed,
    Task,
    TaskContext,
    Tokens,
    Utterance,
    cached_encode,
    checked_decode,
    codebook_tables,
    file_name,
    load_audio,
    make_key,
    match_length,
    prefetch,
    register_task,
    resample,
    score_batch,
    validate_audio,
)

from ._splits import corpus_split
from ._training import BatchOrder, TrainOptions, ascending_batches, autocast, bucketed_batches, train
from ._tts_model import ARTTS, NARTTS, CharVocab, Layout, LlamaSize, StreamLayout

log = logging.getLogger(__name__)

@dataclass(frozen=True)
class TTSOptions(TrainOptions):
    """``task_options.tts_nar`` (and the part ``tts_ar`` shares). Departures from :class:`TrainOptions`'s
    defaults, which are already the authors' optimiser and NewBob: ``hparams/tasks/tts.yaml`` trains at batch 8
    in fp32 (``precision: fp32``) for 100 epochs without early stopping; a mid-epoch checkpoint every 500 steps
    only makes a killed run resume sooner."""

    batch_size: BatchSize = 8
    autocast: bool = False
    checkpoint_every: Count = 500
    size: LlamaSize = field(default_factory=LlamaSize)  # the paper's decoder by default
    seeds: tuple[Seed, ...] | None = None  # one training per seed (None: the run's seed); tables show the spread
    dropout: Dropout = 0.1
    batch_order: BatchOrder = "ascending"
    valid_batch_size: BatchSize = 1
    max_test_seconds: PositiveFloat = 20.0  # longer test utterances are left out, as in the paper
    speaker_metric: str = "sim"  # the metric whose speaker model conditions the decoder
    #: stream tables start from the codec's codebooks (paper D.6), or ``random`` (``pretrain_embeddings: False``)
    embedding_init: Literal["codec", "random"] = "codec"

    def __post_init__(self) -> None:
        super().__post_init__()
        if self.seeds is not None and (not self.seeds or len(set(self.seeds)) != len(self.seeds)):
            raise ValueError(f"seeds must be distinct and at least one, got {list(self.seeds)}")

    def seed_list(self, run_seed: int) -> list[int]:
        return list(self.seeds) if self.seeds else [run_seed]

    def stream_layout(self) -> str:
        """How the streams are laid out for the decoder (the NAR model: in parallel, one frame per step)."""
        return "parallel"

    def reference_length(self) -> bool:
        """Whether each sample has exactly the reference's frame count (the NAR model: one frame per character)."""
        return False


@dataclass(frozen=True)
class ARTTSOptions(TTSOptions):
    """``task_options.tts_ar``: the shared options and the sampling protocol (the authors' by default)."""

    length: Literal["reference", "predicted"] = "reference"  # the reference's frame count (end mark off), or
    layout: Layout = "flatten"                               # stop at a sampled end mark
    num_samples: PositiveInt = 5
    top_p: OpenFraction = 0.9
    temperature: PositiveFloat = 1.0
    asr_metric: str = "dwer"  # picks the best of the samples
    max_frames_factor: PositiveFloat = 1.5  # ``length: predicted``: cap at this x the training set's frames/character

    def stream_layout(self) -> str:
        return self.layout

    def reference_length(self) -> bool:
        return self.length == "reference"


AR_ONLY = sorted({f.name for f in dataclasses.fields(ARTTSOptions)} - {f.name for f in dataclasses.fields(TTSOptions)})


@dataclass
class TTSItem:
    """One utterance: input characters, target frames ``[N, K]``, speaker embedding, reference audio."""

    utt: Utterance
    text: str
    frames: torch.Tensor
    speaker: torch.Tensor
    audio: np.ndarray  # 16 kHz: the reference the metrics compare with
    samples: int  # input samples at the codec's rate
    token_chars: str | None = None  # one character per token (character-aligned codecs)
    chars: torch.Tensor | None = None  # set once the vocabulary is known

    def __len__(self) -> int:
        return int(self.frames.shape[0])


@dataclass
class Sample:
    """A generated sample written as one task's row: its frames, 16 kHz audio and row extras."""

    task: str
    frames: torch.Tensor
    wav: np.ndarray
    extra: dict


@dataclass
class Generation:
    """What one seed's generation and scoring need: the codec, the trained model, its sample cache."""

    codec: Codec
    model: Any
    cache: DiskCache
    setup: str
    opts: TTSOptions
    seed: int
    backend: str
    samples_per_frame: float
    frames_per_char: float
    autocast: bool = False  # bf16 on CUDA (TrainOptions.autocast), for generation as for training

    def length_budget(self, item: TTSItem, frames: torch.Tensor) -> int:
        """The decoder's length budget: the reference's own (``length: reference``, as the authors'
        ``toks_to_sig(hyp_toks, lens)``), else the training set's samples per frame times the frame count."""
        if self.opts.reference_length():
            return item.samples
        return max(int(round(frames.shape[0] * self.samples_per_frame)), 1)


@dataclass
class Generated:
    """One test utterance's samples, generated and decoded (in the prefetch thread: no rows written there)."""

    item: TTSItem
    row_id: ItemId
    frames: list[torch.Tensor]
    audio: list[np.ndarray | None]
    record: dict | None = None  # AR: the cached samples with their ASR errors, under ``key``
    key: str = ""
    error: Exception | None = None


def best_sample(errors: list[int | None], usable: list[int]) -> int:
    """The usable sample with the fewest word errors against the input text (the first on ties)."""
    return min(usable, key=lambda k: (errors[k] if errors[k] is not None else 0, k))


class _TTS(Task):
    """Shared flow: options -> encode -> train per seed -> generate -> decode -> score."""

    uses_metrics = True
    trains = True
    outputs = RATE_OUTPUTS
    kind: ClassVar[str] = "ar"
    Options: ClassVar[type] = TTSOptions

    def check_options(self, options: TTSOptions, metrics: set[str]) -> None:
        """The speaker model (and, for AR, the ASR that picks the best sample) is a metric of the run's profile."""
        for key in ("speaker_metric", "asr_metric"):
            name = getattr(options, key, None)
            if name is not None and name not in metrics:
                close = difflib.get_close_matches(name, sorted(metrics), n=1)
                hint = f"; did you mean {close[0]!r}?" if close else ""
                raise ValueError(f"task_options.{self.name}.{key}: {name!r} is no metric of this profile{hint} "
                                 f"(metrics: {', '.join(sorted(metrics))})")

    def training_runs(self, options: TTSOptions) -> int:
        return len(options.seed_list(0))  # one model per seed

    @staticmethod
    def row_id(utt_id: str, seed: int, seeds: list[int]) -> ItemId:
        """The row's item: the utterance, and the seed when the task trains with several."""
        return ItemId(utt_id, seed=seed if len(seeds) > 1 else None)

    def applies(self, codec: Codec) -> bool:
        return True

    def written_tasks(self, opts: TTSOptions) -> list[str]:
        """Task names of the rows written: ``tts_ar`` (best of N) and ``tts_ar.first`` (first sample)."""
        several = isinstance(opts, ARTTSOptions) and opts.num_samples > 1
        return [self.name] + ([f"{self.name}.first"] if several else [])

    def run(self, ctx: TaskContext) -> None:
        opts: TTSOptions = ctx.options
        cfg, seeds = opts.train_config(ctx.seed, ctx.device), opts.seed_list(ctx.seed)
        usable = sorted((u for u in ctx.utterances if u.text and u.text.strip()), key=lambda u: u.utt_id)  # order-free
        splits = {u.utt_id: corpus_split(u, ctx.seed) for u in usable}
        tests = [u for u in usable if splits[u.utt_id] == "test"]
        outputs = ctx.scored_outputs()
        pending = {s: [u for u in tests if any(ctx.missing(t, self.row_id(u.utt_id, s, seeds), outputs)
                                               for t in self.written_tasks(opts))]
                   for s in seeds}
        if not tests or not any(pending.values()) or not ctx.missing(self.name, WHOLE, outputs):
            if not tests:
                log.warning("%s on %s: no test utterances with transcripts", self.name, ctx.dataset)
            return
        codec = ctx.get_codec()
        if not self.applies(codec):
            log.warning("%s: skipped for %s (needs a character-aligned codec, e.g. dycast-ca)", self.name,
                        ctx.codec_label)
            return
        speaker_model = ctx.metric(opts.speaker_metric)
        if not hasattr(speaker_model, "speaker_embedding"):
            raise ValueError(f"task_options.{self.name}.speaker_metric: {opts.speaker_metric!r} "
                             "has no speaker model")
        items = self._encode(ctx, codec, usable, speaker_model)
        by_split = {name: [items[u.utt_id] for u in usable if u.utt_id in items and splits[u.utt_id] == name]
                    for name in ("train", "valid", "test")}
        long = [i for i in by_split["test"] if len(i.audio) / METRIC_SAMPLE_RATE > opts.max_test_seconds]
        if long:
            log.info("%s on %s: %d test utterances over %.0f s left out", self.name, ctx.dataset, len(long),
                     opts.max_test_seconds)
            by_split["test"] = [i for i in by_split["test"] if i not in long]
        if not by_split["train"] or not by_split["test"]:
            ctx.add_rows([ctx.error_row(self.name, WHOLE, "split", f"{self.name} on {ctx.dataset}: need train and test "
                                         f"utterances (got {len(by_split['train'])} / {len(by_split['test'])})")])
            return
        vocab = CharVocab.build([i.text for i in by_split["train"]] + [i.token_chars or "" for i in by_split["train"]])
        train_items = self._inputs(ctx, by_split["train"], vocab)
        valid_items = self._inputs(ctx, by_split["valid"], vocab) or train_items
        for item in by_split["test"]:  # test input: always the transcript
            item.chars = vocab.encode(item.text)
        if not train_items:
            ctx.add_rows([ctx.error_row(self.name, WHOLE, "train", f"{self.name} on {ctx.dataset}: no usable "
                                         "training pairs")])
            return
        layout = StreamLayout.named(opts.stream_layout(), codec.codebook_sizes,
                                    codec.capabilities.multi_codebook)
        tables = codebook_tables(codec) if opts.embedding_init == "codec" else None
        samples_per_frame = sum(i.samples for i in train_items) / max(sum(len(i) for i in train_items), 1)
        frames_per_char = max(len(i) / max(len(i.chars), 1) for i in train_items)  # type: ignore[arg-type]
        for seed in seeds:
            todo = {u.utt_id for u in pending[seed]}
            if not todo:
                continue
            seed_cfg = dataclasses.replace(cfg, seed=seed)
            torch.manual_seed(seed)
            model = self._model(len(vocab), layout, train_items[0].speaker.numel(), opts.size, tables,
                                opts.dropout)
            setup = make_key(self.name, model.config(), vocab.symbols, sorted(i.utt.utt_id for i in train_items),
                             dataclasses.asdict(seed_cfg) | {"device": ""}, ctx.codec_key(codec), ctx.variant,
                             ctx.setups.get("-", ""), speaker_model.backend, speaker_model.code_id)[:10]
            folder = (ctx.run_dir / "tts" / file_name(ctx.codec_label) / self.name / file_name(ctx.dataset)
                      / f"seed-{seed}-{setup}")
            valid_size = opts.valid_batch_size
            valid_batches = [valid_items[i:i + valid_size] for i in range(0, len(valid_items), valid_size)]
            with ctx.timer.stage("train", len(train_items)):
                state = train(model, self._epoch_batches(train_items, seed_cfg.batch_size, opts.batch_order),
                              valid_batches, self.loss, seed_cfg, folder / "model.pt",
                              extra={"vocab": vocab.symbols, **model.config()},
                              progress=f"{self.name} train {ctx.codec_label} seed {seed}" if ctx.progress else False,
                              score=functools.partial(self.valid_error, batches=valid_batches))
            model.eval()
            backend = self.backend(opts, layout, state.step, seed)
            gen = Generation(codec, model, DiskCache(folder, "samples"), setup, opts, seed, backend,
                             samples_per_frame, frames_per_char, seed_cfg.autocast)
            tests_left = [i for i in by_split["test"] if i.utt.utt_id in todo]

            def produced(items: list[TTSItem] = tests_left, gen: Generation = gen) -> Iterator[Generated]:
                for item in items:
                    yield self._generate(ctx, gen, item)

            bar = tqdm(total=len(tests_left), desc=f"{self.name} {ctx.codec_label} / {ctx.dataset}", unit="utt",
                       disable=not ctx.progress, leave=False)
            for done in prefetch(produced(), ctx.prefetch):  # the next utterance is generated while this is scored
                self._write(ctx, gen, done)
                bar.update()
            bar.close()

    # ---- pieces ---------------------------------------------------------------------------------
    def _model(self, num_chars: int, layout: StreamLayout, speaker_dim: int, size: LlamaSize,
               tables: list[torch.Tensor] | None, dropout: float) -> ARTTS | NARTTS:
        return ARTTS(num_chars, layout, speaker_dim, size, tables, dropout)

    def backend(self, opts: TTSOptions, layout: StreamLayout, steps: int, seed: int) -> str:
        """The rows' ``model``: what generated them, layout and length protocol included."""
        length = opts.length if isinstance(opts, ARTTSOptions) else "predicted"
        return (f"{self.kind}-llama{opts.size.layers}x{opts.size.dim}:{layout.name}:length={length}"
                f":steps={steps}:seed={seed}:{opts.speaker_metric}")

    @staticmethod
    def _epoch_batches(items: list[TTSItem], size: int, order: str) -> Any:
        """``ascending`` (the authors': by duration, the same every epoch) or ``shuffled`` (length-bucketed,
        reshuffled every epoch): one epoch's batches from the epoch's rng."""
        fixed = (ascending_batches(items, size, lambda i: (len(i.audio), i.utt.utt_id))
                 if order == "ascending" else None)

        def batches(rng: random.Random) -> list[list[TTSItem]]:
            return fixed if fixed is not None else bucketed_batches(items, size, rng, len)
        return batches

    def valid_error(self, model: Any, batches: list[list[TTSItem]]) -> float:
        """Mean per-utterance token error rate over the validation set (the authors' checkpoint choice,
        ``min_key="TER"``)."""
        device = next(model.parameters()).device
        rates: list[float] = []
        for batch in batches:
            speakers = torch.stack([i.speaker for i in batch]).to(device)
            rates += model.token_error_rates([i.chars for i in batch], speakers, [i.frames for i in batch])
        return sum(rates) / max(len(rates), 1)

    def _encode(self, ctx: TaskContext, codec: Codec, utts: list[Utterance], speaker_model: Any
                ) -> dict[str, TTSItem]:
        items: dict[str, TTSItem] = {}
        key = ctx.codec_key(codec)
        for utt in tqdm(utts, desc=f"{self.name} encode {ctx.codec_label}", unit="utt", disable=not ctx.progress,
                        leave=False):
            try:
                audio = validate_audio(load_audio(utt.path, ctx.max_seconds),
                                 min_seconds=codec.min_samples / codec.sample_rate, max_seconds=ctx.max_seconds)
                wav = resample(audio.samples, audio.sample_rate, codec.sample_rate)
                ref = resample(audio.samples, audio.sample_rate, METRIC_SAMPLE_RATE)
                (tokens,) = cached_encode(codec, key, [wav], ctx.token_cache, ctx.device, ctx.timer)
                speaker = torch.as_tensor(np.asarray(speaker_model.speaker_embedding(ref)), dtype=torch.float32)
            except (AudioError, RuntimeError, ValueError) as err:
                ctx.add_rows([ctx.error_row(self.name, utt.utt_id, "encode", err)])
                continue
            frames = tokens.codes[0, : int(tokens.lengths[0])].long()
            chars = tokens.extra.get("chars", [None])[0]
            items[utt.utt_id] = TTSItem(utt, str(utt.text), frames, speaker, ref, len(wav), chars)
        return items

    def _inputs(self, ctx: TaskContext, items: list[TTSItem], vocab: CharVocab) -> list[TTSItem]:
        for item in items:
            item.chars = vocab.encode(item.text)
        return [i for i in items if len(i) > 0 and len(i.chars) > 0]  # type: ignore[arg-type]

    def loss(self, model: Any, batch: list[TTSItem]) -> torch.Tensor:
        device = next(model.parameters()).device
        speakers = torch.stack([i.speaker for i in batch]).to(device)
        return model.loss([i.chars for i in batch], speakers, [i.frames for i in batch])

    def _samples(self, model: Any, item: TTSItem, opts: ARTTSOptions, seed: int, frames_per_char: float,
                 device: str, use_autocast: bool) -> list[torch.Tensor]:
        """Generated frames of each sample (not cached): the reference's frame count (``length: reference``) or
        until the end mark, capped at ``max_frames_factor`` x the training set's frames per character."""
        n = opts.num_samples
        gens = [torch.Generator().manual_seed(int(make_key("tts-sample", seed, item.utt.utt_id, k)[:12], 16))
                for k in range(n)]
        chars = item.chars if item.chars is not None else torch.zeros(0, dtype=torch.long)
        max_frames = int(math.ceil(opts.max_frames_factor * frames_per_char * len(chars))) + 8
        exact = len(item) if opts.reference_length() else None
        with autocast(device, use_autocast):
            return model.generate(chars, item.speaker.to(device), gens, max_frames, opts.top_p,
                                  opts.temperature, exact_frames=exact)

    def _generate(self, ctx: TaskContext, gen: Generation, item: TTSItem) -> Generated:
        """N top-p samples (cached with their ASR errors once scored), each decoded to 16 kHz audio."""
        opts = gen.opts
        assert isinstance(opts, ARTTSOptions), "sampling is the AR model's"
        row_id = self.row_id(item.utt.utt_id, gen.seed, opts.seed_list(ctx.seed))
        key = make_key("tts-samples", gen.setup, item.utt.utt_id, opts.num_samples, opts.top_p,
                       opts.temperature, opts.length, opts.max_frames_factor,
                       ctx.setups.get("dwer", ""))  # the samples' ASR errors come from dwer
        with ctx.timer.stage("generate", 1) as stage:
            found = gen.cache.get(key, dict)
            if found is None:
                try:
                    frames = self._samples(gen.model, item, opts, gen.seed, gen.frames_per_char, ctx.device,
                                           gen.autocast)
                except Exception as err:  # noqa: BLE001 - one utterance fails alone
                    return Generated(item, row_id, [], [], error=err)
                found = {"frames": frames, "hyp": [None] * len(frames), "errors": [None] * len(frames)}
            else:
                stage.items, stage.cached = 0, 1
        audio: list[np.ndarray | None] = []
        with ctx.timer.stage("decode", len(found["frames"])):
            for frames in found["frames"]:
                try:
                    audio.append(self._decode(gen.codec, frames, gen.length_budget(item, frames), ctx.device)
                                 if len(frames) else None)
                except Exception as err:  # noqa: BLE001 - a sample the codec cannot decode is not usable
                    log.warning("%s / %s: sample not decodable: %s", ctx.codec_label, item.utt.utt_id, err)
                    audio.append(None)
        return Generated(item, row_id, found["frames"], audio, found, key)

    def _write(self, ctx: TaskContext, gen: Generation, done: Generated) -> None:
        """Best of N by the ASR's word errors against the input text, then the rows of the best and first."""
        item, row_id, audio, found = done.item, done.row_id, done.audio, done.record
        if done.error is not None or found is None:
            ctx.add_rows([ctx.error_row(self.name, row_id, "generate", done.error or "no samples")])
            return
        todo = [k for k in range(len(audio)) if found["errors"][k] is None]
        if len(audio) > 1 and todo:
            assert isinstance(gen.opts, ARTTSOptions), "only the AR model draws several samples"
            asr: Any = ctx.metric(gen.opts.asr_metric)
            heard = [k for k in todo if audio[k] is not None]
            scored = dict(zip(heard, asr.text_errors([audio[k] for k in heard], item.text, item.utt.language)
                              if heard else [], strict=True))
            for k in todo:
                errors, _, hyp = scored.get(k, (-1, 0, ""))
                found["errors"][k], found["hyp"][k] = int(errors), hyp
        gen.cache.put(done.key, found)
        usable = [k for k, wav in enumerate(audio) if wav is not None]
        if not usable:
            ctx.add_rows([ctx.error_row(self.name, row_id, "generate", "no sample gave audio (each ended before "
                                         "any token or failed to decode)")])
            return
        best = best_sample(found["errors"], usable)
        samples: list[Sample] = []
        for task, k in zip(self.written_tasks(gen.opts), (best, 0), strict=False):
            if not ctx.missing(task, row_id, ctx.scored_outputs()):
                continue
            wav = audio[k]
            if wav is None:
                ctx.add_rows([ctx.error_row(task, row_id, "generate", "the first sample ended before any token")])
                continue
            extra = {"sample": k, "seed": gen.seed, "frames": int(done.frames[k].shape[0]),
                     "reference_frames": len(item), "generated_samples": len(wav),
                     "pad_or_trim": len(item.audio) - len(wav), "sample_errors": found["errors"],
                     "sample_hyps": found["hyp"]}
            samples.append(Sample(task, done.frames[k], wav, extra))
        self._score(ctx, gen.codec, row_id, item, samples, gen.backend)

    def _decode(self, codec: Codec, frames: torch.Tensor, num_samples: int, device: str) -> np.ndarray:
        tokens = self._tokens(frames, num_samples)
        with torch.inference_mode():
            wav, lengths = checked_decode(codec, tokens.to(device), exact_length=False)  # generated: any length
        out = resample(wav[0, : int(lengths[0])].float().cpu().numpy(), codec.output_sample_rate, METRIC_SAMPLE_RATE)
        if not np.all(np.isfinite(out)):
            raise ValueError("decoder produced NaN/inf")
        return out

    @staticmethod
    def _tokens(frames: torch.Tensor, num_samples: int) -> Tokens:
        """Generated frames as Tokens with the decoder's length budget (:meth:`Generation.length_budget`)."""
        return Tokens(codes=frames[None].long(), lengths=torch.tensor([frames.shape[0]]),
                      num_samples=torch.tensor([max(int(num_samples), 1)]))

    def _score(self, ctx: TaskContext, codec: Codec, row_id: ItemId, item: TTSItem, samples: list[Sample],
               backend: str) -> None:
        """Rows of the samples written for one test utterance (each metric scores them in one batch)."""
        if not samples:
            return
        rows: list[list[Row]] = []
        for sample in samples:
            seconds = len(sample.wav) / METRIC_SAMPLE_RATE
            saved = ctx.saved_audio(sample.task, row_id, sample.wav, METRIC_SAMPLE_RATE)
            tokens = self._tokens(sample.frames, sample.frames.shape[0])
            rows.append(ctx.rate_rows(sample.task, row_id, codec, tokens, seconds,
                                      {**sample.extra, "model": backend, **({"audio": saved} if saved else {})}))
        aligned = [match_length(sample.wav, len(item.audio)) for sample in samples]
        for metric in ctx.get_metrics().values():
            scores = score_batch(metric, aligned, [item.audio] * len(samples), [item.utt] * len(samples),
                                 ctx.score_cache, ctx.timer)
            for sample_rows, sample, score in zip(rows, samples, scores, strict=True):
                sample_rows += ctx.score_rows(sample.task, row_id, metric, score)
        ctx.add_rows([row for sample_rows in rows for row in sample_rows])  # sample by sample, as before


@register_task("tts_ar")
class AutoregressiveTTS(_TTS):
    """Llama-3 decoder over characters then speech tokens; best of 5 top-p samples (and the first)."""

    name = "tts_ar"
    kind = "ar"
    Options = ARTTSOptions


@register_task("tts_nar")
class NonAutoregressiveTTS(_TTS):
    """One token per character (character-aligned codecs only), bidirectional Llama, argmax."""

    name = "tts_nar"
    kind = "nar"
    Options = TTSOptions

    @classmethod
    def parse_options(cls, given: Any) -> TTSOptions:
        """The shared options only; a ``tts_ar`` sampling option is an error that says so."""
        only_ar = sorted(set(given or {}) & set(AR_ONLY))
        if only_ar:
            raise ValueError(f"task_options.{cls.name}: unknown keys {only_ar} (AR only: {', '.join(AR_ONLY)})")
        return super().parse_options(given)

    def applies(self, codec: Codec) -> bool:
        return codec.capabilities.character_aligned

    def _model(self, num_chars: int, layout: StreamLayout, speaker_dim: int, size: LlamaSize,
               tables: list[torch.Tensor] | None, dropout: float) -> NARTTS:
        return NARTTS(num_chars, StreamLayout(layout.sizes, flat=False), speaker_dim, size, dropout)

    def backend(self, opts: TTSOptions, layout: StreamLayout, steps: int, seed: int) -> str:
        return (f"{self.kind}-llama{opts.size.layers}x{opts.size.dim}:steps={steps}:seed={seed}"
                f":{opts.speaker_metric}")

    def _inputs(self, ctx: TaskContext, items: list[TTSItem], vocab: CharVocab) -> list[TTSItem]:
        """Training pairs need one character per token: the transcript when its length matches, otherwise the
        aligner's own characters (the codec's ``chars``); utterances with neither are left out (counted)."""
        kept = []
        for item in items:
            text = vocab.encode(item.text)
            if len(text) == len(item):
                item.chars = text
            elif item.token_chars is not None and len(item.token_chars) == len(item):
                item.chars = vocab.encode(item.token_chars, normalise=False)
            else:
                continue
            kept.append(item)
        if len(kept) < len(items):
            log.info("%s: %d of %d utterances have no one-to-one characters for their tokens (left out of training)",
                     ctx.codec_label, len(items) - len(kept), len(items))
        return kept

    @staticmethod
    def _collate(model: Any, batch: list[TTSItem]) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor, torch.Tensor]:
        """``chars [B, C]``, ``lengths [B]``, ``speakers [B, E]``, ``frames [B, C, K]`` on the model's device."""
        device = next(model.parameters()).device
        lengths = torch.tensor([len(i) for i in batch])
        chars = torch.zeros(len(batch), int(lengths.max()), dtype=torch.long)
        frames = torch.zeros(len(batch), int(lengths.max()), batch[0].frames.shape[1], dtype=torch.long)
        for b, item in enumerate(batch):
            chars[b, : len(item)] = item.chars if item.chars is not None else 0
            frames[b, : len(item)] = item.frames
        speakers = torch.stack([i.speaker for i in batch]).to(device)
        return chars.to(device), lengths, speakers, frames.to(device)

    def loss(self, model: Any, batch: list[TTSItem]) -> torch.Tensor:
        return model.loss(*self._collate(model, batch))

    def valid_error(self, model: Any, batches: list[list[TTSItem]]) -> float:
        rates = [rate for batch in batches for rate in model.token_error_rates(*self._collate(model, batch))]
        return sum(rates) / max(len(rates), 1)

    def _generate(self, ctx: TaskContext, gen: Generation, item: TTSItem) -> Generated:
        """One frame per character (argmax), decoded to 16 kHz audio."""
        row_id = self.row_id(item.utt.utt_id, gen.seed, gen.opts.seed_list(ctx.seed))
        try:
            chars = item.chars if item.chars is not None else torch.zeros(0, dtype=torch.long)
            with ctx.timer.stage("generate", 1), autocast(ctx.device, gen.autocast):
                frames = gen.model.generate(chars, item.speaker.to(ctx.device))
            with ctx.timer.stage("decode", 1):
                wav = self._decode(gen.codec, frames, gen.length_budget(item, frames), ctx.device)
        except Exception as err:  # noqa: BLE001 - one utterance fails alone
            return Generated(item, row_id, [], [], error=err)
        return Generated(item, row_id, [frames], [wav])

    def _write(self, ctx: TaskContext, gen: Generation, done: Generated) -> None:
        item, wav = done.item, done.audio[0] if done.audio else None
        if done.error is not None or wav is None:
            ctx.add_rows([ctx.error_row(self.name, done.row_id, "generate", done.error or "no audio")])
            return
        extra = {"seed": gen.seed, "characters": len(item.chars) if item.chars is not None else 0,
                 "generated_samples": len(wav), "pad_or_trim": len(item.audio) - len(wav)}
        self._score(ctx, gen.codec, done.row_id, item, [Sample(self.name, done.frames[0], wav, extra)], gen.backend)
