"""Retrieval-augmented decoding pools: collect retriever latents from a dataset, index them with IVF.

* :func:`build_pool` streams utterances through WavLM and the retriever's compressor and
  appends unit-norm latents to shard files; a progress file makes it resumable.
* :func:`build_index` trains ``IndexIVFFlat`` (inner product) on a seeded subsample
  (paper: nlist 4096, nprobe 16, 500k training vectors), adds every vector, saves the index.
"""

from __future__ import annotations

import json
import logging
import os
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Iterable, Iterator

import numpy as np
import torch
from tqdm import tqdm

from codecbench.api import AudioError, Utterance, load_audio, resample, validate_audio

from .model import DyCAST
from .retriever import import_faiss

log = logging.getLogger(__name__)
SHARD_VECTORS = 1 << 20


@dataclass(frozen=True)
class IndexStats:
    vectors: int
    train_vectors: int
    train_seconds: float
    add_seconds: float
    path: Path


def _done_ids(pool: Path) -> set[str]:
    path = pool / "progress.jsonl"
    if not path.is_file():
        return set()
    done = set()
    for line in path.read_text().splitlines():
        if line.strip():
            done.update(json.loads(line)["ids"])
    return done


def _flush(pool: Path, vectors: list[np.ndarray], ids: list[str]) -> None:
    """Write one shard atomically, then record its utterances as done."""
    index = len(list(pool.glob("shard_*.npy")))
    target = pool / f"shard_{index:05d}.npy"
    tmp = pool / f".shard_{index:05d}.tmp.npy"
    np.save(tmp, np.concatenate(vectors).astype(np.float32))
    os.replace(tmp, target)
    with open(pool / "progress.jsonl", "a") as handle:
        handle.write(json.dumps({"shard": target.name, "ids": ids}) + "\n")
        handle.flush()
        os.fsync(handle.fileno())


@torch.inference_mode()
def build_pool(model: DyCAST, utterances: Iterable[Utterance], out_dir: str | Path, device: str = "cpu",
               max_seconds: float = 60.0, progress: bool = True) -> int:
    """Append retriever latents of every utterance not yet in the pool; returns the vectors added."""
    if model.retriever is None:
        raise ValueError("this DyCAST has no retriever: the pool holds retriever.compressor latents")
    pool = Path(out_dir)
    pool.mkdir(parents=True, exist_ok=True)
    done = _done_ids(pool)
    todo = [u for u in utterances if u.utt_id not in done]
    pending: list[np.ndarray] = []
    pending_ids: list[str] = []
    added = 0
    for utt in tqdm(todo, desc="RAD pool", unit="utt", disable=not progress):
        try:
            audio = validate_audio(load_audio(utt.path, max_seconds), min_seconds=0.03, max_seconds=max_seconds)
        except AudioError as err:
            log.warning("RAD pool: skipping %s: %s", utt.utt_id, err)
            continue
        sig = torch.from_numpy(resample(audio.samples, audio.sample_rate, 16000))[None].to(device)
        latents = model.retriever.encode(model.sig_to_feats(sig))[0].float().cpu().numpy()
        pending.append(latents)
        pending_ids.append(utt.utt_id)
        added += len(latents)
        if sum(len(v) for v in pending) >= SHARD_VECTORS:
            _flush(pool, pending, pending_ids)
            pending, pending_ids = [], []
    if pending:
        _flush(pool, pending, pending_ids)
    return added


def iter_shards(pool: str | Path) -> Iterator[np.ndarray]:
    for path in sorted(Path(pool).glob("shard_*.npy")):
        yield np.load(path, mmap_mode="r")


def sample_rows(shards: list[np.ndarray], count: int, seed: int) -> np.ndarray:
    """A seeded uniform subsample of ``count`` rows across shards (all rows when fewer)."""
    sizes = np.array([len(s) for s in shards])
    total = int(sizes.sum())
    if count >= total:
        return np.concatenate([np.asarray(s) for s in shards]).astype(np.float32)
    picks = np.sort(np.random.default_rng(seed).choice(total, size=count, replace=False))
    offsets = np.concatenate([[0], np.cumsum(sizes)])
    out = []
    for i, shard in enumerate(shards):
        local = picks[(picks >= offsets[i]) & (picks < offsets[i + 1])] - offsets[i]
        if len(local):
            out.append(np.asarray(shard[local]))
    return np.concatenate(out).astype(np.float32)


def _maybe_gpu(index: Any, faiss: Any) -> tuple[Any, bool]:
    if hasattr(faiss, "get_num_gpus") and faiss.get_num_gpus() > 0:
        return faiss.index_cpu_to_all_gpus(index), True
    return index, False


def build_index(pool: str | Path, nlist: int = 4096, nprobe: int = 16, train_size: int = 500_000,
                seed: int = 0, out: str | Path | None = None, chunk: int = 1 << 20) -> IndexStats:
    """Train and fill an IVF index over every pool vector; faiss-gpu is used when a GPU is present."""
    faiss = import_faiss()
    shards = list(iter_shards(pool))
    if not shards:
        raise FileNotFoundError(f"no shard_*.npy in {pool}: build the pool first")
    dim = shards[0].shape[1]
    index = faiss.IndexIVFFlat(faiss.IndexFlatIP(dim), dim, nlist, faiss.METRIC_INNER_PRODUCT)
    train = sample_rows(shards, train_size, seed)
    if len(train) < nlist:
        raise ValueError(f"{len(train)} training vectors for nlist={nlist}: lower nlist or add data")
    index.cp.seed = seed
    work, on_gpu = _maybe_gpu(index, faiss)
    start = time.perf_counter()
    work.train(train)
    trained = time.perf_counter()
    for shard in shards:
        for i in range(0, len(shard), chunk):
            work.add(np.ascontiguousarray(shard[i:i + chunk], dtype=np.float32))
    added = time.perf_counter()
    index = faiss.index_gpu_to_cpu(work) if on_gpu else work
    index.nprobe = nprobe
    target = Path(out) if out else Path(pool) / "index.faiss"
    faiss.write_index(index, str(target))
    return IndexStats(int(index.ntotal), len(train), trained - start, added - trained, target)
