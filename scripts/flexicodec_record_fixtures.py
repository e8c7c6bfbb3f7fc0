"""Record FlexiCodec parity fixtures from the official code (``flexicodec`` 0.1.2 on PyPI), for the in-tree
implementation to replay (issue 29).

Runs only in a separate environment, never in this project's: the official package imports torchaudio's compiled
part, descript-audiotools and funasr, which cannot live beside ``torch==2.13.0`` (measured here: a venv with
``flexicodec==0.1.2 torch==2.5.1 torchaudio==2.5.1`` installs in ~3 min, 6.2 GB, and imports)::

    python3 -m venv /tmp/flexenv
    /tmp/flexenv/bin/pip install flexicodec==0.1.2 torch==2.5.1 torchaudio==2.5.1
    /tmp/flexenv/bin/python scripts/flexicodec_record_fixtures.py OUT_DIR [--clips ../shared/data]

Nothing is downloaded: the official FlexiCodec is built at a small size (the real architecture: SenseVoice-Small
SANM encoder, DAC encoder / decoder, FSQ semantic quantizer, RVQ acoustic quantizer, query-token aggregators,
bottleneck transformer), SenseVoice from the package's own ``customized_sensevoice`` classes instead of funasr's
``AutoModel`` loader (which needs the Hub folder), and every parameter set by ``codecbench/codecs/_blocks/seeded.py``
from its name and a seed: the in-tree model gets the same weights the same way, so no state dict is stored.
OUT_DIR receives ``config.json`` (the constructor arguments), ``cases.safetensors`` (inputs, intermediate tensors
and outputs per merging threshold) and ``manifest.json`` (versions, the seed, the thresholds, the official state
dict's keys and shapes, what each tensor is).
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import sys
from importlib import metadata
from pathlib import Path
from types import SimpleNamespace

ROOT = Path(__file__).resolve().parents[1]

#: the official model_config.yaml, shrunk where the size is free (layers, widths); every switch kept
CONFIG = {
    "sample_rate": 16000, "encoder_dim": 8, "encoder_rates": [4, 4, 5, 8, 2], "decoder_dim": 32,
    "decoder_rates": [2, 8, 5, 4, 4], "n_codebooks": 24, "quantizer_dropout": 1.0, "codebook_size": 4096,
    "semantic_codebook_size": 32768, "is_causal": False, "use_similarity_alignment": True,
    "similarity_threshold": 0.91, "semantic_downsample_factor": 1.33333, "skip_normalize": True,
    "semantic_model_type": "sensevoice", "latent_dim": 64, "ssl_dim": 512, "use_bottleneck_transformer": True,
    "transformer_num_layers": 2, "transformer_dim": 64, "transformer_dim_feedforward": 128,
    "transformer_num_heads": 4, "transformer_causal": False, "transformer_context_frames": 16,
    "max_tokens_per_group": 8, "semantic_model_path": None, "use_query_token_aggregator": True,
    "agg_transformer_num_layers": 1, "agg_transformer_dim": 64, "agg_transformer_num_heads": 4,
    "agg_transformer_dim_feedforward": 128, "use_dynamic_similarity_threshold": True,
    "similarity_threshold_lower": 0.8, "similarity_threshold_upper": 1.0, "convnext_dim": 64, "convnext_layers": 2,
    "fsq_config": {"levels": [8, 8, 8, 8, 8]},
}
#: SenseVoice-Small's encoder (SenseVoiceEncoderSmall), shrunk: 512 wide as FlexiCodec expects (ssl_dim)
SENSEVOICE = {"encoder": "SenseVoiceEncoderSmall", "input_size": 560, "vocab_size": 64,
              "encoder_conf": {"output_size": 512, "attention_heads": 4, "linear_units": 256, "num_blocks": 3,
                               "tp_blocks": 1, "kernel_size": 11, "sanm_shfit": 0}}
#: the official README: 1.0 no merging (12.5 Hz), 0.91 ~8.3 Hz, 0.86 ~6.25 Hz (with the real weights); with seeded
#: weights frames are less alike, so quantiles of the recorded similarities are added, and -1.0 (merge everything:
#: only max_tokens_per_group splits)
OFFICIAL_THRESHOLDS = (1.0, 0.91, 0.86)
QUANTILES = (0.25, 0.5, 0.75)
CLIPS = ("84-121123-0001", "p225_011")  # from ../shared/data, cut to 3 s and 2.2 s
SEED = 0


README = """# FlexiCodec parity fixtures (small model, official code, seeded weights)

Data only, made by `scripts/flexicodec_record_fixtures.py` running the **official** package in its own venv
({versions}; CPU, one thread, deterministic algorithms). The official `FlexiCodec` class was built at a small
size (`config.json`), SenseVoice from the package's `customized_sensevoice` classes, every parameter set by
`codecbench/codecs/_blocks/seeded.py` from its name and seed {seed} (so no state dict is stored: the in-tree model is
given the same weights the same way). `manifest.json` lists the official state dict's keys and shapes.

`cmvn`: the feature shift and scale of the package's am.mvn (SenseVoice's). The fbank is computed without dither
(the official FBankGen keeps funasr's dither 1.0, which makes features random).
Per clip `caseN` (two real clips of ../shared/data, 3 s and 2.2 s): `audio`, `fbank` (SenseVoice's LFR fbank),
`semantic_repr` (SenseVoice hidden states, [512, T]), `dac_latent` (the DAC encoder), `similarity` (consecutive
frames' cosine similarity at 12.5 Hz); per merging threshold `tX` ({thresholds}; the official ones and, because
seeded frames are less alike than trained ones, quantiles of the similarities, and -1 where only
max_tokens_per_group splits): `alignment`, `token_lengths`, `semantic_codes`, `acoustic_codes` (7 RVQ layers
after the semantic one: 8 quantizers), `decoder_latent` and `decoded` (decode_from_codes).
"""


def _sensevoice_loader(**_: object) -> SimpleNamespace:
    """Stands in for ``funasr.AutoModel``: the official SenseVoiceSmall class, built from SENSEVOICE."""
    from flexicodec.customized_sensevoice.model import SenseVoiceSmall

    return SimpleNamespace(model=SenseVoiceSmall(**SENSEVOICE))


def _seeded():  # codecbench/codecs/_blocks/seeded.py by path: this environment has no codecbench package
    spec = importlib.util.spec_from_file_location("flexicodec_seeded", ROOT / "codecs" / "_blocks" / "seeded.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _clips(folder: Path) -> list:
    import soundfile as sf
    import torch

    out = []
    for utt, seconds in zip(CLIPS, (3.0, 2.2), strict=True):
        path = next(folder.rglob(f"{utt}.*"))
        audio, rate = sf.read(path, dtype="float32")
        assert rate == 16000, (path, rate)
        out.append(torch.from_numpy(audio[: int(seconds * rate)]))
    return out


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("out", type=Path)
    parser.add_argument("--clips", type=Path, default=Path(__file__).resolve().parents[2] / "shared" / "data")
    args = parser.parse_args()

    import flexicodec.modeling_flexicodec as official
    import safetensors.torch
    import torch
    from flexicodec.feature_extractors import FBankGen

    official.AutoModel = _sensevoice_loader  # build SenseVoice from the package's classes, no Hub folder
    torch.set_num_threads(1)
    torch.use_deterministic_algorithms(True)
    torch.manual_seed(SEED)
    model = official.FlexiCodec(**CONFIG).eval()
    _seeded().seed_parameters(model, SEED)
    frontend = FBankGen(sr=16000)
    frontend.frontend.dither = 0.0  # the official FBankGen dithers (funasr's default 1.0): random features otherwise
    tensors: dict[str, torch.Tensor] = {"cmvn": frontend.frontend.cmvn}  # SenseVoice's am.mvn: shift and scale
    clips = _clips(args.clips)
    sims = []
    for i, audio in enumerate(clips):
        feats, _ = frontend.extract_fbank(audio[None])
        tensors[f"case{i}.audio"] = audio
        tensors[f"case{i}.fbank"] = feats[0]
        with torch.no_grad():
            semantic = model({"audio": audio[None], "x": feats}, encode_only=True, return_semantic_feature=True)
            tensors[f"case{i}.semantic_repr"] = semantic[0]
            tensors[f"case{i}.dac_latent"] = model.dac.encoder(model.dac.preprocess(audio[None, None], 16000))[0]
            out = model({"audio": audio[None], "x": feats, "num_quantizers": 8, "manual_threshold": 1.0},
                        encode_only=True)
            tensors[f"case{i}.similarity"] = out["sim"][0]
            sims.append(out["sim"][0])
    every = torch.cat(sims)
    thresholds = [*OFFICIAL_THRESHOLDS, *(round(float(every.quantile(q)), 4) for q in QUANTILES), -1.0]
    for i, audio in enumerate(clips):
        feats = tensors[f"case{i}.fbank"][None]
        with torch.no_grad():
            for threshold in thresholds:
                key = f"case{i}.t{threshold}"
                out = model({"audio": audio[None], "x": feats, "num_quantizers": 8, "manual_threshold": threshold},
                             encode_only=True)
                tensors[f"{key}.alignment"] = out["alignment_matrix"][0]
                tensors[f"{key}.token_lengths"] = out["token_lengths"][0]
                tensors[f"{key}.semantic_codes"] = out["semantic_codes"][0]
                tensors[f"{key}.acoustic_codes"] = out["acoustic_codes"][0]
                tensors[f"{key}.decoder_latent"] = out["decoder_latent"][0]
                audio_out = model.decode_from_codes(out["semantic_codes"], out["acoustic_codes"], out["token_lengths"])
                tensors[f"{key}.decoded"] = audio_out[0, 0]
    args.out.mkdir(parents=True, exist_ok=True)
    state = model.state_dict()
    safetensors.torch.save_file({k: v.contiguous() for k, v in tensors.items()}, args.out / "cases.safetensors")
    (args.out / "config.json").write_text(json.dumps({"flexicodec": CONFIG, "sensevoice": SENSEVOICE}, indent=2))
    versions = {p: metadata.version(p) for p in ("flexicodec", "torch", "torchaudio", "funasr")}
    manifest = {"recorded_with": versions, "python": sys.version.split()[0], "seed": SEED, "clips": list(CLIPS),
                "thresholds": thresholds, "num_quantizers": 8,
                "state_dict": {k: list(v.shape) for k, v in state.items()},
                "parameters": sum(p.numel() for p in model.parameters()),
                "tensors": {k: list(v.shape) for k, v in sorted(tensors.items())}}
    (args.out / "manifest.json").write_text(json.dumps(manifest, indent=2))
    (args.out / "README.md").write_text(README.format(versions=", ".join(f"{k} {v}" for k, v in versions.items()),
                                                      thresholds=thresholds, seed=SEED))
    print(f"{len(tensors)} tensors, {manifest['parameters']:,} parameters -> {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
