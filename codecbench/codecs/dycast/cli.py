"""``codecbench rad pool|index``: build a DyCAST retrieval pool from any dataset and index it (FAISS IVF)."""

from __future__ import annotations

import argparse

from codecbench.api import PositiveInt, Seed, arg_type, assets, register_command


@register_command("rad")
def add_parser(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("rad", help="retrieval-augmented decoding: build pools and FAISS indexes")
    rad = p.add_subparsers(dest="rad_command", required=True)
    pool = rad.add_parser("pool", help="append retriever latents of a dataset to a pool (resumable)")
    pool.add_argument("out", help="pool folder (shard_*.npy + progress.jsonl)")
    pool.add_argument("--root", required=True, help="dataset root")
    pool.add_argument("--format", default="folder", help="dataset format (folder, manifest, librispeech)")
    pool.add_argument("--checkpoint",
                      help="DyCAST checkpoint folder or Hub id (default: asset dycast, CODECBENCH_ASSET_DYCAST)")
    pool.add_argument("--random-preset", default=None, help="random weights (default/tiny) for smoke runs")
    pool.add_argument("--device", default="cpu")
    pool.add_argument("--limit", type=arg_type(PositiveInt), default=None)
    pool.set_defaults(handler=cmd_pool)
    index = rad.add_parser("index", help="train + fill an IVF index over a pool")
    index.add_argument("pool")
    index.add_argument("--nlist", type=arg_type(PositiveInt), default=4096)
    index.add_argument("--nprobe", type=arg_type(PositiveInt), default=16)
    index.add_argument("--train-size", type=arg_type(PositiveInt), default=500_000)
    index.add_argument("--seed", type=arg_type(Seed), default=0)
    index.add_argument("--out", default=None, help="index file (default POOL/index.faiss)")
    index.set_defaults(handler=cmd_index)


def _model(args: argparse.Namespace):
    import torch

    from .model import DyCAST, build_modules
    from .presets import preset

    checkpoint = assets.locate("dycast", args.checkpoint).location
    if checkpoint:
        return DyCAST.from_pretrained(checkpoint, overrides={"char_aligner_name": None}).to(args.device).eval()
    if not args.random_preset:
        raise ValueError("no DyCAST checkpoint: pass --checkpoint DIR (or set CODECBENCH_ASSET_DYCAST), "
                         "or --random-preset tiny|default for a smoke run with random weights")
    print(f"WARNING: RANDOM weights ({args.random_preset}); the pool is only good for testing the pipeline")
    torch.manual_seed(0)
    return DyCAST(**build_modules(preset(args.random_preset))).to(args.device).eval()


def cmd_pool(args: argparse.Namespace) -> int:
    from codecbench.api import DatasetSpec, load_dataset

    from .rad import build_pool

    utts = load_dataset(DatasetSpec("pool", args.format, args.root, limit=args.limit))
    added = build_pool(_model(args), utts, args.out, device=args.device)
    print(f"added {added:,} vectors to {args.out}")
    return 0


def cmd_index(args: argparse.Namespace) -> int:
    from .rad import build_index

    stats = build_index(args.pool, args.nlist, args.nprobe, args.train_size, args.seed, args.out)
    print(f"indexed {stats.vectors:,} vectors (trained on {stats.train_vectors:,}) in "
          f"{stats.train_seconds:.1f} s + {stats.add_seconds:.1f} s -> {stats.path}")
    return 0
