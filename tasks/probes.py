"""Probes on frozen tokens (Table 4): ASR (CTC over characters), speaker ID and emotion recognition.

Each task encodes its dataset once (token cache), splits it (``labels["split"]`` when the
adapter provides one, otherwise a seeded 80/10/10 split, per speaker for speaker ID), trains a
:class:`bench.tasks._probe_model.TokenProbe` with the paper's recipe (resumable checkpoints under the run
directory), and writes one row per test utterance. Settings come from ``task_options`` in the
config (``max_epochs``, ``max_steps``, ``batch_size``, ``lr``, ``patience``; ``hidden`` and ``layers`` size the
BiLSTM: the paper's 2 x 512 by default, smaller only for smoke runs and CI, and named in every row's backend).

Variable-rate codecs can produce fewer tokens than CTC needs for a transcript; such utterances
are counted (``ctc_infeasible`` rows), left out of the CTC loss, and still scored.
"""

from __future__ import annotations

import dataclasses
import logging
import re
from dataclasses import dataclass, field
from typing import Annotated, Literal

import torch

from bench.audio import AudioError, load_audio, resample, validate
from bench.codec import Codec, codebook_tables
from bench.datasets import Utterance
from bench.diskcache import make_key
from bench.metric import MetricOutput
from bench.names import file_name
from bench.options import PositiveInt, Range
from bench.registry import register_task
from bench.rows import WHOLE
from bench.store import Row
from bench.task import Task, TaskContext, cached_encode, codec_flags
from bench.text import word_errors

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
    """A SentencePiece BPE vocabulary trained on the training transcripts (id 0 is the blank)."""

    def __init__(self, transcripts: list[str], folder, vocab_size: int = 1000) -> None:
        try:
            import sentencepiece as spm
        except ModuleNotFoundError as err:
            raise ModuleNotFoundError("BPE targets need sentencepiece: pip install "
                                      "'speech-tokenizer-bench[probes]'") from err
        folder.mkdir(parents=True, exist_ok=True)
        prefix = folder / f"bpe{vocab_size}"
        if not prefix.with_suffix(".model").is_file():
            corpus = folder / "train_text.txt"
            corpus.write_text("\n".join(normalise(t) for t in transcripts) + "\n")
            spm.SentencePieceTrainer.train(input=str(corpus), model_prefix=str(prefix), vocab_size=vocab_size,
                                           model_type="bpe", character_coverage=1.0, hard_vocab_limit=False,
                                           bos_id=-1, eos_id=-1, unk_id=0, num_threads=1,
                                           minloglevel=2)
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


@dataclass(frozen=True)
class ASRProbeOptions(ProbeOptions):
    """``task_options.asr_probe``: CTC targets as characters or a BPE vocabulary (its size, per codec label)."""

    tokenizer: Literal["chars", "bpe"] = "chars"
    vocab_size: Annotated[int, Range(2)] = 1000
    #: codec label -> size (the paper: 500 for Mimi)
    vocab_sizes: dict[str, Annotated[int, Range(2)]] = field(default_factory=dict)


@dataclass(frozen=True)
class SpeakerIDOptions(ProbeOptions):
    """``task_options.si_probe``: the split rule (``sequential``: the authors')."""

    split: Literal["sequential", "hashed"] = "sequential"


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
        ckpt = (ctx.store.run_dir / "probes" / file_name(ctx.codec_label) / self.name / file_name(ctx.dataset)
                / setup / "ckpt.pt")
        text = self.text_codec(ctx, [str(i.target) for i in by_split["train"]], ckpt.parent)
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
                           "ctc" if self.kind == "ctc" else "classify", codebook_tables(codec),
                           hidden=opts.hidden, layers=opts.layers)
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
                audio = validate(load_audio(utt.path, ctx.max_seconds), max_seconds=ctx.max_seconds)
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
        backend = (f"bilstm{ctx.options.layers}x{ctx.options.hidden}:{text.name}:epochs={epochs}"
                   f":seed={cfg.seed}")
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
        """``split: sequential`` (default), the authors' rule (lucadellalib/audiocodecs
        ``downstream/datasets/librispeech.py``, ``prepare_data`` with ``ratios: [0.8, 0.1, 0.1]``,
        ``hparams/datasets/librispeech-460-spk.yaml``): within each subset folder, each speaker's files in path
        order, the first ``int(0.8 n)`` train, the next ``int(0.1 n)`` valid, the rest test (their speaker
        shuffle only orders the output). ``split: hashed``: a seeded 80/10/10 draw per utterance (not the paper's)."""
        if ctx.options.split == "hashed":
            return super().splits(usable, ctx)
        groups: dict[tuple[str, str], list[Utterance]] = {}
        for utt in usable:
            groups.setdefault((utt.labels.get("subset", ""), utt.speaker or ""), []).append(utt)
        out: dict[str, str] = {}
        for members in groups.values():
            ordered = sorted(members, key=lambda u: (str(u.path), u.utt_id))
            n_train, n_valid = int(0.8 * len(ordered)), int(0.1 * len(ordered))
            for k, utt in enumerate(ordered):
                out[utt.utt_id] = "train" if k < n_train else ("valid" if k < n_train + n_valid else "test")
        return out

    def target_of(self, utt: Utterance) -> str | None:
        return utt.speaker


@register_task("ser_probe")
class EmotionProbe(_Probe):
    """Emotion recognition from ``labels["emotion"]`` (IEMOCAP: neu/hap/ang/sad); error rate."""

    name, kind, metric = "ser_probe", "classify", "ser_er"
    outputs = (MetricOutput("ser_er", "SER ER", False, "mean", 100.0, 2, order=70),)

    def target_of(self, utt: Utterance) -> str | None:
        return utt.labels.get("emotion")
