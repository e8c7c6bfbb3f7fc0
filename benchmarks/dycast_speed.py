"""DyCAST (or FocalCodec) encode + decode of a real 15 s clip: the code before the speed-ups vs now.

Old and new are alternated in one process (the old code exported from git, see ``_old_code.py``) on
identical weights: the paper-size architecture, random weights seeded (or a checkpoint through
``--param checkpoint=DIR``). Prints each pair's times, the ratio, whether the tokens are identical and
the largest waveform difference; then, on every clip of ``../shared/data/clips/librispeech``, the share of
tokens (frames of all axes) equal to the old (plain) path's and whether the boundaries (token count and
durations) are identical. The bar: boundaries identical and >= 99 % equal tokens on every clip (float
reassociation in the fast paths may flip a scalar-quantiser decision), waveforms of the long clip within 1e-5
where its tokens are identical. ``--no-clips`` skips the per-clip check.

    python benchmarks/dycast_speed.py                          # dycast-bp3, CPU, 3 pairs
    python benchmarks/dycast_speed.py --codec focalcodec-50hz --device cuda
"""

from __future__ import annotations

import argparse
import csv
import os
import sys
import tempfile
import time
import warnings
from pathlib import Path

import numpy as np
import torch

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _old_code import Versions, export  # noqa: E402

OLD_REV = "17d8d74"  # the last commit before the DyCAST / FocalCodec speed-ups
warnings.filterwarnings("ignore")


def clip(seconds: float) -> np.ndarray:
    """The longest LibriSpeech clip of ../shared/data, cut or repeated to ``seconds`` (16 kHz)."""
    from codecbench.util.audio import load_audio, resample
    from codecbench.util.paths import shared_data_dir

    root = shared_data_dir()
    if root is None:
        raise SystemExit("../shared/data not found (set CODECBENCH_SHARED_DATA)")
    with open(root / "manifest.csv", encoding="utf-8") as handle:
        rows = [r for r in csv.DictReader(handle) if r["corpus"] == "librispeech"]
    row = max(rows, key=lambda r: float(r["duration_s"]))
    audio = load_audio(root / "clips" / row["file"])
    wav = resample(audio.samples, audio.sample_rate, 16000).astype(np.float32)
    samples = int(seconds * 16000)
    return np.resize(wav, samples) if len(wav) < samples else wav[:samples]


def librispeech_clips() -> list[tuple[str, np.ndarray]]:
    """Every LibriSpeech clip of ../shared/data at 16 kHz, by file name."""
    from codecbench.util.audio import load_audio, resample
    from codecbench.util.paths import shared_data_dir

    root = shared_data_dir()
    if root is None:
        raise SystemExit("../shared/data not found (set CODECBENCH_SHARED_DATA)")
    out = []
    for path in sorted((root / "clips" / "librispeech").glob("*.flac")):
        audio = load_audio(path)
        out.append((path.stem, resample(audio.samples, audio.sample_rate, 16000).astype(np.float32)))
    return out


def agreement(old: object, new: object) -> tuple[float, bool]:
    """Share of tokens (all axes of a frame) equal between two encodings, and whether their boundaries (token
    count, durations) are identical."""
    a, b = old.codes[0, : int(old.lengths[0])], new.codes[0, : int(new.lengths[0])]  # type: ignore[attr-defined]
    da, db = getattr(old, "durations", None), getattr(new, "durations", None)
    same_bounds = a.shape == b.shape and (da is None and db is None or
                                          (da is not None and db is not None and bool(torch.equal(da, db))))
    if a.shape != b.shape:
        return 0.0, False
    equal = (a == b).reshape(a.shape[0], -1).all(dim=1).float().mean() if a.shape[0] else torch.tensor(1.0)
    return float(equal), same_bounds


def build(mods: dict, name: str, params: dict, device: str, state: dict | None) -> torch.nn.Module:
    mods["codecbench.engine.runner"].seed_everything(0)
    spec = mods["codecbench.config.runconfig"].CodecSpec(name, name, params)
    codec = mods["codecbench.engine.jobs"].build_codec(spec, device)
    if state is not None:
        codec.load_state_dict(state)
    return codec


def roundtrip(codec: torch.nn.Module, wav: torch.Tensor, device: str) -> tuple[float, torch.Tensor, torch.Tensor]:
    lengths = torch.tensor([wav.shape[1]])
    if device.startswith("cuda"):
        torch.cuda.synchronize()
    start = time.perf_counter()
    with torch.inference_mode():
        tokens = codec.encode(wav.to(device), lengths.to(device))
        out, out_lengths = codec.decode(tokens.to(device))
    if device.startswith("cuda"):
        torch.cuda.synchronize()
    return time.perf_counter() - start, tokens.codes.cpu(), out[0, : int(out_lengths[0])].float().cpu()


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--codec", default="dycast-bp3")
    parser.add_argument("--param", action="append", default=[], metavar="KEY=VALUE", help="codec params")
    parser.add_argument("--old", default=OLD_REV,
                        help=f"git revision of the old code, or a folder exported from one (default {OLD_REV})")
    parser.add_argument("--seconds", type=float, default=15.0)
    parser.add_argument("--pairs", type=int, default=3)
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--no-clips", action="store_true", help="skip the per-clip token agreement")
    args = parser.parse_args()
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    params = dict(p.split("=", 1) for p in args.param)
    wav = torch.from_numpy(clip(args.seconds))[None]
    with tempfile.TemporaryDirectory(prefix="dycast-speed-") as tmp:
        versions = Versions(export(args.old, Path(tmp)))
        codecs = {}
        with versions.use("new") as mods:
            codecs["new"] = build(mods, args.codec, params, args.device, None)
        with versions.use("old") as mods:
            codecs["old"] = build(mods, args.codec, params, args.device, codecs["new"].state_dict())
        params_m = sum(p.numel() for p in codecs["new"].parameters()) / 1e6
        print(f"{args.codec}: {params_m:.2f} M parameters, {args.seconds:.0f} s clip, {args.device}, "
              f"{torch.get_num_threads()} threads, old = {args.old}")
        results: dict[str, list] = {"old": [], "new": []}
        for version in ("old", "new"):  # warm-up
            with versions.use(version):
                roundtrip(codecs[version], wav, args.device)
        for pair in range(args.pairs):
            for version in (("old", "new") if pair % 2 == 0 else ("new", "old")):
                with versions.use(version):
                    results[version].append(roundtrip(codecs[version], wav, args.device))
            old_s, new_s = results["old"][-1][0], results["new"][-1][0]
            print(f"pair {pair}: old {old_s:.3f} s, new {new_s:.3f} s, ratio {old_s / new_s:.3f}", flush=True)
        old_tokens, old_wave = results["old"][0][1:]
        new_tokens, new_wave = results["new"][0][1:]
        same_tokens = old_tokens.shape == new_tokens.shape and bool(torch.equal(old_tokens, new_tokens))
        wave_diff = float((old_wave - new_wave).abs().max()) if old_wave.shape == new_wave.shape else float("inf")
        total = sum(r[0] for r in results["old"]) / sum(r[0] for r in results["new"])
        print(f"ratio old/new {total:.3f}; tokens identical: {same_tokens} ({tuple(new_tokens.shape)}); "
              f"largest waveform difference {wave_diff:.3g}")
        if args.no_clips:
            return 0 if same_tokens and wave_diff <= 1e-5 else 1
        shares, bounds_ok = [], True
        for name, samples in librispeech_clips():
            wave = torch.from_numpy(samples)[None]
            encoded = {}
            for version in ("old", "new"):
                with versions.use(version), torch.inference_mode():
                    encoded[version] = codecs[version].encode(wave.to(args.device),
                                                              torch.tensor([wave.shape[1]]).to(args.device)).to("cpu")
            share, same_bounds = agreement(encoded["old"], encoded["new"])
            shares.append(share)
            bounds_ok &= same_bounds
            print(f"{name}: {wave.shape[1] / 16000:5.2f} s, {int(encoded['new'].lengths[0]):4d} tokens, "
                  f"{100 * share:6.2f} % equal, boundaries {'identical' if same_bounds else 'DIFFER'}", flush=True)
        worst = min(shares) if shares else 1.0
        print(f"{len(shares)} clips: worst {100 * worst:.2f} % equal tokens, mean "
              f"{100 * float(np.mean(shares)):.2f} %; boundaries identical on every clip: {bounds_ok}")
        long_clip_ok = not same_tokens or wave_diff <= 1e-5  # the waveform bar applies where the tokens agree
        return 0 if long_clip_ok and bounds_ok and worst >= 0.99 else 1


if __name__ == "__main__":
    raise SystemExit(main())
