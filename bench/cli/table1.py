"""``bench table1``: Table 1 of the paper, measured: rates on real audio, sample rate, codebooks, parameters."""

from __future__ import annotations

import argparse
from pathlib import Path

PUBLISHED = Path(__file__).resolve().parents[2] / "results" / "published" / "table1.csv"


def add_parsers(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("table1", help="measure frame rate, bitrate, codebooks and parameters of every codec")
    p.add_argument("--data", help="folder of audio (default: the quickstart corpus)")
    p.add_argument("--codecs", nargs="*", help="registry names (default: every installed codec)")
    p.add_argument("--limit", type=int, default=None, help="use at most this many utterances")
    p.add_argument("--out", default="runs/table1", help="folder for table1.csv / table1.md")
    p.set_defaults(handler=cmd_table1)


def _codebooks(sizes: list[int]) -> str:
    if len(set(sizes)) == 1:
        return f"{len(sizes)}x{sizes[0]}"
    return "+".join(str(v) for v in sizes)


def measure(name: str, utts: list, progress: bool = False) -> dict:
    """Build one codec (random weights when no checkpoint) and measure it on the utterances."""
    import torch

    from bench.audio import load_audio, resample
    from bench.config import CodecSpec
    from bench.runner import build_codec, seed_everything

    seed_everything(0)
    codec = build_codec(CodecSpec(name, name))
    frames = bits = seconds = 0.0
    with torch.inference_mode():
        for utt in utts:
            audio = load_audio(utt.path)
            x = torch.from_numpy(resample(audio.samples, audio.sample_rate, codec.sample_rate))[None]
            tokens = codec.encode(x, torch.tensor([x.shape[1]]))
            frames += float(codec.measured_frames(tokens).sum())
            bits += float(codec.measured_bits(tokens).sum())
            seconds += audio.duration
    params = sum(p.numel() for p in codec.parameters())
    state = sum(t.numel() for t in codec.state_dict().values())  # + buffers (e.g. VQ codebooks kept as buffers)
    return {"codec": name, "frame_rate_hz": frames / seconds, "bitrate_kbps": bits / seconds / 1000,
            "sample_rate_khz": codec.sample_rate / 1000, "output_sample_rate_khz": codec.output_sample_rate / 1000,
            "codebooks": _codebooks(list(codec.codebook_sizes)), "params_m": params / 1e6 if params else None,
            "state_m": state / 1e6 if state else None,
            "random_weights": codec.capabilities.random_weights, "error": ""}


def cmd_table1(args: argparse.Namespace) -> int:
    import pandas as pd

    from bench.datasets import DatasetSpec, load_dataset
    from bench.registry import CODECS, discover

    discover()
    spec = DatasetSpec("t1", "folder", args.data, limit=args.limit) if args.data else \
        DatasetSpec("t1", "quickstart", limit=args.limit)
    utts = load_dataset(spec)
    names = args.codecs or CODECS.names()
    rows = []
    for name in names:
        try:
            rows.append(measure(name, utts))
        except Exception as err:  # noqa: BLE001 - a codec that cannot run here is a row, not a crash
            rows.append({"codec": name, "error": f"{type(err).__name__}: {str(err).splitlines()[0][:120]}"})
        print(f"  measured {name}", flush=True)
    table = pd.DataFrame(rows)
    published = pd.read_csv(PUBLISHED).rename(columns=lambda c: f"paper_{c}" if c != "registry_name" else c)
    table = table.merge(published, how="left", left_on="codec", right_on="registry_name").drop(columns="registry_name")
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    table.to_csv(out / "table1.csv", index=False, float_format="%.4g")
    shown = table[["codec", "frame_rate_hz", "paper_frame_rate_hz", "bitrate_kbps", "paper_bitrate_kbps",
                   "sample_rate_khz", "codebooks", "paper_codebooks", "params_m", "state_m", "paper_params_m",
                   "random_weights", "error"]]
    shown = shown.assign(random_weights=shown["random_weights"].map({True: "yes", False: "no"}))
    markdown = shown.to_markdown(index=False, floatfmt=".2f", missingval="-")
    note = (f"\nMeasured on {len(utts)} utterances; frame rate and bitrate = "
            "total frames or bits / total seconds. random_weights=True: real architecture, random weights "
            "(rates and parameter counts are exact for fixed-rate codecs; DyCAST's rate depends on its weights). "
            "state_m counts parameters and buffers (some codecs keep their codebooks in buffers).")
    (out / "table1.md").write_text(markdown + "\n" + note + "\n")
    print(markdown + "\n" + note)
    return 0
