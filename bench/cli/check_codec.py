"""``bench check-codec NAME``: the codec contract (:mod:`bench.contract`) on one installed codec, a
third-party plugin's included, with no checkout of this repository."""

from __future__ import annotations

import argparse
import time


def add_parsers(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("check-codec", help="run the codec contract checks on an installed codec (plugin authors)")
    p.add_argument("name", help="a registry name (bench list codecs)")
    p.add_argument("params", nargs="*", metavar="KEY=VALUE", help="constructor params (values parsed as YAML)")
    p.add_argument("--as-registered", action="store_true",
                   help="build it as registered (its weights); default: its declared test_params (a small "
                        "random-weight instance where the plugin offers one) under the given params")
    p.add_argument("--device", default="cpu")
    p.set_defaults(handler=cmd_check_codec)


def cmd_check_codec(args: argparse.Namespace) -> int:
    import torch

    from bench.config import CodecSpec, apply_override
    from bench.contract import CHECKS, ContractError
    from bench.jobs import build_codec, check_codec_params
    from bench.registry import CODECS, discover

    discover()
    factory = CODECS.get(args.name)  # KeyError with the names it knows
    params: dict = {} if args.as_registered else dict(factory.cls.test_params)
    for given in args.params:
        apply_override(params, given)
    spec = CodecSpec(args.name, args.name, params)
    check_codec_params(spec)
    torch.manual_seed(0)
    codec = build_codec(spec, args.device)
    shown = ", ".join(f"{k}={v}" for k, v in params.items()) or "as registered"
    print(f"{args.name} ({shown}): {type(codec).__name__}, {codec.sample_rate} Hz in, "
          f"{codec.output_sample_rate} Hz out, codebooks {list(codec.codebook_sizes)}")
    failed = 0
    for name, check in CHECKS.items():
        start = time.perf_counter()
        try:
            detail = check(codec)
            status = "ok"
        except ContractError as err:
            failed, status, detail = failed + 1, "FAILED", str(err)
        except Exception as err:  # noqa: BLE001 - a crash inside the codec is a failed check, reported as such
            failed, status, detail = failed + 1, "FAILED", f"raised {type(err).__name__}: {err}"
        print(f"  {status:<6} {name:<11} {time.perf_counter() - start:6.2f} s  {detail}")
    print(f"{len(CHECKS) - failed} of {len(CHECKS)} checks passed")
    return 1 if failed else 0
