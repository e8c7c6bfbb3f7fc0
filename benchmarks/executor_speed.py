"""Wall time of a config run inline vs sharded on the local executor (N worker processes), and the cost
of merging the shard rows. Each mode runs on an empty cache of its own, alternated `--repeats` times.

    python benchmarks/executor_speed.py [configs/ci.yaml] [--workers 2] [--repeats 1]
"""

from __future__ import annotations

import argparse
import os
import shutil
import tempfile
import time
from pathlib import Path


def one(config_path: str, mode: str, workers: int, scratch: Path) -> tuple[float, float, int]:
    from codecbench.config.runconfig import load_config
    from codecbench.engine import executor, runner
    from codecbench.engine.plan import Shard
    from codecbench.engine.store import ResultStore

    out, cache = scratch / mode, scratch / f"cache-{mode}"
    for path in (out, cache):
        shutil.rmtree(path, ignore_errors=True)
    os.environ["CODECBENCH_CACHE"] = str(cache)
    overrides = [f"output_dir={out}"]
    if mode == "local":
        overrides += ["executor.kind=local", f"executor.workers={workers}", f"executor.buckets={workers}"]
    config = load_config(config_path, overrides)
    start = time.perf_counter()
    store = runner.run(config, progress=False)
    wall = time.perf_counter() - start
    merge = 0.0
    if mode == "local":  # merge again into an empty store: what the parent's merge costs
        target = ResultStore(scratch / "merge-check")
        shards = [Shard(**s) for s in _shards(out)]
        t0 = time.perf_counter()
        executor.merge(target, shards)
        merge = time.perf_counter() - t0
    return wall, merge, len(store)


def _shards(run_dir: Path) -> list[dict]:
    import re

    out = []
    for folder in sorted((run_dir / "shards").glob("*--*")):
        task, codec, dataset, part = folder.name.split("--")
        bucket, buckets = map(int, re.fullmatch(r"(\d+)of(\d+)", part).groups())  # type: ignore[union-attr]
        out.append({"task": task, "codec": codec, "dataset": dataset, "bucket": bucket, "buckets": buckets})
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("config", nargs="?", default="configs/ci.yaml")
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--repeats", type=int, default=1)
    args = parser.parse_args()
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    with tempfile.TemporaryDirectory() as tmp:
        for r in range(args.repeats):
            for mode in ("inline", "local"):
                wall, merge, rows = one(args.config, mode, args.workers, Path(tmp))
                extra = f", merge {merge:.2f} s" if mode == "local" else ""
                print(f"repeat {r + 1} {mode:>6}{f' x{args.workers}' if mode == 'local' else '   '}: "
                      f"{wall:7.1f} s wall, {rows} rows{extra}", flush=True)


if __name__ == "__main__":
    main()
