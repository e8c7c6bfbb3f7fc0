"""DyCAST encode / decode cost of the default-size model (random weights) on this machine.

Prints seconds of compute per second of audio at batch 1 and batched, and the peak memory.

    python benchmarks/dycast_speed.py [--seconds 4] [--batch 8] [--device cpu] [--threads N]
"""

from __future__ import annotations

import argparse
import resource
import time
import warnings

import torch

warnings.filterwarnings("ignore", message="Using padding='same'")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--seconds", type=float, default=4.0, help="length of each test clip")
    parser.add_argument("--batch", type=int, default=8)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--threads", type=int, default=None)
    args = parser.parse_args()
    if args.threads:
        torch.set_num_threads(args.threads)

    from bench.codecs.dycast import DyCASTCodec

    torch.manual_seed(0)
    codec = DyCASTCodec(random_preset="default", min_gap=1).to(args.device)
    params = sum(p.numel() for p in codec.model.parameters())
    print(f"DyCAST default architecture (no retriever), {params / 1e6:.2f} M parameters, random weights, "
          f"{args.device}, {torch.get_num_threads()} threads")
    samples = int(args.seconds * 16000)
    gen = torch.Generator().manual_seed(0)
    for batch in (1, args.batch):
        wav = 0.1 * torch.randn(batch, samples, generator=gen).to(args.device)
        lengths = torch.full((batch,), samples)
        with torch.inference_mode():
            codec.decode(codec.encode(wav, lengths))  # warm-up
            enc = dec = 0.0
            for _ in range(args.repeats):
                t0 = time.perf_counter()
                tokens = codec.encode(wav, lengths)
                t1 = time.perf_counter()
                codec.decode(tokens)
                t2 = time.perf_counter()
                enc, dec = enc + t1 - t0, dec + t2 - t1
        audio = args.repeats * batch * args.seconds
        rate = float(tokens.lengths.float().mean()) / args.seconds
        print(f"batch {batch:>2}: encode {enc / audio:.4f} s/s, decode {dec / audio:.4f} s/s "
              f"({rate:.1f} tokens/s with random weights)")
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024**2
    print(f"peak RSS {peak:.2f} GB" + (f", peak CUDA {torch.cuda.max_memory_allocated() / 1e9:.2f} GB"
                                       if args.device.startswith("cuda") else ""))


if __name__ == "__main__":
    main()
