"""Probes on frozen tokens (Table 4): ASR (CTC over characters), speaker ID and emotion recognition.

Each task encodes its dataset once (token cache), splits it (``labels["split"]`` when the
adapter provides one, otherwise a seeded 80/10/10 split, per speaker for speaker ID), trains a
:class:`codecbench.tasks._probe_model.TokenProbe` with the paper's recipe (resumable checkpoints under the run
directory), and writes one row per test utterance. Settings come from ``task_options`` in the
config (``max_epochs``, ``max_steps``, ``batch_size``, ``lr``, ``patience``; ``hidden`` and ``layers`` size the
BiLSTM: the paper's 2 x 512 by default, smaller only for smoke runs and CI, and named in every row's backend).

Variable-rate codecs can produce fewer tokens than CTC needs for a transcript; such utterances
are counted (``ctc_infeasible`` rows), left out of the CTC loss, and still scored.
"""

from __future__ import annotations

import dataclasses
import logging
import random
import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Annotated, Literal

import torch

from codecbench.api import (
    WHOLE,
    AudioError,
    Codec,
    MetricOutput,
    PositiveInt,
    Range,
    Row,
    Task,
    TaskContext,
    Utterance,
    cached_encode,
    codebook_tables,
    codec_flags,
    file_name,
    load_audio,
    make_key,
    register_task,
    resample,
    validate_audio,
    word_errors,
)

from ._probe_model import ProbeItem, TokenProbe, TrainConfig, ctc_feasible, greedy_ctc, train
from ._splits import corpus_split, default_split
from ._training import BatchOrder, TrainOptions

CHARS = " 'abcdefghijklmnopqrstuvwxyz"  # ids 1..28; 0 is the CTC blank
log = logging.getLogger(__name__)


def encode_text(text: str) -> torch.Tensor:
    return torch.tensor([CHARS.index(c) + 1 for c in normalise(text)], dtype=torch.long)


def decode_text(ids: list[int]) -> str:
    return "".join(CHARS[i - 1] for i in ids if 0 < i <= len(CHARS))


def normalise(text: str) -> str:
    return re.sub(r"\s+", " ", "".join(c for c in text.lower() if c in CHARS)).strip()


class CharText:
    """Characters (a-z, apostrophe, space) as CTC targets; id 0 is the blank."""

    name = "chars"
    size = len(CHARS) + 1

    def encode(self, text: str) -> torch.Tensor:
        return encode_text(text)

    def decode(self, ids: list[int]) -> str:
        return decode_text(ids)


class BPEText:
    """A SentencePiece BPE vocabulary trained on every training transcript, in path order (the authors' train.csv,
    before any filtering); id 0 is the blank. The text is lower-cased a-z, ``'`` and space (a bijection of
    LibriSpeech's upper-case transcripts, so the merges are theirs up to case)."""

    def __init__(self, transcripts: list[str], folder, vocab_size: int = 1000) -> None:
        try:
            import sentencepiece as spm
        except ModuleNotFoundError as err:
            raise ModuleNotFoundError("BPE targets need sentencepiece: pip install "
                                      "'codecbench[probes]'") from err
        folder.mkdir(parents=True, exist_ok=True)
        prefix = folder / f"bpe{vocab_size}"
        if not prefix.with_suffix(".model").is_file():
            corpus = folder / "train_text.txt"
            corpus.write_text("\n".join(normalise(t) for t in transcripts) + "\n")
            # the authors' SpeechBrain SentencePiece call: BPE, character coverage 1.0, pieces of at most 10
            # characters, a hard vocabulary size, no bos / eos / pad, unk 0 (its query string)
            spm.SentencePieceTrainer.train(input=str(corpus), model_prefix=str(prefix), vocab_size=vocab_size,
                                           model_type="bpe", character_coverage=1.0, max_sentencepiece_length=10,
                                           bos_id=-1, eos_id=-1, pad_id=-1, unk_id=0, add_dummy_prefix=True,
                                           num_threads=1, minloglevel=2)
        self._sp = spm.SentencePieceProcessor(model_file=str(prefix.with_suffix(".model")))
        self.size = self._sp.get_piece_size() + 1
        self.name = f"bpe{self._sp.get_piece_size()}"

    def encode(self, text: str) -> torch.Tensor:
        return torch.tensor([i + 1 for i in self._sp.encode(normalise(text))], dtype=torch.long)

    def decode(self, ids: list[int]) -> str:
        return self._sp.decode([i - 1 for i in ids if i > 0])


@dataclass(frozen=True)
class ProbeOptions(TrainOptions):
    """``task_options.<probe>``: the optimiser and schedule, the batch order and the BiLSTM's size."""

    autocast: bool = False  # the paper's probes train in fp32
    batch_order: BatchOrder = "ascending"
    hidden: PositiveInt = 512  # the paper's 2 x 512 BiLSTM; smaller only for smoke runs and CI (named in the backend)
    layers: PositiveInt = 2
    pooling: Literal["linear", "softmax"] = "linear"  # the authors' LinearPooling, or a softmax-weighted sum
    lstm_init: Literal["speechbrain", "torch"] = "speechbrain"  # SpeechBrain's orthogonal recurrent weights, or torch's
    #: codebook tables the embeddings start from: the codec's (paper D.3: "initialized using the discrete
    #: embeddings"), or ``random`` (N(0, 1), as ``pretrain_embeddings: False`` in the authors' hparams)
    embedding_init: Literal["codec", "random"] = "codec"


@dataclass(frozen=True)
class ASRProbeOptions(ProbeOptions):
    """``task_options.asr_probe``: CTC targets as characters or a BPE vocabulary (its size, per codec label)."""

    tokenizer: Literal["chars", "bpe"] = "chars"
    vocab_size: Annotated[int, Range(2)] = 1000
    #: codec label -> size (the paper: 500 for Mimi)
    vocab_sizes: dict[str, Annotated[int, Range(2)]] = field(default_factory=dict)


@dataclass(frozen=True)
class SpeakerIDOptions(ProbeOptions):
    """``task_options.si_probe``: the split rule (``authors``: the rule that made the paper's numbers)."""

    split: Literal["authors", "sequential", "hashed"] = "authors"


def _width(codec: Codec) -> int:
    """The embedding width: the codec's tables' (the authors' ``embedding_dim`` is their codebook width), else 128."""
    tables = codebook_tables(codec)
    return int(tables[0].shape[1]) if tables else 128


class _Probe(Task):
    """Shared flow: select -> encode -> split -> train -> score the test split."""

    kind = "classify"
    metric = ""
    trains = True
    Options = ProbeOptions

    def target_of(self, utt: Utterance) -> str | None:
        raise NotImplementedError

    def split_of(self, utt: Utterance, seed: int) -> str:
        return default_split(utt, seed)

    def splits(self, usable: list[Utterance], ctx: TaskContext) -> dict[str, str]:
        """Utterance id -> ``train`` / ``valid`` / ``test``."""
        return {u.utt_id: self.split_of(u, ctx.seed) for u in usable}

    def run(self, ctx: TaskContext) -> None:
        usable = sorted((u for u in ctx.utterances if self.target_of(u)), key=lambda u: u.utt_id)  # order-free
        if not usable:
            log.warning("%s on %s: no utterance has the labels it needs", self.name, ctx.dataset)
            return
        splits = self.splits(usable, ctx)
        usable = [u for u in usable if splits[u.utt_id] != "unused"]  # files a split rule leaves out
        tests = [u for u in usable if splits[u.utt_id] == "test"]
        if not ctx.missing(self.name, WHOLE, [self.metric]):  # a dataset-level error row
            return
        if tests and not any(ctx.missing(self.name, u.utt_id, [self.metric]) for u in tests):
            return
        codec = ctx.get_codec()
        items = self._encode(ctx, codec, usable)
        classes = sorted({str(self.target_of(u)) for u in usable if u.utt_id in items})
        by_split = {name: [items[u.utt_id] for u in usable if u.utt_id in items and splits[u.utt_id] == name]
                    for name in ("train", "valid", "test")}
        if not by_split["train"] or not by_split["test"]:
            message = (f"{self.name} on {ctx.dataset}: need train and test utterances "
                       f"(got {len(by_split['train'])} / {len(by_split['test'])})")
            ctx.add_rows([ctx.error_row(self.name, WHOLE, "split", message)])
            return
        opts: ProbeOptions = ctx.options
        cfg = opts.train_config(ctx.seed, ctx.device)
        setup = make_key("probe", ctx.variant, ctx.setups.get("-", ""), ctx.codec_key(codec), codec.codebook_sizes,
                         sorted(i.utt_id for i in by_split["train"]))[:10]
        ckpt = (ctx.run_dir / "probes" / file_name(ctx.codec_label) / self.name / file_name(ctx.dataset)
                / setup / "ckpt.pt")
        train_texts = [str(self.target_of(u)) for u in sorted(usable, key=lambda u: (str(u.path), u.utt_id))
                       if splits[u.utt_id] == "train"]  # every training transcript, in path order
        text = self.text_codec(ctx, train_texts, ckpt.parent)
        for split_items in by_split.values():
            for item in split_items:
                label = item.target
                item.target = text.encode(label) if self.kind == "ctc" else classes.index(label)
        infeasible = {i.utt_id for s in by_split.values() for i in s
                      if self.kind == "ctc" and not ctc_feasible(len(i.codes), i.target)}
        train_items = [i for i in by_split["train"] if i.utt_id not in infeasible]
        valid_items = [i for i in by_split["valid"] if i.utt_id not in infeasible] or train_items
        torch.manual_seed(ctx.seed)
        model = TokenProbe(codec.codebook_sizes, text.size if self.kind == "ctc" else len(classes),
                           "ctc" if self.kind == "ctc" else "classify",
                           codebook_tables(codec) if opts.embedding_init == "codec" else None,
                           embedding_dim=_width(codec), hidden=opts.hidden, layers=opts.layers, pooling=opts.pooling,
                           lstm_init=opts.lstm_init)
        def valid_error(trained: torch.nn.Module) -> float:
            """The validation error rate (corpus WER, or classification error) the authors pick the epoch by."""
            counts = [self._errors(trained, item, text, cfg.device)[:2] for item in valid_items]
            return sum(e for e, _ in counts) / max(sum(n for _, n in counts), 1)

        with ctx.timer.stage("train", len(train_items)):
            state = train(model, train_items, valid_items, cfg, ckpt,
                          progress=f"{self.name} train {ctx.codec_label}" if ctx.progress else False,
                          score=valid_error, order=opts.batch_order)
        self._score(ctx, model, by_split["test"], infeasible, classes, cfg, state.epoch, text, codec_flags(codec))

    def text_codec(self, ctx: TaskContext, transcripts: list[str], folder) -> "CharText | BPEText":
        return CharText()

    def _encode(self, ctx: TaskContext, codec: Codec, utts: list[Utterance]) -> dict[str, ProbeItem]:
        items = {}
        key = ctx.codec_key(codec)
        for utt in utts:
            try:
                audio = validate_audio(load_audio(utt.path, ctx.max_seconds), max_seconds=ctx.max_seconds)
                wav = resample(audio.samples, audio.sample_rate, codec.sample_rate)
                (tokens,) = cached_encode(codec, key, [wav], ctx.token_cache, ctx.device, ctx.timer)
            except (AudioError, RuntimeError, ValueError) as err:
                ctx.add_rows([ctx.error_row(self.name, utt.utt_id, "encode", err)])
                continue
            codes = tokens.codes[0, : int(tokens.lengths[0])].long()
            items[utt.utt_id] = ProbeItem(utt.utt_id, codes, self.target_of(utt), audio.duration)
        return items

    @torch.no_grad()
    def _score(self, ctx: TaskContext, model: TokenProbe, tests: list[ProbeItem], infeasible: set[str],
               classes: list[str], cfg: TrainConfig, epochs: int, text: "CharText | BPEText",
               flags: dict) -> None:
        model.eval()
        rows: list[Row] = []
        opts = ctx.options
        backend = (f"bilstm{opts.layers}x{opts.hidden}:{text.name}:{opts.pooling}:{opts.lstm_init}"
                   f":emb={opts.embedding_init}:epochs={epochs}:seed={cfg.seed}")
        for item in tests:
            errors, words, hyp = self._errors(model, item, text, cfg.device)
            if self.kind == "ctc":
                ref = text.decode(item.target.tolist()).split()
                rows.append(ctx.row(self.name, item.utt_id, self.metric, value=100.0 * errors / words,
                                    num=errors, den=words, backend=backend,
                                    extra={"hyp": " ".join(hyp), "ref": " ".join(ref), **flags}))
                rows.append(ctx.row(self.name, item.utt_id, "ctc_infeasible",
                                    value=float(item.utt_id in infeasible), backend=backend))
            else:
                rows.append(ctx.row(self.name, item.utt_id, self.metric, value=float(errors),
                                    backend=backend, extra={"predicted": classes[int(hyp[0])],
                                                            "label": classes[int(item.target)], **flags}))
        ctx.add_rows(rows)

    @torch.no_grad()
    def _errors(self, model: torch.nn.Module, item: ProbeItem, text: "CharText | BPEText",
                device: str) -> tuple[int, int, list[str]]:
        """One item's errors, reference size and hypothesis: word errors of the greedy CTC transcript against
        the reference words (ASR), or 1 / 0 for a wrong / right class out of 1 (the hypothesis: its index)."""
        out = model(item.codes[None].to(device), torch.tensor([len(item.codes)]))
        if self.kind == "ctc":
            hyp = text.decode(greedy_ctc(out[0], len(item.codes))).split()
            ref = text.decode(item.target.tolist()).split()
            return word_errors(ref, hyp), max(len(ref), 1), hyp
        predicted = int(out[0].argmax())
        return int(predicted != item.target), 1, [str(predicted)]


@register_task("asr_probe")
class ASRProbe(_Probe):
    """CTC over characters on frozen tokens; corpus WER on the test split."""

    name, kind, metric = "asr_probe", "ctc", "asr_wer"
    outputs = (MetricOutput("asr_wer", "ASR WER", False, "ratio", 100.0, 2, order=50),
               MetricOutput("ctc_infeasible", "CTC infeasible (%)", None, "mean", 100.0, 1, order=80))
    Options = ASRProbeOptions

    def text_codec(self, ctx: TaskContext, transcripts: list[str], folder) -> CharText | BPEText:
        """``task_options.asr_probe.tokenizer``: ``chars`` (default) or ``bpe`` (``vocab_size``, 1000;
        ``vocab_sizes: {codec label: size}`` per codec, e.g. the paper's 500 for Mimi)."""
        opts: ASRProbeOptions = ctx.options
        if opts.tokenizer == "chars":
            return CharText()
        return BPEText(transcripts, folder, opts.vocab_sizes.get(ctx.codec_label, opts.vocab_size))

    def split_of(self, utt: Utterance, seed: int) -> str:
        """LibriSpeech folders decide (train-* / dev-* / test-*); otherwise a seeded 80/10/10 split."""
        return corpus_split(utt, seed)

    def target_of(self, utt: Utterance) -> str | None:
        return utt.text if utt.text and len(encode_text(utt.text)) else None


@register_task("si_probe")
class SpeakerIDProbe(_Probe):
    """Speaker identification (statistics pooling + linear); error rate on the test split."""

    name, kind, metric = "si_probe", "classify", "si_er"
    outputs = (MetricOutput("si_er", "SI ER", False, "mean", 100.0, 2, order=60),)
    Options = SpeakerIDOptions

    def split_of(self, utt: Utterance, seed: int) -> str:
        """Hashed: utterances of every speaker split 80/10/10 (seeded), whatever folder they come from."""
        return default_split(dataclasses.replace(utt, labels={}), seed, utt.speaker or "")

    def splits(self, usable: list[Utterance], ctx: TaskContext) -> dict[str, str]:
        """Train / valid / test of every utterance of the dataset, 80/10/10 per speaker of each subset folder.

        ``split: authors`` (default) is lucadellalib/audiocodecs ``downstream/datasets/librispeech.py``
        ``prepare_data`` with ``ratios: [0.8, 0.1, 0.1]`` (``hparams/datasets/librispeech-460-spk.yaml``), the
        rule that made the paper's numbers, defect included: per subset folder (in name order, as their config lists
        them: train-clean-100, then train-clean-360), the speakers
        in path order are shuffled with Python's ``random`` seeded 0 once (their module-level ``random.seed(0)``;
        the second folder's shuffle continues the first's state); each speaker's files in path order give the first
        ``int(0.8 n)`` to train and the next ``int(0.1 n)`` to valid, but the test list holds only the first
        ``r`` remaining files of each speaker, ``r`` the remainder of the first speaker after the shuffle (their
        loop appends the remainder list once per speaker and reads the first); the rest is left out.
        ``split: sequential``: every remaining file to test (the 80/10/10 the code means). ``split: hashed``: a
        seeded 80/10/10 draw per utterance (not the paper's)."""
        if ctx.options.split == "hashed":
            return super().splits(usable, ctx)
        return speaker_splits(usable, authors=ctx.options.split == "authors")

    def target_of(self, utt: Utterance) -> str | None:
        return utt.speaker


def speaker_splits(utterances: Sequence[Utterance], authors: bool) -> dict[str, str]:
    """``{utt_id: train | valid | test | unused}`` by :meth:`SpeakerIDProbe.splits`'s rules (``authors``: with the
    authors' shuffle and remainder cap; a file the cap leaves out is ``unused``)."""
    subsets: dict[str, list[Utterance]] = {}
    for utt in utterances:
        subsets.setdefault(utt.labels.get("subset", ""), []).append(utt)
    rng = random.Random(0)  # their random.seed(0) at import, one shuffle per subset folder in order
    out: dict[str, str] = {}
    for _, members in sorted(subsets.items()):  # train-clean-100, then train-clean-360, as their config lists them
        ordered = sorted(members, key=lambda u: (str(u.path), u.utt_id))
        by_speaker: dict[str, list[Utterance]] = {}
        for utt in ordered:
            by_speaker.setdefault(utt.speaker or "", []).append(utt)
        speakers = list(by_speaker)
        cap = None
        if authors:
            rng.shuffle(speakers)
            first = len(by_speaker[speakers[0]])
            cap = first - int(0.8 * first) - int(0.1 * first)
        for speaker in speakers:
            files = by_speaker[speaker]
            n_train, n_valid = int(0.8 * len(files)), int(0.1 * len(files))
            n_test = len(files) - n_train - n_valid if cap is None else min(cap, len(files) - n_train - n_valid)
            for k, utt in enumerate(files):
                out[utt.utt_id] = ("train" if k < n_train else "valid" if k < n_train + n_valid
                                   else "test" if k < n_train + n_valid + n_test else "unused")
    return out


@register_task("ser_probe")
class EmotionProbe(_Probe):
    """Emotion recognition from ``labels["emotion"]`` (IEMOCAP: neu/hap/ang/sad); error rate."""

    name, kind, metric = "ser_probe", "classify", "ser_er"
    outputs = (MetricOutput("ser_er", "SER ER", False, "mean", 100.0, 2, order=70),)

    def target_of(self, utt: Utterance) -> str | None:
        return utt.labels.get("emotion")
