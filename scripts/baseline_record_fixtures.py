"""Record parity fixtures of the paper's baselines from the code the authors ran (issue 39, item 8), for the
in-tree or library ports this harness runs to replay (``codecbench parity <family> DIR``).

The authors' harness (lucadellalib/audiocodecs ``audiocodecs/*.py``) runs BigCodec and WavTokenizer through their
git forks, DAC through ``descript-audio-codec`` and EnCodec / Mimi through transformers 4.46.3; this harness runs
in-tree re-implementations or another transformers version. Each family below builds the authors' model in its
own environment (never this project's), sets every parameter by ``codecbench/codecs/_blocks/seeded.py`` from its name
and a
seed (no checkpoint is downloaded; no state dict is stored), runs the authors' wrapper steps on two clips of
``../shared/data`` and writes::

    OUT_DIR/cases.safetensors   inputs, codes and decoded audio per clip (and the official module's buffers)
    OUT_DIR/manifest.json       family, versions, seed, the wrapper steps, the official parameters' names and shapes

Environments (measured here; torch 2.13.0 is this machine's local CPU wheel)::

    python3 -m venv /tmp/recenv && /tmp/recenv/bin/pip install torch==2.13.0 einops numpy safetensors soundfile soxr
    # bigcodec: the fork lucadellalib/BigCodec@c6a85c4 (pip install --no-deps <its checkout>)
    /tmp/recenv/bin/python scripts/baseline_record_fixtures.py bigcodec tests/fixtures/bigcodec_parity
    # wavtokenizer: the fork lucadellalib/WavTokenizer@acf74fb (pip install --no-deps <its checkout>), with
    # pyyaml scipy huggingface_hub and torchaudio --no-deps with its compiled libraries (torchaudio/lib/*.so)
    # moved away: PyPI's torchaudio cannot load them beside this torch, and the model needs only its Python parts
    /tmp/recenv/bin/python scripts/baseline_record_fixtures.py wavtokenizer tests/fixtures/wavtokenizer_parity
    # encodec, mimi: transformers 4.46.3 (the authors' environment.yml), in its own venv beside torch 2.13.0
    python3 -m venv /tmp/hf446env && /tmp/hf446env/bin/pip install torch==2.13.0 && \
        /tmp/hf446env/bin/pip install transformers==4.46.3 safetensors soundfile soxr numpy
    /tmp/hf446env/bin/python scripts/baseline_record_fixtures.py encodec tests/fixtures/encodec_parity
    # dac: descript-audio-codec 1.0.0 and descript-audiotools --no-deps in /tmp/recenv, with what they import
    # (flatten_dict julius ffmpy importlib_resources rich tensorboard randomname argbind; audiotools' protobuf<3.20
    # pin can be ignored: nothing the model runs uses protobuf)
    /tmp/recenv/bin/python scripts/baseline_record_fixtures.py dac tests/fixtures/dac_parity
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import platform
import sys
from importlib import metadata
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
SEED = 0
#: two clips of ../shared/data, cut to lengths that are no whole number of frames of any codec here
CLIPS = (("84-121123-0001", 20_851), ("p225_011", 14_437))


def _seeded():
    spec = importlib.util.spec_from_file_location("seeded", ROOT / "codecs" / "_blocks" / "seeded.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _clips(shared: Path, rate: int):
    import numpy as np
    import soundfile as sf
    import soxr
    import torch

    out = []
    for utt, length in CLIPS:
        path = next(p for p in (shared / "clips").rglob(f"{utt}.*"))
        audio, sr = sf.read(path, dtype="float32", always_2d=True)
        audio = soxr.resample(audio[:, 0], sr, rate) if sr != rate else audio[:, 0]
        out.append((utt, torch.from_numpy(np.ascontiguousarray(audio[:length], dtype=np.float32))))
    return out


def _random_codes(vocab: int, frames: int = 30):
    """``[frames, 1]`` codes drawn uniformly (seeded): decoding them exercises every part of the codebook, which the
    tokens of seeded-weight encoders (a few codes over and over) do not."""
    import torch

    return torch.randint(0, vocab, (frames, 1), generator=torch.Generator().manual_seed(SEED))


def record_bigcodec() -> tuple[dict, dict, dict]:
    """lucadellalib/BigCodec (fork) as the authors' ``audiocodecs/bigcodec.py`` runs it: ``CodecEncoder`` on the
    unpadded signal, the decoder's quantizer for tokens, ``vq2emb`` and the decoder (``vq=False``) back."""
    import bigcodec
    import torch

    seeded = _seeded()
    encoder, decoder = bigcodec.CodecEncoder().eval(), bigcodec.CodecDecoder().eval()
    seeded.seed_parameters(encoder, SEED)
    seeded.seed_parameters(decoder, SEED)
    tensors = {}
    steps = ("feats = encoder(sig[:, None]); toks = quantizer(feats)[1][0]; sig = decoder(quantizer.vq2emb(toks), "
             "vq=False); the same decoding of random tokens")
    with torch.no_grad():
        for i, (_, sig) in enumerate(_clips(ROOT.parent / "shared" / "data", 16000)):
            feats = encoder(sig[None, None])
            _, toks, _ = decoder.quantizer(feats)
            toks = toks[0, :, :, None]  # [B, N, K=1]
            rec = decoder(decoder.quantizer.vq2emb(toks).movedim(-1, -2), vq=False)[:, 0]
            tensors.update({f"case{i}.audio": sig, f"case{i}.latent": feats[0].T, f"case{i}.codes": toks[0].int(),
                            f"case{i}.sig": rec[0]})
        codes = _random_codes(8192)
        rec = decoder(decoder.quantizer.vq2emb(codes[None]).movedim(-1, -2), vq=False)[:, 0]
        tensors.update({"random.codes": codes.int(), "random.sig": rec[0]})
    params = {"CodecEnc": {k: list(v.shape) for k, v in encoder.named_parameters()},
              "generator": {k: list(v.shape) for k, v in decoder.named_parameters()}}
    for part, module in (("CodecEnc", encoder), ("generator", decoder)):
        for name, value in module.state_dict().items():
            if name not in params[part]:
                tensors[f"buffer.{part}.{name}"] = value.contiguous()
    return tensors, params, {"steps": steps, "package": "bigcodec", "source": "lucadellalib/BigCodec@c6a85c4"}


#: lucadellalib/WavTokenizer's model as novateur/WavTokenizer's wavtokenizer_smalldata_frame40_3s_nq1_code4096_dim512_
#: kmeans200_attn.yaml builds it (the large-unify 40 token/s checkpoint's configuration)
WAVTOKENIZER_40HZ = {
    "feature_extractor": {"encodec_model": "encodec_24khz", "bandwidths": [6.6, 6.6, 6.6, 6.6], "train_codebooks": True,
                          "num_quantizers": 1, "dowmsamples": [6, 5, 5, 4], "vq_bins": 4096, "vq_kmeans": 200},
    "backbone": {"input_channels": 512, "dim": 768, "intermediate_dim": 2304, "num_layers": 12,
                 "adanorm_num_embeddings": 4},
    "head": {"dim": 768, "n_fft": 2400, "hop_length": 600, "padding": "same"},
}


def record_wavtokenizer() -> tuple[dict, dict, dict]:
    """lucadellalib/WavTokenizer (fork) as the authors' ``audiocodecs/wavtokenizer.py`` runs it at 24 kHz:
    ``encode(sig, bandwidth_id=0)`` for tokens, ``codes_to_features`` and ``decode(bandwidth_id=0)`` back. The
    VQ codebook (a buffer) is seeded like the parameters and marked initialised (no k-means on the data)."""
    import torch
    from wavtokenizer.decoder.feature_extractors import EncodecFeatures
    from wavtokenizer.decoder.heads import ISTFTHead
    from wavtokenizer.decoder.models import VocosBackbone
    from wavtokenizer.decoder.pretrained import WavTokenizer

    seeded = _seeded()
    model = WavTokenizer(feature_extractor=EncodecFeatures(**WAVTOKENIZER_40HZ["feature_extractor"]),
                         backbone=VocosBackbone(**WAVTOKENIZER_40HZ["backbone"]),
                         head=ISTFTHead(**WAVTOKENIZER_40HZ["head"])).eval()
    seeded.seed_parameters(model, SEED)
    shapes = {k: list(v.shape) for k, v in model.named_parameters()}
    with torch.no_grad():
        for name, buffer in model.named_buffers():
            if name.endswith(("._codebook.embed", "._codebook.embed_avg")):
                buffer.copy_(seeded.seeded_values(name, tuple(buffer.shape), SEED))
                shapes[name] = list(buffer.shape)
            elif name.endswith("._codebook.inited"):
                buffer.fill_(1.0)
    tensors = {}
    steps = ("feats = feature_extractor.encodec.encoder(sig[:, None]); _, toks = encode(sig, bandwidth_id=0); "
             "sig = decode(codes_to_features(toks), bandwidth_id=tensor(0)); the same decoding of random tokens")
    with torch.no_grad():
        for i, (_, sig) in enumerate(_clips(ROOT.parent / "shared" / "data", 24000)):
            latent = model.feature_extractor.encodec.encoder(sig[None, None])
            _, toks = model.encode(sig[None], bandwidth_id=0)
            toks = toks.movedim(0, -1)  # [B, N, K]
            rec = model.decode(model.codes_to_features(toks.movedim(-1, 0)), bandwidth_id=torch.tensor(0))
            tensors.update({f"case{i}.audio": sig, f"case{i}.latent": latent[0].T, f"case{i}.codes": toks[0].int(),
                            f"case{i}.sig": rec[0]})
        codes = _random_codes(4096)
        rec = model.decode(model.codes_to_features(codes[None].movedim(-1, 0)), bandwidth_id=torch.tensor(0))
        tensors.update({"random.codes": codes.int(), "random.sig": rec[0]})
    for name, value in model.state_dict().items():
        if name not in shapes and not name.startswith("feature_extractor.encodec.decoder."):
            tensors[f"buffer.model.{name}"] = value.contiguous()
    return tensors, {"model": shapes}, {"steps": steps, "package": "wavtokenizer",
                                         "source": "lucadellalib/WavTokenizer@acf74fb", "config": WAVTOKENIZER_40HZ}


def _seed_hf(model, seeded) -> dict:
    """Seed a transformers codec: every parameter, and every codebook buffer (``embed`` / ``embed_avg`` /
    ``embed_sum``) marked initialised with unit usage, by name; returns the seeded tensors' names and shapes."""
    import torch

    seeded.seed_parameters(model, SEED)
    shapes = {k: list(v.shape) for k, v in model.named_parameters()}
    with torch.no_grad():
        for name, buffer in model.named_buffers():
            leaf = name.rsplit(".", 1)[-1]
            if leaf in ("embed", "embed_avg", "embed_sum"):
                buffer.copy_(seeded.seeded_values(name, tuple(buffer.shape), SEED))
                shapes[name] = list(buffer.shape)
            elif leaf in ("inited", "initialized", "cluster_usage", "cluster_size"):
                buffer.fill_(1.0)
    return shapes


def _hf_buffers(model, shapes: dict) -> dict:
    """The persistent buffers not seeded (recorded as they are)."""
    return {f"buffer.model.{k}": v.contiguous() for k, v in model.state_dict().items() if k not in shapes}


def record_encodec() -> tuple[dict, dict, dict]:
    """EnCodec 24 kHz through transformers 4.46.3, as the authors' ``audiocodecs/encodec.py`` with 2 codebooks
    (bandwidth 1.5): ``encode(sig[:, None], padding_mask, bandwidth)`` and ``decode(codes, [None])``."""
    import torch
    from transformers import EncodecConfig, EncodecModel

    config = EncodecConfig()  # facebook/encodec_24khz's architecture
    model = EncodecModel(config).eval()
    shapes = _seed_hf(model, _seeded())
    tensors = {}
    with torch.no_grad():
        for i, (_, sig) in enumerate(_clips(ROOT.parent / "shared" / "data", 24000)):
            mask = torch.ones(1, 1, len(sig), dtype=torch.bool)
            latent = model.encoder(sig[None, None])
            codes = model.encode(sig[None, None], mask, bandwidth=1.5).audio_codes[0].movedim(-1, -2)  # [B, N, K]
            rec = model.decode(codes[None].movedim(-1, -2), [None]).audio_values[:, 0]
            tensors.update({f"case{i}.audio": sig, f"case{i}.latent": latent[0].T, f"case{i}.codes": codes[0].int(),
                            f"case{i}.sig": rec[0]})
        codes = torch.randint(0, 1024, (30, 2), generator=torch.Generator().manual_seed(SEED))
        rec = model.decode(codes[None, None].movedim(-1, -2), [None]).audio_values[:, 0]
        tensors.update({"random.codes": codes.int(), "random.sig": rec[0], **_hf_buffers(model, shapes)})
    steps = ("latent = encoder(sig); codes = encode(sig[:, None], padding_mask, bandwidth=1.5).audio_codes; "
             "sig = decode(codes, [None]).audio_values; the same decoding of random codes")
    return tensors, {"model": shapes}, {"steps": steps, "package": "transformers", "source": "transformers==4.46.3",
                                         "config": config.to_dict()}


def record_mimi() -> tuple[dict, dict, dict]:
    """Mimi through transformers 4.46.3, as the authors' ``audiocodecs/mimi.py`` with 5 codebooks:
    ``encode(sig[:, None], padding_mask, num_quantizers=5)`` and ``decode(codes)``."""
    import torch
    from transformers import MimiConfig, MimiModel

    config = MimiConfig()  # kyutai/mimi's architecture
    model = MimiModel(config).eval()
    shapes = _seed_hf(model, _seeded())
    tensors = {}
    with torch.no_grad():
        for i, (_, sig) in enumerate(_clips(ROOT.parent / "shared" / "data", 24000)):
            mask = torch.ones(1, 1, len(sig), dtype=torch.bool)
            codes = model.encode(sig[None, None], mask, num_quantizers=5).audio_codes.movedim(-1, -2)  # [B, N, K]
            rec = model.decode(codes.movedim(-1, -2)).audio_values[:, 0]
            tensors.update({f"case{i}.audio": sig, f"case{i}.codes": codes[0].int(), f"case{i}.sig": rec[0]})
        codes = torch.randint(0, 2048, (12, 5), generator=torch.Generator().manual_seed(SEED))
        rec = model.decode(codes[None].movedim(-1, -2)).audio_values[:, 0]
        tensors.update({"random.codes": codes.int(), "random.sig": rec[0], **_hf_buffers(model, shapes)})
    steps = ("codes = encode(sig[:, None], padding_mask, num_quantizers=5).audio_codes; "
             "sig = decode(codes).audio_values; the same decoding of random codes")
    return tensors, {"model": shapes}, {"steps": steps, "package": "transformers", "source": "transformers==4.46.3",
                                         "config": config.to_dict()}


#: descript-audio-codec's 16 kHz model (the keyword arguments its released weights carry)
DAC_16KHZ = {"encoder_dim": 64, "encoder_rates": [2, 4, 5, 8], "latent_dim": None, "decoder_dim": 1536,
             "decoder_rates": [8, 5, 4, 2], "n_codebooks": 12, "codebook_size": 1024, "codebook_dim": 8,
             "sample_rate": 16000}


def record_dac() -> tuple[dict, dict, dict]:
    """descript-audio-codec 1.0.0's 16 kHz DAC, as the authors' ``audiocodecs/dac.py`` runs it with 2 codebooks:
    ``encode(sig[:, None], n_quantizers=2)`` without ``preprocess`` (no padding), ``quantizer.from_codes`` and
    ``decode`` back."""
    import dac
    import torch

    model = dac.DAC(**DAC_16KHZ).eval()
    seeded = _seeded()
    seeded.seed_parameters(model, SEED)
    shapes = {k: list(v.shape) for k, v in model.named_parameters()}
    tensors = {}
    with torch.no_grad():
        for i, (_, sig) in enumerate(_clips(ROOT.parent / "shared" / "data", 16000)):
            latent = model.encoder(sig[None, None])
            _, codes, *_ = model.encode(sig[None, None], n_quantizers=2)  # [B, K, N]
            rec = model.decode(model.quantizer.from_codes(codes[:, :2])[0])[:, 0]
            tensors.update({f"case{i}.audio": sig, f"case{i}.latent": latent[0].T,
                            f"case{i}.codes": codes[0, :2].T.int(), f"case{i}.sig": rec[0]})
        codes = torch.randint(0, 1024, (30, 2), generator=torch.Generator().manual_seed(SEED))
        rec = model.decode(model.quantizer.from_codes(codes.T[None])[0])[:, 0]
        tensors.update({"random.codes": codes.int(), "random.sig": rec[0]})
    for name, value in model.state_dict().items():
        if name not in shapes:
            tensors[f"buffer.model.{name}"] = value.contiguous()
    steps = ("latent = encoder(sig[:, None]); _, codes, *_ = encode(sig[:, None], n_quantizers=2); "
             "sig = decode(quantizer.from_codes(codes)[0]); the same decoding of random codes")
    return tensors, {"model": shapes}, {"steps": steps, "package": "descript-audio-codec",
                                         "source": "descript-audio-codec==1.0.0", "config": DAC_16KHZ}


FAMILIES = {"bigcodec": record_bigcodec, "wavtokenizer": record_wavtokenizer, "encodec": record_encodec,
            "mimi": record_mimi, "dac": record_dac}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("family", choices=sorted(FAMILIES))
    parser.add_argument("out", type=Path)
    args = parser.parse_args()
    import torch
    from safetensors.torch import save_file

    torch.manual_seed(SEED)
    tensors, params, info = FAMILIES[args.family]()
    args.out.mkdir(parents=True, exist_ok=True)
    save_file({k: v.contiguous() for k, v in tensors.items()}, str(args.out / "cases.safetensors"))
    versions = {}
    for name in ("torch", "numpy", info["package"], "transformers", "descript-audio-codec"):
        try:
            versions[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            continue
    manifest = {"family": args.family, "seed": SEED, "clips": [list(c) for c in CLIPS],
                "python": platform.python_version(), "versions": versions, **info, "parameters": params}
    (args.out / "manifest.json").write_text(json.dumps(manifest, indent=1) + "\n")
    print(f"wrote {args.out}: {len(tensors)} tensors", file=sys.stderr)


if __name__ == "__main__":
    main()
