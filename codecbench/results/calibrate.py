"""``codecbench check --calibrate CONFIG``: measure the gate's tolerances from real noise.

The config runs once as it is (the reference) and once under each perturbation a different machine
brings (:data:`PERTURBATIONS`: other thread counts for torch, ONNX Runtime and CTranslate2, MKL's and
oneDNN's instruction-set paths, a shuffled processing order), each in a fresh process with a fresh cache
(nothing reused). Every utterance and aggregate is compared with the reference; a metric's tolerance is
the largest deviation seen times a safety factor, per utterance and per aggregate. Counts (``num`` /
``den``: frames, bits, word errors) and transcripts are discrete: the deviation seen is recorded as is
(0: compared exactly), and a metric whose transcripts changed under a perturbation is listed in
``varying_text``. The result is written into the tolerance file's ``measured:`` section, with a comment
saying how it was measured; the coarse ``default`` / ``metrics`` of the ``aggregate`` policy are kept.
"""

from __future__ import annotations

import math
import os
import platform
import subprocess
import sys
import tempfile
import time
from datetime import date
from pathlib import Path

import yaml

from codecbench.results.gate import KEY, UTT_KEY, utterance_table
from codecbench.results.tables import load_rows, summarize
from codecbench.util.outdir import atomic_write_text
from codecbench.util.threads import ORDER_VAR, THREADS_VAR

SAFETY_FACTOR = 4.0


def perturbations(cores: int | None = None) -> dict[str, dict[str, str]]:
    """Name -> environment of each perturbed run (thread counts 1 / 2 / all, ISA paths, batch order)."""
    cores = cores or os.cpu_count() or 1
    runs = {f"threads-{n}": {THREADS_VAR: str(n)} for n in sorted({1, 2, cores})}
    runs["mkl-compatible"] = {"MKL_CBWR": "COMPATIBLE"}
    runs["isa-avx2"] = {"MKL_CBWR": "AVX2", "ONEDNN_MAX_CPU_ISA": "AVX2", "CT2_FORCE_CPU_ISA": "AVX2"}
    runs["shuffled-order"] = {ORDER_VAR: "1"}
    return runs


def run_config(config: str, overrides: list[str], out: Path, env: dict[str, str]) -> float:
    """``codecbench run`` of the config into ``out`` with a fresh cache, in its own process; its wall seconds."""
    environment = {**os.environ, "CODECBENCH_CACHE": str(out / "cache"), **env}
    for name in (THREADS_VAR, ORDER_VAR, "MKL_CBWR", "ONEDNN_MAX_CPU_ISA", "CT2_FORCE_CPU_ISA"):
        if name not in env:
            environment.pop(name, None)
    start = time.perf_counter()
    proc = subprocess.run([sys.executable, "-m", "codecbench", "run", config, *overrides, f"output_dir={out / 'run'}",
                           "--no-progress", "--no-table"], env=environment, capture_output=True, text=True)
    if proc.returncode != 0:
        raise RuntimeError(f"calibration run {out.name} failed (exit {proc.returncode}):\n{proc.stderr[-2000:]}")
    return time.perf_counter() - start


def deviations(reference: Path, other: Path) -> dict[str, dict[str, float]]:
    """Per metric: the largest |value| deviation per utterance and per aggregate, the largest count
    deviation, and how many transcripts differ, of ``other``'s rows from ``reference``'s."""
    ref_df, other_df = load_rows([reference], extra="none"), load_rows([other], extra="none")
    utt = utterance_table(ref_df).merge(utterance_table(other_df), on=UTT_KEY, suffixes=("_a", "_b"), how="outer",
                                        indicator=True)
    missing = utt[utt["_merge"] != "both"]
    if not missing.empty:
        raise RuntimeError(f"{other}: {len(missing)} rows are not in both runs, e.g. "
                           f"{missing[UTT_KEY].head(3).to_dict('records')}")
    out: dict[str, dict[str, float]] = {}
    for metric, group in utt.groupby("metric"):
        stats = out.setdefault(str(metric), {"utterance": 0.0, "aggregate": 0.0, "discrete": 0.0, "texts": 0.0})
        value = (group["value_a"].astype(float) - group["value_b"].astype(float)).abs()
        stats["utterance"] = float(value.max()) if value.notna().any() else 0.0
        for column in ("num", "den"):
            diff = (group[f"{column}_a"].astype(float) - group[f"{column}_b"].astype(float)).abs()
            if diff.notna().any():
                stats["discrete"] = max(stats["discrete"], float(diff.max()))
        stats["texts"] = float((group["text_a"].fillna("") != group["text_b"].fillna("")).sum())
    agg = summarize(ref_df).merge(summarize(other_df), on=KEY, suffixes=("_a", "_b"))
    for metric, group in agg.groupby("metric"):
        diff = (group["value_a"].astype(float) - group["value_b"].astype(float)).abs()
        if str(metric) in out and diff.notna().any():
            out[str(metric)]["aggregate"] = float(diff.max())
    return out


def _tolerance(deviation: float, factor: float) -> float:
    if deviation == 0 or math.isnan(deviation):
        return 0.0
    return float(f"{deviation * factor:.3g}")


def calibrate(config: str, overrides: list[str], tolerance_file: Path, factor: float = SAFETY_FACTOR,
              only: list[str] | None = None, workdir: Path | None = None, log=print) -> dict:
    """Run the reference and the perturbed runs, write the measured tolerances; returns the ``measured`` section."""
    check_target(tolerance_file)  # before any run
    runs = perturbations()
    if only:
        unknown = sorted(set(only) - set(runs))
        if unknown:
            raise ValueError(f"unknown perturbations {unknown}; known: {sorted(runs)}")
        runs = {k: v for k, v in runs.items() if k in only}
    root = Path(workdir or tempfile.mkdtemp(prefix="codecbench-calibrate-"))
    log(f"calibrating {config} in {root}: unperturbed + {len(runs)} perturbed runs ({', '.join(runs)})")
    seconds = run_config(config, overrides, root / "unperturbed", {})
    log(f"  unperturbed: {seconds:.0f} s")
    worst: dict[str, dict[str, float]] = {}
    seen: dict[str, dict[str, float]] = {}
    for name, env in runs.items():
        seconds = run_config(config, overrides, root / name, env)
        found = deviations(root / "unperturbed" / "run", root / name / "run")
        moved = {m: s for m, s in found.items() if any(s.values())}
        log(f"  {name}: {seconds:.0f} s; " + (", ".join(f"{m} {s['utterance']:.2g}" for m, s in moved.items())
                                             or "identical to the reference"))
        seen[name] = {m: s["utterance"] for m, s in found.items()}
        for metric, stats in found.items():
            best = worst.setdefault(metric, {"utterance": 0.0, "aggregate": 0.0, "discrete": 0.0, "texts": 0.0})
            for k, v in stats.items():
                best[k] = max(best[k], v)
    measured = {
        "safety_factor": factor,
        "utterance": {m: _tolerance(s["utterance"], factor) for m, s in sorted(worst.items())},
        "aggregate": {m: _tolerance(s["aggregate"], factor) for m, s in sorted(worst.items())},
        "discrete": {m: s["discrete"] for m, s in sorted(worst.items()) if s["discrete"]},
        "varying_text": sorted(m for m, s in worst.items() if s["texts"]),
        "largest_deviation_seen": {m: float(f"{s['utterance']:.3g}") for m, s in sorted(worst.items())},
    }
    write_tolerances(tolerance_file, measured, config, list(runs), runs)
    return measured


HEADER = "# Tolerances of `codecbench check`."


def check_target(path: Path) -> None:
    """Where a calibration may write: never inside the installed package (a wheel's ``configs/`` included), and
    over an existing file only when it is a tolerance file this harness wrote."""
    package = Path(__file__).resolve().parents[1]  # the installed codecbench package
    if path.resolve().is_relative_to(package):
        raise ValueError(f"--tolerances {path} lies inside the installed codecbench package ({package}); a "
                         "calibration writes only your own file (default ./tolerances.yaml)")
    if path.exists():
        try:
            first = path.read_text(encoding="utf-8").splitlines()[:1]
        except (OSError, UnicodeDecodeError):
            first = []
        if first != [HEADER]:
            raise ValueError(f"--tolerances {path} exists and is not a tolerance file codecbench wrote; choose a new "
                             "path (a calibration replaces only its own files)")


def write_tolerances(path: Path, measured: dict, config: str, names: list[str], runs: dict[str, dict[str, str]]
                     ) -> None:
    """The tolerance file with a new ``measured:`` section; ``default`` / ``metrics`` kept as they are."""
    check_target(path)
    existing = yaml.safe_load(path.read_text()) if path.is_file() else {}
    coarse = {k: existing[k] for k in ("default", "metrics") if k in (existing or {})}
    import numpy as np
    import torch

    versions = {"torch": torch.__version__, "numpy": np.__version__}
    for package in ("onnxruntime", "ctranslate2"):
        try:
            versions[package] = __import__(package).__version__
        except ModuleNotFoundError:
            continue
    coarse_lines = [
        "# - default / metrics: the coarse, hand-set aggregate tolerances of `--policy aggregate` (cross-platform",
        "#   gates), absolute, in the units the tables show (bitrate in kbps, frame rate in Hz, dWER in points).",
    ] if coarse else []  # only where the file holds them (kept from the file it replaces)
    header = [
        HEADER,
        *coarse_lines,
        "# - measured: the default `utterance` policy. Written by",
        f"#   `codecbench check --calibrate {config}` on {date.today().isoformat()}: {platform.machine()}, "
        f"{os.cpu_count()} cores, {platform.processor() or platform.system()},",
        "#   " + ", ".join(f"{k} {v}" for k, v in versions.items()) + ".",
        "#   A reference run and one run per perturbation, each in a fresh process with a fresh cache:",
        *[f"#     {name}: {' '.join(f'{k}={v}' for k, v in runs[name].items())}" for name in names],
        f"#   tolerance = largest deviation from the reference seen x {measured['safety_factor']:g} (per utterance in",
        "#   row units, per aggregate in table units); 0 = identical in every run: compared exactly (floor 1e-9).",
        "#   discrete: largest count deviation seen (num/den: frames, bits, word errors); absent = exact.",
        "#   varying_text: metrics whose transcripts changed under a perturbation (others must be identical).",
    ]
    body = yaml.safe_dump({**coarse, "measured": measured}, sort_keys=False)
    atomic_write_text(path, "\n".join(header) + "\n" + body)

