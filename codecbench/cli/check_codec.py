"""``codecbench check-codec NAME``: the codec contract (:mod:`codecbench.api.contract`) on one installed codec, a
third-party plugin's included, with no checkout of this repository."""

from __future__ import annotations

import argparse
import functools
import os
import subprocess
import sys
import time
from collections.abc import Callable


def add_parsers(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("check-codec", help="run the codec contract checks on an installed codec (plugin authors)")
    p.add_argument("name", help="a registry name (codecbench list codecs)")
    p.add_argument("params", nargs="*", metavar="KEY=VALUE", help="constructor params (values parsed as YAML)")
    p.add_argument("--as-registered", action="store_true",
                   help="build it as registered (its weights); default: its declared test_params (a small "
                        "random-weight instance where the plugin offers one) under the given params")
    p.add_argument("--device", default="cpu")
    p.add_argument("--in-process", action="store_true", help=argparse.SUPPRESS)  # the child that runs the checks
    p.set_defaults(handler=cmd_check_codec)


def _run(step: Callable[[], str]) -> tuple[str, str]:
    """``("ok", detail)`` or ``("FAILED", why)``: anything a plugin raises, ``SystemExit`` included, is a failed
    check, never a traceback or an exit code of its own."""
    from codecbench.api.contract import ContractError

    try:
        return "ok", step()
    except KeyboardInterrupt:
        raise
    except ContractError as err:
        return "FAILED", str(err)
    except BaseException as err:  # noqa: BLE001 - a crash inside the codec is a failed check, reported as such
        return "FAILED", f"raised {type(err).__name__}: {str(err).splitlines()[0][:300] if str(err) else ''}"


VERDICT = "checks passed"


def cmd_check_codec(args: argparse.Namespace) -> int:
    """The checks run in a child process, so a codec that ends the interpreter (``os._exit``, a crash in native
    code) is a failure too: exit 0 only when the child printed the verdict of every check and it was a pass."""
    if args.in_process:
        return _check_here(args)
    command = [sys.executable, "-m", "codecbench", "check-codec", args.name, *args.params, "--device", args.device,
               "--in-process"] + (["--as-registered"] if args.as_registered else [])
    child = subprocess.run(command, capture_output=True, text=True, env={**os.environ, "PYTHONUNBUFFERED": "1"})
    sys.stdout.write(child.stdout)
    sys.stderr.write(child.stderr)
    last = child.stdout.strip().splitlines()[-1] if child.stdout.strip() else ""
    if child.returncode == 2:
        return 2  # a usage error (an unknown codec, a bad param), said in one line
    if VERDICT not in last:
        print(f"FAILED: the codec ended the process (exit {child.returncode}) before every check ran")
        return 1
    return 0 if child.returncode == 0 and "failed" not in last else 1


def _check_here(args: argparse.Namespace) -> int:
    import torch

    from codecbench.api.contract import CHECKS
    from codecbench.config.runconfig import CodecSpec, apply_override
    from codecbench.engine.jobs import build_codec
    from codecbench.engine.plan import check_codec_params
    from codecbench.plugins.registry import CODECS, discover

    discover()
    factory = CODECS.get(args.name)  # KeyError with the names it knows
    if factory.cls.capabilities.recorded:
        print(f"{args.name} reads recorded outputs: nothing is encoded or decoded, so there is no contract to check")
        print(f"0 of 0 {VERDICT} (nothing to check)")
        return 0
    params: dict = {} if args.as_registered else dict(factory.cls.test_params)
    for given in args.params:
        apply_override(params, given)
    spec = CodecSpec(args.name, args.name, params)
    check_codec_params(spec)
    shown = ", ".join(f"{k}={v}" for k, v in params.items()) or "as registered"
    holder = {}

    def build() -> str:
        torch.manual_seed(0)
        codec = holder["codec"] = build_codec(spec, args.device)
        return (f"{type(codec).__name__}, {codec.sample_rate} Hz in, {codec.output_sample_rate} Hz out, "
                f"codebooks {list(codec.codebook_sizes)}")

    print(f"{args.name} ({shown}):")
    results: list[str] = []
    steps: dict[str, Callable[[], str]] = {"build": build}
    steps.update({name: functools.partial(lambda check, held: check(held["codec"]), check, holder)
                  for name, check in CHECKS.items()})
    for name, step in steps.items():
        if "codec" not in holder and name != "build":
            print(f"  {'SKIPPED':<7} {name:<12} {'':>8}  not run: the codec could not be built")
            results.append("skipped")
            continue
        start = time.perf_counter()
        status, detail = _run(step)
        results.append(status)
        print(f"  {status:<7} {name:<12} {time.perf_counter() - start:6.2f} s  {detail}")
    passed = results.count("ok")
    print(f"{passed} of {len(steps)} {VERDICT}" + ("" if passed == len(steps) else
                                                     f" ({len(steps) - passed} failed or not run)"))
    return 0 if passed == len(steps) else 1
