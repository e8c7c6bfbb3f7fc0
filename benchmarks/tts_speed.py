"""Training and generation speed of the paper-size TTS models (12-layer Llama, dim 512), and Table 4's TTS work.

For each setting, in a fresh process (so each peak memory is its own): training steps/s at batch 8 (the
authors' batch, fp32: ``--bf16`` for bf16 autocast on CUDA) over items of ``--frames`` codec tokens and
``--chars`` characters; generation of 5 top-p samples of exactly ``--gen-frames`` tokens (``length:
reference``, KV cache). Each line gives model steps/s (a flattened token is K steps) and codec tokens/s, the
parameter count and the peak memory (RSS, or CUDA's allocator peak when larger).

Settings: ``ar:dycast-flatten`` (32 axes of 4 levels, 32 steps per token: the authors'), ``ar:dycast-parallel``
(the 32 axes in one step: ``layout: parallel``), ``ar:focalcodec`` (1 x 8192), ``ar:encodec`` (2 x 1024,
flattened), ``nar:dycast`` (one token per character).

``--estimate`` adds Table 4's AR TTS work in model steps (LibriSpeech train-clean-460, 100 epochs; test-clean up
to 20 s, 5 samples in one batch) per codec, and GPU-hours from assumptions printed beside them: training from
FLOPs at ``--tflops`` sustained, generation at ``--step-ms`` per step (it is latency-bound); DyCAST's line also
gives the hours at the throughput measured in this run (this device).

    python benchmarks/tts_speed.py [--device cuda] [--steps 3] [--frames 40] [--gen-frames 8] [--estimate]
"""

from __future__ import annotations

import argparse
import multiprocessing as mp
import resource
import time
import warnings

import torch

warnings.filterwarnings("ignore")
#: name -> (stream sizes, layout)
LAYOUTS = {"dycast-flatten": ([4] * 32, "flatten"), "dycast-parallel": ([4] * 32, "parallel"),
           "focalcodec": ([8192], "flatten"), "encodec": ([1024, 1024], "flatten"), "dycast": ([4] * 32, "parallel")}
#: Table 4's AR codecs: (tokens per second, streams K); DyCAST's rates are the paper's (appendix E.2)
TABLE4 = {"encodec-24khz-1.5kbps": (75, 2), "dac-16khz-2cb": (50, 2), "wavlm6-km": (50, 1),
          "speechtokenizer-2cb": (50, 2), "semanticodec-0.65kbps": (25, 2), "mimi-5cb": (12.5, 5),
          "wavtokenizer-40hz": (40, 1), "bigcodec": (80, 1), "stablecodec-2x15625": (25, 2),
          "focalcodec-50hz": (50, 1), "dycast-bp1": (17, 32), "dycast-bp3": (9, 32), "dycast-bp5": (6, 32)}
TRAIN_SECONDS = 460 * 3600.0  # train-clean-100 + train-clean-360
TEST_SECONDS = 5.4 * 3600.0  # test-clean, utterances up to 20 s
CHARS_PER_SECOND = 15.0  # LibriSpeech read speech
EPOCHS, BATCH, SAMPLES = 100, 8, 5


def _peak_mb() -> float:
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    if torch.cuda.is_available():
        peak = max(peak, torch.cuda.max_memory_allocated() / 2**20)
    return peak


def _sync(device: str) -> None:
    if device.startswith("cuda"):
        torch.cuda.synchronize()


def measure(kind: str, name: str, device: str, steps: int, frames: int, gen_frames: int, chars: int, batch: int,
            bf16: bool, out: mp.Queue) -> None:
    from codecbench.tasks._training import autocast
    from codecbench.tasks._tts_model import ARTTS, NARTTS, LlamaSize, StreamLayout

    torch.manual_seed(0)
    sizes, layout_name = LAYOUTS[name]
    layout = StreamLayout.named(layout_name, sizes, multi_codebook=False)
    model = (ARTTS(40, layout, 512, LlamaSize(), dropout=0.1) if kind == "ar"
             else NARTTS(40, layout, 512, LlamaSize(), dropout=0.1)).to(device)
    params = sum(p.numel() for p in model.parameters()) / 1e6
    opt = torch.optim.AdamW(model.parameters(), lr=1e-4, betas=(0.9, 0.98), weight_decay=0.01)
    speakers = torch.randn(batch, 512, device=device)
    n = chars if kind == "nar" else frames
    codes = torch.stack([torch.randint(0, v, (batch, n)) for v in sizes], dim=-1).to(device)
    text = torch.randint(2, 40, (batch, chars), device=device)

    def step() -> None:
        with autocast(device, bf16):
            if kind == "ar":
                loss = model.loss(list(text), speakers, list(codes))
            else:
                loss = model.loss(text, torch.full((batch,), chars), speakers, codes)
        opt.zero_grad()
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), 0.01)
        opt.step()

    model.train()
    step()  # warm-up
    _sync(device)
    t0 = time.perf_counter()
    for _ in range(steps):
        step()
    _sync(device)
    train_s = (time.perf_counter() - t0) / steps
    positions = batch * n * (layout.cycle if kind == "ar" else 1)
    model.eval()
    _sync(device)
    t0 = time.perf_counter()
    with autocast(device, bf16):
        if kind == "ar":
            gens = [torch.Generator().manual_seed(k) for k in range(SAMPLES)]
            outs = model.generate(text[0], speakers[0], gens, max_frames=gen_frames, exact_frames=gen_frames)
            tokens, model_steps = sum(int(f.shape[0]) for f in outs), gen_frames * layout.cycle
        else:
            tokens, model_steps = int(model.generate(text[0], speakers[0]).shape[0]), 1
    _sync(device)
    gen_s = time.perf_counter() - t0
    out.put({"kind": kind, "name": name, "params": params, "train_steps_s": 1 / train_s,
             "train_positions_s": positions / train_s, "train_tokens_s": batch * n / train_s,
             "gen_steps_s": model_steps / gen_s, "gen_tokens_s": tokens / gen_s, "peak_mb": _peak_mb(),
             "line": (f"{kind:>3} {name:<16} {params:6.1f} M  train {1 / train_s:7.3f} steps/s (batch {batch} x {n} "
                      f"{'chars' if kind == 'nar' else 'tokens'} = {positions} positions, "
                      f"{positions / train_s:8.0f} positions/s, {batch * n / train_s:7.1f} tokens/s)  generate "
                      f"{model_steps / gen_s:7.1f} steps/s, {tokens / gen_s:7.1f} tokens/s "
                      f"({SAMPLES} samples x {gen_frames if kind == 'ar' else chars} tokens)  "
                      f"peak {_peak_mb():7.0f} MB")})


def flops_per_position(seq: float, layers: int = 12, dim: int = 512, ffn: int = 2048, kv_dim: int = 128) -> float:
    """Training FLOPs per position (forward and backward, 3x forward): weights plus causal attention over
    ``seq`` positions."""
    weights = layers * (2 * dim * dim + 2 * dim * kv_dim + 3 * dim * ffn)
    return 3 * (2 * weights + 2 * layers * dim * seq)  # attention: QK and AV over seq / 2 keys on average, x2


def estimate(measured: dict[str, dict], tflops: float, step_ms: float) -> None:
    """Table 4's AR TTS work and hours, one line per codec: training from FLOPs at ``tflops`` sustained,
    generation from ``step_ms`` per KV-cached step (latency-bound: one step per flattened code); and, for
    DyCAST, the hours at the throughput this run measured (this device)."""
    flat = measured.get("dycast-flatten")
    print(f"\nTable 4 AR TTS work ({EPOCHS} epochs of {TRAIN_SECONDS / 3600:.0f} h; {SAMPLES} samples of "
          f"{TEST_SECONDS / 3600:.1f} h of test audio, in one batch; ~12 s utterances, {CHARS_PER_SECOND:.0f} chars/s)")
    print(f"assumed: {tflops:g} TFLOP/s sustained in training (fp32), {step_ms:g} ms per generation step\n")
    print(f"{'codec':<24}{'steps/s':>8}{'train Gpos':>11}{'gen Msteps':>11}{'train GPU-h':>12}{'gen GPU-h':>10}"
          f"{'here: train h':>14}{'gen h':>8}")
    totals = [0.0, 0.0]
    for codec, (rate, k) in TABLE4.items():
        steps_per_s = rate * k
        train_positions = EPOCHS * TRAIN_SECONDS * (steps_per_s + CHARS_PER_SECOND)
        gen_steps = TEST_SECONDS * steps_per_s
        seq = 12.0 * (steps_per_s + CHARS_PER_SECOND)
        train_h = train_positions * flops_per_position(seq) / (tflops * 1e12) / 3600
        gen_h = gen_steps * step_ms / 1000 / 3600
        totals[0] += train_h
        totals[1] += gen_h
        here = flat if codec.startswith("dycast") else None
        here_train = f"{train_positions / here['train_positions_s'] / 3600:14.0f}" if here else f"{'':>14}"
        here_gen = f"{gen_steps / here['gen_steps_s'] / 3600:8.0f}" if here else f"{'':>8}"
        print(f"{codec:<24}{steps_per_s:8.0f}{train_positions / 1e9:11.1f}{gen_steps / 1e6:11.2f}{train_h:12.0f}"
              f"{gen_h:10.0f}{here_train}{here_gen}")
    print(f"{'total':<54}{totals[0]:12.0f}{totals[1]:10.0f}   ({sum(totals):.0f} GPU-hours, one seed)")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--steps", type=int, default=3)
    parser.add_argument("--batch", type=int, default=BATCH)
    parser.add_argument("--frames", type=int, default=40, help="codec tokens per training item (AR)")
    parser.add_argument("--gen-frames", type=int, default=8, help="tokens per generated sample (AR)")
    parser.add_argument("--chars", type=int, default=150, help="characters per item")
    parser.add_argument("--bf16", action="store_true", help="bf16 autocast (CUDA only; the authors train in fp32)")
    parser.add_argument("--only", nargs="*", default=None, help="e.g. ar:dycast-flatten nar:dycast")
    parser.add_argument("--estimate", action="store_true", help="Table 4's TTS work and hours")
    parser.add_argument("--tflops", type=float, default=25.0,
                        help="sustained training TFLOP/s assumed (default: ~40 %% of an H100's fp32 peak)")
    parser.add_argument("--step-ms", type=float, default=10.0,
                        help="ms per KV-cached generation step of the 12-layer model assumed (GPU)")
    args = parser.parse_args()
    runs = args.only or ["ar:dycast-flatten", "ar:dycast-parallel", "ar:focalcodec", "ar:encodec", "nar:dycast"]
    print(f"torch {torch.__version__}, device {args.device}, {torch.get_num_threads()} threads, "
          f"{'bf16' if args.bf16 else 'fp32'}")
    ctx = mp.get_context("spawn")
    measured: dict[str, dict] = {}
    for spec in runs:
        kind, name = spec.split(":")
        queue: mp.Queue = ctx.Queue()
        proc = ctx.Process(target=measure, args=(kind, name, args.device, args.steps, args.frames, args.gen_frames,
                                                 args.chars, args.batch, args.bf16, queue))
        proc.start()
        proc.join()
        if proc.exitcode == 0:
            result = queue.get()
            measured[name] = result
            print(result["line"], flush=True)
        else:
            print(f"{spec}: failed (exit {proc.exitcode})", flush=True)
    if args.estimate:
        estimate(measured, args.tflops, args.step_ms)


if __name__ == "__main__":
    main()
