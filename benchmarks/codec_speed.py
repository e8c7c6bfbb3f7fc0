"""Encode / decode cost of any registered codec on this machine (random weights when no checkpoint).

Prints seconds of compute per second of audio at batch 1 and batched, the token rate and the
peak memory. The default is the paper-size DyCAST (268.82 M parameters).

    python benchmarks/codec_speed.py [dycast-bp1 focalcodec-50hz ...] [--seconds 4] [--batch 8]
"""

from __future__ import annotations

import argparse
import resource
import time
import warnings

import torch

warnings.filterwarnings("ignore")


def measure(name: str, seconds: float, batch: int, repeats: int, device: str) -> None:
    from codecbench.config.runconfig import CodecSpec
    from codecbench.engine.jobs import build_codec, seed_everything

    seed_everything(0)
    codec = build_codec(CodecSpec(name, name), device)
    params = sum(p.numel() for p in codec.parameters())
    samples = int(seconds * codec.sample_rate)
    gen = torch.Generator().manual_seed(0)
    print(f"{name}: {params / 1e6:.2f} M parameters, {codec.sample_rate} Hz in, "
          f"{'random weights' if codec.capabilities.random_weights else 'checkpoint'}")
    for size in sorted({1, batch}):
        wav = (0.1 * torch.randn(size, samples, generator=gen)).to(device)
        lengths = torch.full((size,), samples)
        with torch.inference_mode():
            codec.decode(codec.encode(wav, lengths))  # warm-up
            enc = dec = 0.0
            for _ in range(repeats):
                t0 = time.perf_counter()
                tokens = codec.encode(wav, lengths)
                t1 = time.perf_counter()
                codec.decode(tokens)
                enc, dec = enc + t1 - t0, dec + time.perf_counter() - t1
        audio = repeats * size * seconds
        rate = float(codec.measured_frames(tokens).mean()) / seconds
        print(f"  batch {size:>2}: encode {enc / audio:.4f} s/s, decode {dec / audio:.4f} s/s ({rate:.1f} tokens/s)")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("codecs", nargs="*", default=["dycast-bp1"])
    parser.add_argument("--seconds", type=float, default=4.0, help="length of each test clip")
    parser.add_argument("--batch", type=int, default=8)
    parser.add_argument("--repeats", type=int, default=2)
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--threads", type=int, default=None)
    args = parser.parse_args()
    if args.threads:
        torch.set_num_threads(args.threads)
    print(f"{args.device}, {torch.get_num_threads()} threads, {args.seconds:.0f} s clips")
    for name in args.codecs:
        measure(name, args.seconds, args.batch, args.repeats, args.device)
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024**2
    print(f"peak RSS of the process {peak:.2f} GB" + (
        f", peak CUDA {torch.cuda.max_memory_allocated() / 1e9:.2f} GB" if args.device.startswith("cuda") else ""))


if __name__ == "__main__":
    main()
