"""Random-weight stand-ins of the paper's metric assets, built offline from their real architectures
(tiny widths), each marked with ``RANDOM_WEIGHTS`` so rows computed with them are flagged."""

from __future__ import annotations

import json
from pathlib import Path

import torch

from codecbench.assets import RANDOM_MARKER


def _mark(folder: Path) -> Path:
    (folder / RANDOM_MARKER).write_text("random weights of the real architecture, tiny widths, seed 0\n")
    return folder


def tiny_whisper_ct2(out: Path, seed: int = 0) -> Path:
    """A tiny Whisper built with transformers and converted to CTranslate2 offline (a word-level
    tokenizer with Whisper's special and timestamp tokens): the folder faster-whisper loads."""
    import ctranslate2
    import transformers
    from tokenizers import Tokenizer, models, pre_tokenizers

    words = ["the", "a", "of", "and", "to", "in", "is", "it", "speech", "codec", "test", "one", "two"]
    specials = ["<|endoftext|>", "<|startoftranscript|>", "<|en|>", "<|translate|>", "<|transcribe|>",
                "<|startoflm|>", "<|startofprev|>", "<|nospeech|>", "<|notimestamps|>"]
    stamps = [f"<|{i * 0.02:.2f}|>" for i in range(1501)]
    vocab = {w: i for i, w in enumerate(words + ["[UNK]"])}
    vocab.update({token: len(words) + 1 + j for j, token in enumerate(specials + stamps)})
    tokenizer = Tokenizer(models.WordLevel(vocab, unk_token="[UNK]"))
    tokenizer.pre_tokenizer = pre_tokenizers.WhitespaceSplit()
    tokenizer.add_special_tokens(specials + stamps)
    source = out.with_name(out.name + "-transformers")
    source.mkdir(parents=True, exist_ok=True)
    tokenizer.save(str(source / "tokenizer.json"))
    eot = vocab["<|endoftext|>"]
    transformers.WhisperTokenizerFast(tokenizer_file=str(source / "tokenizer.json"), unk_token="[UNK]",
                                      bos_token="<|endoftext|>", eos_token="<|endoftext|>",
                                      pad_token="<|endoftext|>", additional_special_tokens=specials
                                      ).save_pretrained(source)
    config = transformers.WhisperConfig(
        vocab_size=len(vocab), num_mel_bins=80, d_model=32, encoder_layers=1, decoder_layers=1,
        encoder_attention_heads=2, decoder_attention_heads=2, encoder_ffn_dim=64, decoder_ffn_dim=64,
        max_source_positions=1500, max_target_positions=448, decoder_start_token_id=vocab["<|startoftranscript|>"],
        bos_token_id=eot, eos_token_id=eot, pad_token_id=eot, suppress_tokens=[], begin_suppress_tokens=[eot])
    torch.manual_seed(seed)
    model = transformers.WhisperForConditionalGeneration(config).eval()
    model.generation_config.lang_to_id = {"<|en|>": vocab["<|en|>"]}
    model.save_pretrained(source)
    transformers.WhisperFeatureExtractor(feature_size=80).save_pretrained(source)
    converter = ctranslate2.converters.TransformersConverter(
        str(source), copy_files=["tokenizer.json", "preprocessor_config.json"])
    # ctranslate2 4.3 (the authors' version) reads the language ids from a tokenizer attribute transformers 5
    # removed (additional_special_tokens_ids): the one language of this tiny model is given directly
    loader = ctranslate2.converters.transformers.WhisperLoader
    original = loader._get_lang_ids_from_tokenizer
    loader._get_lang_ids_from_tokenizer = lambda self, tokenizer: [vocab["<|en|>"]]
    try:
        converter.convert(str(out), force=True)
    finally:
        loader._get_lang_ids_from_tokenizer = original
    return _mark(out)


def tiny_wavlm_sv(out: Path, seed: int = 0) -> Path:
    """A tiny random WavLM x-vector model saved like ``microsoft/wavlm-base-sv``."""
    import transformers

    config = transformers.WavLMConfig(hidden_size=16, num_hidden_layers=1, num_attention_heads=2, intermediate_size=32,
                                      conv_dim=(8,) * 7, num_conv_pos_embeddings=16, num_conv_pos_embedding_groups=2,
                                      tdnn_dim=(8, 8, 8, 8, 16), xvector_output_dim=12, num_buckets=32,
                                      initializer_range=1.0)
    torch.manual_seed(seed)
    transformers.WavLMForXVector(config).save_pretrained(out)
    return _mark(out)


def tiny_utmos(out: Path, seed: int = 0) -> Path:
    """A tiny random UTMOS22-strong state dict in the official file name and format, with its widths."""
    from codecbench.metrics._utmos_model import UTMOS22Strong
    from codecbench.metrics.utmos import CKPT

    widths = {"ssl": 32, "ffn": 64, "heads": 2, "layers": 1, "conv": 16, "emb": 8, "rnn": 16, "proj": 32, "groups": 4}
    torch.manual_seed(seed)
    out.mkdir(parents=True, exist_ok=True)
    torch.save(UTMOS22Strong(**widths).state_dict(), out / CKPT)
    (out / "config.json").write_text(json.dumps({"widths": widths}))
    return _mark(out)
