"""The metric stage of ``configs/ci.yaml``: the code before batched metrics vs now, alternated in one process.

The old code is the commit before the change (``--old``), exported from git into a temporary folder
laid out as the installed package (``codecbench``, ``codecbench.metrics``, ``codecbench.codecs``, ...). Each trial runs
the config's scoring tasks (resynthesis and VC by default) in a fresh run dir with empty caches, and
times every ``score_batch`` call of the task modules and TTS's best-of-N ASR (``DWER.text_errors``):
that is the metric stage. The old and new rows
are then compared: the same keys and transcripts, values within ``--tolerance``.

    python benchmarks/metric_speed.py                       # 2 alternated pairs, CPU
    python benchmarks/metric_speed.py --device cuda --pairs 3
    python benchmarks/metric_speed.py --old d9e7d60 --config configs/tts_shared.yaml --tasks tts_ar \
        --set "codecs=[codec2-700c]"                        # TTS best-of-5 scoring in batches
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
import time
from pathlib import Path
from types import ModuleType

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _old_code import ROOT, Versions, export  # noqa: E402

OLD_REV = "33dc538"  # the last commit before batched metric inference
SCORING_MODULES = ("resynthesis", "voice_conversion", "tts")  # task modules whose score_batch calls are timed


def trial(mods: dict[str, ModuleType], config_path: Path, tasks: list[str], overrides: list[str], device: str,
          work: Path, models: Path) -> tuple[float, float, Path]:
    """One run of the config's scoring tasks with empty caches: (metric-stage seconds, wall, run dir)."""
    cache = work / "cache"
    cache.mkdir(parents=True)
    (cache / "models").symlink_to(models)  # the assembled offline Whisper folder is not rebuilt each trial
    os.environ["CODECBENCH_CACHE"] = str(cache)
    spent = [0.0]
    patched = []

    def timed(original):
        def wrapper(*args, **kwargs):
            start = time.perf_counter()
            try:
                return original(*args, **kwargs)
            finally:
                spent[0] += time.perf_counter() - start
        return wrapper

    for task in SCORING_MODULES:
        module = mods.get(f"codecbench.tasks.{task}")
        if module is not None and hasattr(module, "score_batch"):
            patched.append((module, "score_batch", module.score_batch))
    dwer = mods.get("codecbench.metrics.dwer")
    if dwer is not None:  # TTS picks its best sample by the ASR's errors: scoring too
        patched.append((dwer.DWER, "text_errors", dwer.DWER.text_errors))
    for owner, name, original in patched:
        setattr(owner, name, timed(original))
    config_mod, runner = mods["codecbench.config.runconfig"], mods["codecbench.engine.runner"]
    config = config_mod.load_config(config_path, [f"output_dir={work / 'run'}", f"device={device}",
                                                  f"tasks=[{','.join(tasks)}]", *overrides])
    start = time.perf_counter()
    try:
        runner.run(config, progress=False)
    finally:
        for owner, name, original in patched:
            setattr(owner, name, original)
    return spent[0], time.perf_counter() - start, work / "run"


def compare(old_run: Path, new_run: Path, tolerance: float) -> list[str]:
    """Differences between two runs' rows beyond ``tolerance``, for the outputs both compute (same keys, texts
    and errors). Rows are matched by codec label, task, dataset, utterance and metric: variant ids and code
    fingerprints in backends differ between two versions of the code by design, and outputs only one version
    computes (the old code's DNSMOS P.835, which no table shows) are listed, not compared."""
    def rows(run: Path) -> dict[tuple, dict]:
        out = {}
        for line in (run / "rows.jsonl").read_text().splitlines():
            row = json.loads(line)
            out[tuple(row[k] for k in ("codec", "task", "dataset", "utt_id", "metric"))] = row
        return out

    old, new = rows(old_run), rows(new_run)
    only = {"old": sorted({k[4] for k in set(old) - set(new)}), "new": sorted({k[4] for k in set(new) - set(old)})}
    common_metrics = {k[4] for k in old} & {k[4] for k in new}
    problems = []
    for side, metrics in only.items():
        shared = [m for m in metrics if m in common_metrics]
        if shared:
            problems.append(f"rows of {shared} only in the {side} run")
        elif metrics:
            print(f"outputs only the {side} code computes (not compared): {metrics}")
    worst = 0.0
    both = sorted(set(old) & set(new))
    for key in both:
        a, b = old[key], new[key]
        for field in ("num", "den", "value"):
            x, y = a.get(field), b.get(field)
            if (x is None) != (y is None):
                problems.append(f"{key} {field}: {x} vs {y}")
            elif x is not None:
                worst = max(worst, abs(float(x) - float(y)))
        if a.get("error") != b.get("error"):
            problems.append(f"{key} error: {a.get('error')!r} vs {b.get('error')!r}")
        for field in ("hyp", "sample", "sample_errors", "sample_hyps"):  # transcripts; TTS's best-of-N choice
            x, y = (a.get("extra") or {}).get(field), (b.get("extra") or {}).get(field)
            if x != y:
                problems.append(f"{key} extra.{field}: {x!r} vs {y!r}")
    if worst > tolerance:
        problems.append(f"largest value difference {worst:.3g} > {tolerance}")
    print(f"rows compared: {len(both)} (old run {len(old)}, new run {len(new)}); largest value difference {worst:.3g}")
    return problems


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--old", default=OLD_REV,
                        help=f"git revision of the old code, or a folder exported from one (default {OLD_REV})")
    parser.add_argument("--config", default=str(ROOT / "configs" / "ci.yaml"))
    parser.add_argument("--tasks", default="resynthesis,vc", help="the config's scoring tasks to run")
    parser.add_argument("--set", action="append", default=[], metavar="KEY=VALUE", dest="overrides",
                        help="a config override, as in `codecbench run CONFIG KEY=VALUE`")
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--pairs", type=int, default=2, help="old/new pairs, alternated (order flips each pair)")
    parser.add_argument("--tolerance", type=float, default=1e-4)
    args = parser.parse_args()
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    os.chdir(ROOT)  # the config's relative paths (../shared/data)
    with tempfile.TemporaryDirectory(prefix="metric-speed-") as tmp:
        work = Path(tmp)
        versions = Versions(export(args.old, work))
        models = work / "models"
        models.mkdir()
        times: dict[str, list[tuple[float, float]]] = {"old": [], "new": []}
        runs: dict[str, Path] = {}
        for pair in range(args.pairs):
            for version in (("old", "new") if pair % 2 == 0 else ("new", "old")):
                with versions.use(version) as mods:
                    metric_s, wall_s, run = trial(mods, Path(args.config), args.tasks.split(","), args.overrides,
                                                  args.device, work / f"{version}-{pair}", models)
                times[version].append((metric_s, wall_s))
                runs.setdefault(version, run)
                print(f"pair {pair} {version}: metric stage {metric_s:.1f} s, wall {wall_s:.1f} s", flush=True)
        problems = compare(runs["old"], runs["new"], args.tolerance)
        for version in ("old", "new"):
            metric = [m for m, _ in times[version]]
            print(f"{version}: metric stage {', '.join(f'{m:.1f}' for m in metric)} s")
        ratios = [o[0] / n[0] for o, n in zip(times["old"], times["new"], strict=True)]
        print(f"metric stage ratio old/new: {sum(t[0] for t in times['old']) / sum(t[0] for t in times['new']):.2f} "
              f"(pairwise {', '.join(f'{r:.2f}' for r in ratios)}); wall ratio "
              f"{sum(t[1] for t in times['old']) / sum(t[1] for t in times['new']):.2f}")
        for problem in problems[:20]:
            print("DIFFERENCE:", problem)
        return 1 if problems else 0


if __name__ == "__main__":
    raise SystemExit(main())
