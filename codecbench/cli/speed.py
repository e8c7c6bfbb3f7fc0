"""``codecbench speed``: seconds of compute per second of audio for codecs and metrics, and the
time of a cached re-run against the first run. Prints figures; never a test."""

from __future__ import annotations

import argparse
import os
import tempfile
import time
from pathlib import Path


def add_parsers(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("speed", help="measure codec and metric cost per audio second, and re-run speed-up")
    p.add_argument("--data", help="folder of audio (default: the synthetic quickstart corpus)")
    p.add_argument("--codecs", nargs="*", help="codec names (default: the quickstart's)")
    p.add_argument("--profile", default="offline", help="metric profile to time (default offline)")
    p.add_argument("--skip-rerun", action="store_true", help="skip the first-vs-cached run timing")
    p.add_argument("--write-costs", metavar="FILE",
                   help="also write the measured seconds per audio second (codecs: encode + decode; metrics) to FILE "
                        "(YAML; `codecbench paper --dry-run` estimates compute hours from the shipped one)")
    p.set_defaults(handler=cmd_speed)


def _utterances(data: str | None):
    from codecbench.api.datasets import DatasetSpec, load_dataset

    spec = DatasetSpec("speed", "folder", data) if data else DatasetSpec("speed", "quickstart")
    return load_dataset(spec)


def cmd_speed(args: argparse.Namespace) -> int:
    import numpy as np
    import torch

    from codecbench.api.codec import pad_batch
    from codecbench.config.profiles import metric_settings
    from codecbench.config.runconfig import CodecSpec, load_config
    from codecbench.engine.jobs import build_codec
    from codecbench.plugins.registry import METRICS, discover
    from codecbench.util.audio import load_audio, resample
    from codecbench.util.shipped import config_file

    discover()
    torch.set_num_threads(max(1, os.cpu_count() or 1))
    utts = _utterances(args.data)
    audio = [load_audio(u.path) for u in utts]
    total = sum(a.duration for a in audio)
    print(f"{len(utts)} utterances, {total:.1f} s of audio, {torch.get_num_threads()} threads\n")
    quick = config_file("quickstart.yaml")
    names = args.codecs or [c.name for c in load_config(quick).codecs]
    print(f"{'codec':<16} {'encode s/s':>11} {'decode s/s':>11}")
    costs: dict[str, dict[str, float]] = {"codecs": {}, "metrics": {}}
    for name in names:
        torch.manual_seed(0)
        codec = build_codec(CodecSpec(name, name))
        wav = [torch.from_numpy(resample(a.samples, a.sample_rate, codec.sample_rate)) for a in audio]
        batch = 8 if codec.capabilities.batched else 1
        enc = dec = 0.0
        with torch.inference_mode():
            for i in range(0, len(wav), batch):
                x, lengths = pad_batch(wav[i:i + batch])
                t0 = time.perf_counter()
                tokens = codec.encode(x, lengths)
                t1 = time.perf_counter()
                codec.decode(tokens)
                enc, dec = enc + t1 - t0, dec + time.perf_counter() - t1
        print(f"{name:<16} {enc / total:>11.4f} {dec / total:>11.4f}")
        costs["codecs"][name] = float(f"{(enc + dec) / total:.4g}")
    print(f"\n{'metric':<10} {'load s':>8} {'s/s':>8}  backend")
    refs = [resample(a.samples, a.sample_rate, 16000) for a in audio]
    # outputs no earlier invocation scored (a fresh noise seed each time), so their scores never come from the
    # cache; the references' may, as in a run, where they are scored once per dataset and not per codec
    nonce = time.time_ns()
    for name, kwargs in metric_settings(args.profile, None).items():
        t0 = time.perf_counter()
        metric = METRICS.get(name)(**kwargs)
        load = time.perf_counter() - t0
        noisy = [r + 0.01 * np.random.default_rng(nonce).standard_normal(len(r)).astype(np.float32)
                 for r in refs]
        t0 = time.perf_counter()
        metric.compute(noisy, refs, utts)
        seconds = (time.perf_counter() - t0) / total
        print(f"{name:<10} {load:>8.2f} {seconds:>8.4f}  {metric.backend}")
        costs["metrics"][f"{args.profile}/{name}"] = float(f"{seconds:.4g}")
    if args.write_costs:
        _write_costs(Path(args.write_costs), costs, total)
    if not args.skip_rerun:
        _rerun_timing(quick, args.data)
    return 0


COSTS_HEADER = ("# Seconds of compute per second of audio (codecs: encode + decode), written by\n"
                "# `codecbench speed --write-costs`")


def _write_costs(path: Path, costs: dict[str, dict[str, float]], seconds: float) -> None:
    """Merge measured costs into ``path`` (earlier entries of other codecs and metrics kept), with the machine."""
    import platform
    from datetime import date

    import torch

    from codecbench.util.outdir import atomic_write_text
    from codecbench.util.yamlfile import dump_yaml, load_yaml

    if path.exists() and not (path.is_file() and path.read_text().startswith(COSTS_HEADER)):
        raise FileExistsError(f"--write-costs {path}: the file exists and was not written by codecbench speed; "
                              "name a new file (it is never overwritten)")
    old = load_yaml(path.read_text(), str(path)) if path.is_file() else {}
    merged = {kind: {**(old.get(kind) or {}), **values} for kind, values in costs.items()}
    machine = (f"{platform.machine()}, {os.cpu_count()} cores, {platform.processor() or platform.system()}, "
               f"torch {torch.__version__}, measured {date.today().isoformat()} on {seconds:.0f} s of audio")
    body = {"device": "cpu", "machine": machine, **merged}
    atomic_write_text(path, COSTS_HEADER + "; `codecbench paper --dry-run` estimates hours from it.\n"
                      + dump_yaml(body))
    print(f"\ncosts written to {path}")


def _rerun_timing(config_path: Path, data: str | None) -> None:
    from codecbench.config.runconfig import load_config
    from codecbench.engine.runner import run

    with tempfile.TemporaryDirectory() as tmp:
        old = os.environ.get("CODECBENCH_CACHE")
        os.environ["CODECBENCH_CACHE"] = str(Path(tmp) / "cache")
        try:
            patch: dict = {"output_dir": f"{tmp}/run"}
            if data:
                patch["datasets"] = {"user": {"format": "folder", "root": data}}
            times = []
            for _ in range(2):  # cold caches, then every row already stored
                t0 = time.perf_counter()
                run(load_config(config_path, patch=patch), progress=False)
                times.append(time.perf_counter() - t0)
            patch["output_dir"] = f"{tmp}/run2"
            t0 = time.perf_counter()
            run(load_config(config_path, patch=patch), progress=False)
            warm = time.perf_counter() - t0
        finally:
            if old is None:
                os.environ.pop("CODECBENCH_CACHE", None)
            else:
                os.environ["CODECBENCH_CACHE"] = old
    print(f"\nquickstart run, cold caches:           {times[0]:8.1f} s")
    print(f"same run again (all rows stored):       {times[1]:8.1f} s  ({times[1] / times[0]:.3f} of first)")
    print(f"new run dir, warm token/transcript cache:{warm:8.1f} s  ({warm / times[0]:.3f} of first)")
