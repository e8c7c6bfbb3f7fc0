"""Training and generation speed of the paper-size TTS models (12-layer Llama, dim 512) on this machine.

For each setting, in a fresh process (so each peak memory is its own): training steps/s at batch 16
(AdamW, gradient clipping, bf16 autocast on CUDA), generated speech tokens/s (AR: 5 top-p samples per
utterance with a KV cache; NAR: one parallel pass, batch 1; a token is one frame of K codes), parameters
and peak resident memory.
Token layouts follow the codecs: ``focalcodec`` (1 stream of 8192), ``encodec`` (2 x 1024, flattened),
``dycast`` (32 parallel streams of 4 levels, one frame per character for NAR).

    python benchmarks/tts_speed.py [--device cuda] [--steps 5] [--frames 150] [--chars 150]
"""

from __future__ import annotations

import argparse
import multiprocessing as mp
import resource
import time
import warnings

import torch

warnings.filterwarnings("ignore")
LAYOUTS = {"focalcodec": ([8192], False), "encodec": ([1024, 1024], True), "dycast": ([4] * 32, False)}


def _peak_mb() -> float:
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    if torch.cuda.is_available():
        peak = max(peak, torch.cuda.max_memory_allocated() / 2**20)
    return peak


def measure(kind: str, layout_name: str, device: str, steps: int, frames: int, chars: int, batch: int,
            out: mp.Queue) -> None:
    from bench.tasks._training import autocast
    from bench.tasks._tts_model import ARTTS, NARTTS, LlamaSize, StreamLayout

    torch.manual_seed(0)
    sizes, flat = LAYOUTS[layout_name]
    layout = StreamLayout(sizes, flat)
    model = (ARTTS(40, layout, 512, LlamaSize()) if kind == "ar" else NARTTS(40, layout, 512, LlamaSize())).to(device)
    params = sum(p.numel() for p in model.parameters()) / 1e6
    opt = torch.optim.AdamW(model.parameters(), lr=1e-4)
    speakers = torch.randn(batch, 512, device=device)
    n = chars if kind == "nar" else frames
    codes = torch.stack([torch.randint(0, v, (batch, n)) for v in sizes], dim=-1).to(device)
    text = torch.randint(2, 40, (batch, chars), device=device)

    def step() -> None:
        with autocast(device):
            if kind == "ar":
                loss = model.loss(list(text), speakers, list(codes))
            else:
                loss = model.loss(text, torch.full((batch,), chars), speakers, codes)
        opt.zero_grad()
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        opt.step()

    step()  # warm-up
    if device.startswith("cuda"):
        torch.cuda.synchronize()
    t0 = time.perf_counter()
    for _ in range(steps):
        step()
    if device.startswith("cuda"):
        torch.cuda.synchronize()
    train_s = (time.perf_counter() - t0) / steps
    model.eval()
    t0 = time.perf_counter()
    with autocast(device):
        if kind == "ar":
            gens = [torch.Generator().manual_seed(k) for k in range(5)]
            out_frames = model.generate(text[0], speakers[0], gens, max_frames=frames)
            tokens = sum(int(f.shape[0]) for f in out_frames)
            codes = sum(int(f.numel()) for f in out_frames)
        else:
            out = model.generate(text[0], speakers[0])
            tokens, codes = int(out.shape[0]), int(out.numel())
    gen_s = time.perf_counter() - t0
    out.put(f"{kind:>3} {layout_name:<10} {params:7.1f} M  train {1 / train_s:7.3f} steps/s (batch {batch}, "
            f"{n} {'chars' if kind == 'nar' else 'frames'})  generate {tokens / gen_s:9.1f} tokens/s "
            f"({tokens} tokens = {codes} codes in {gen_s:.2f} s)  peak {_peak_mb():7.0f} MB")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--steps", type=int, default=3)
    parser.add_argument("--batch", type=int, default=16)
    parser.add_argument("--frames", type=int, default=150, help="speech frames per training item (AR)")
    parser.add_argument("--chars", type=int, default=150, help="characters per item")
    parser.add_argument("--only", nargs="*", default=None, help="e.g. ar:focalcodec nar:dycast")
    args = parser.parse_args()
    runs = args.only or ["ar:focalcodec", "ar:encodec", "ar:dycast", "nar:dycast"]
    print(f"torch {torch.__version__}, device {args.device}, {torch.get_num_threads()} threads")
    ctx = mp.get_context("spawn")
    for spec in runs:
        kind, layout = spec.split(":")
        queue: mp.Queue = ctx.Queue()
        proc = ctx.Process(target=measure, args=(kind, layout, args.device, args.steps, args.frames, args.chars,
                                                 args.batch, queue))
        proc.start()
        proc.join()
        print(queue.get() if proc.exitcode == 0 else f"{spec}: failed (exit {proc.exitcode})", flush=True)


if __name__ == "__main__":
    main()
