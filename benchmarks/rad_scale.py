"""Paper-scale retrieval pool on this machine: build time, memory, queries/s and recall@1.

Synthetic unit-norm 32-d latents drawn around random cluster centres (real latents are
clustered; uniform noise would be IVF's worst case), indexed exactly as RAD does
(IndexIVFFlat, inner product, nlist 4096, nprobe 16, 500k training vectors). Recall@1 is
measured against exact inner-product search over the full pool.

    python benchmarks/rad_scale.py --vectors 20000000        # paper scale (~5-10 min on 2 cores)
    python benchmarks/rad_scale.py --vectors 200000 --nlist 256   # quick look
"""

from __future__ import annotations

import argparse
import resource
import time

import numpy as np


def clustered(n: int, dim: int, centres: np.ndarray, noise: float, rng: np.random.Generator) -> np.ndarray:
    x = centres[rng.integers(0, len(centres), n)] + noise * rng.standard_normal((n, dim), dtype=np.float32)
    return x / np.linalg.norm(x, axis=1, keepdims=True)


def peak_rss_gb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024**2


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--vectors", type=int, default=20_000_000)
    parser.add_argument("--dim", type=int, default=32)
    parser.add_argument("--nlist", type=int, default=4096)
    parser.add_argument("--nprobe", type=int, default=16)
    parser.add_argument("--train-size", type=int, default=500_000)
    parser.add_argument("--queries", type=int, default=2000)
    parser.add_argument("--clusters", type=int, default=50_000)
    parser.add_argument("--noise", type=float, default=0.08)
    parser.add_argument("--chunk", type=int, default=1_000_000)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()

    import faiss

    rng = np.random.default_rng(args.seed)
    centres = rng.standard_normal((args.clusters, args.dim), dtype=np.float32)
    centres /= np.linalg.norm(centres, axis=1, keepdims=True)
    print(f"faiss {faiss.__version__}, {faiss.omp_get_max_threads()} threads, GPUs: "
          f"{faiss.get_num_gpus() if hasattr(faiss, 'get_num_gpus') else 0}")
    print(f"pool: {args.vectors:,} x {args.dim} float32 = {args.vectors * args.dim * 4 / 1e9:.2f} GB")

    t0 = time.perf_counter()
    pool = np.empty((args.vectors, args.dim), dtype=np.float32)
    for i in range(0, args.vectors, args.chunk):
        n = min(args.chunk, args.vectors - i)
        pool[i:i + n] = clustered(n, args.dim, centres, args.noise, rng)
    print(f"generate: {time.perf_counter() - t0:.1f} s, peak RSS {peak_rss_gb():.2f} GB")

    index = faiss.IndexIVFFlat(faiss.IndexFlatIP(args.dim), args.dim, args.nlist, faiss.METRIC_INNER_PRODUCT)
    index.cp.seed = args.seed
    train = pool[rng.choice(args.vectors, size=min(args.train_size, args.vectors), replace=False)]
    t0 = time.perf_counter()
    index.train(train)
    train_s = time.perf_counter() - t0
    t0 = time.perf_counter()
    for i in range(0, args.vectors, args.chunk):
        index.add(pool[i:i + args.chunk])
    add_s = time.perf_counter() - t0
    index.nprobe = args.nprobe
    print(f"train ({len(train):,} vectors, nlist {args.nlist}): {train_s:.1f} s; add: {add_s:.1f} s; "
          f"peak RSS {peak_rss_gb():.2f} GB")

    queries = clustered(args.queries, args.dim, centres, args.noise, rng)
    t0 = time.perf_counter()
    _, ids = index.search(queries, 1)
    search_s = time.perf_counter() - t0
    exact = faiss.IndexFlatIP(args.dim)
    best_sim = np.full(args.queries, -np.inf, dtype=np.float32)
    best_id = np.full(args.queries, -1, dtype=np.int64)
    t0 = time.perf_counter()
    for i in range(0, args.vectors, args.chunk):
        exact.reset()
        exact.add(pool[i:i + args.chunk])
        sims, found = exact.search(queries, 1)
        better = sims[:, 0] > best_sim
        best_sim[better], best_id[better] = sims[better, 0], found[better, 0] + i
    exact_s = time.perf_counter() - t0
    ivf_sims = np.einsum("ij,ij->i", queries, pool[np.maximum(ids[:, 0], 0)])
    recall = float(np.mean((ids[:, 0] == best_id) | np.isclose(ivf_sims, best_sim, atol=1e-6)))
    print(f"IVF search: {args.queries / search_s:,.0f} queries/s (nprobe {args.nprobe}); "
          f"exact: {args.queries / exact_s:,.1f} queries/s")
    print(f"recall@1 vs exact: {recall:.4f}; peak RSS {peak_rss_gb():.2f} GB")


if __name__ == "__main__":
    main()
