"""How the results layer scales: ``codecbench table``, ``codecbench check``, opening a store for resume and ``codecbench
report``
(no audio) on synthetic run directories of 0.1 M, 1 M and 5 M rows in the real row format.

Rows are a Table-2-shaped resynthesis run: codecs x datasets x utterances, six rows per utterance (frame rate,
bitrate, UTMOS, DNSMOS P.808, dWER with its transcripts, Sim), a few error rows, a ``run.json`` naming the
variants and setups. Each command runs in a fresh process; its wall time and peak RSS (``wait4``) are printed.
The first read of a synthesised store (which writes ``rows.columns.npz``, as the first ``codecbench table`` after a
run does) is timed on its own line; the baseline for ``codecbench check`` is written once per size (not timed).

    python benchmarks/results_scale.py [--rows 100000 1000000 5000000] [--workdir /tmp/results_scale]
        [--only table check open report]
"""

from __future__ import annotations

import argparse
import json
import os
import random
import subprocess
import sys
import time
from pathlib import Path

CODECS = [f"codec-{i:02d}" for i in range(15)]
DATASETS = ["librispeech", "mls", "voicebank", "librimix"]
METRICS = ("frame_rate", "bitrate", "utmos", "dnsmos_p808", "dwer", "sim")
BACKENDS = {"utmos": "utmos:utmos22-strong code=1f2e3d4c5b6a", "dnsmos_p808": "dnsmos:speechmos(model_v8.onnx) "
            "code=994cb5268a2b", "dwer": "faster-whisper:small:float32:beam1:T0+whisper-english-normalizer "
            "code=8c5223e66ddb", "sim": "wavlm-base-sv code=ac786ab4ba2c"}
WORDS = "the of and to a in that he was it his for with as had you not be her on at by which have or from".split()


def synthesise(run_dir: Path, rows: int, seed: int = 0) -> None:
    """``rows`` rows (rounded to whole utterances) written as ``ResultStore.add`` writes them."""
    rng = random.Random(seed)
    run_dir.mkdir(parents=True, exist_ok=True)
    per_utt = len(METRICS)
    utts = max(1, rows // (per_utt * len(CODECS) * len(DATASETS)))
    variants = {c: f"{i:010x}" for i, c in enumerate(CODECS)}
    setups = {"resynthesis/-": "34130efacc", **{f"resynthesis/{m.split('_')[0]}": f"{i:010x}"
                                                 for i, m in enumerate(BACKENDS)}}
    setup_of = {"frame_rate": "resynthesis/-", "bitrate": "resynthesis/-", "utmos": "resynthesis/utmos",
                "dnsmos_p808": "resynthesis/dnsmos", "dwer": "resynthesis/dwer", "sim": "resynthesis/sim"}
    with open(run_dir / "rows.jsonl", "w", encoding="utf-8") as out:
        for codec in CODECS:
            for dataset in DATASETS:
                lines = []
                for u in range(utts):
                    utt = f"{1000 + u // 50}-{12000 + u % 7}-{u:04d}"
                    seconds = round(rng.uniform(2, 20), 4)
                    for metric in METRICS:
                        row = {"backend": BACKENDS.get(metric, "measured"), "codec": codec, "dataset": dataset,
                               "den": None, "error": None, "extra": {}, "metric": metric, "num": None,
                               "setup": f"{setup_of[metric]}/{setups[setup_of[metric]]}", "task": "resynthesis",
                               "utt_id": utt, "value": None, "variant": variants[codec]}
                        if metric in ("frame_rate", "bitrate"):
                            count = rng.randint(10, 80) * seconds
                            row.update(num=count, den=seconds, value=count / seconds)
                            if metric == "frame_rate":
                                row["extra"] = {"decoded_samples": int(seconds * 16000), "pad_or_trim": 0}
                        elif metric == "dwer":
                            words = [rng.choice(WORDS) for _ in range(rng.randint(5, 30))]
                            errors = rng.randint(0, 3)
                            row.update(num=errors, den=len(words), value=errors / len(words))
                            row["extra"] = {"del": 0, "ins": 0, "sub": errors, "ref": " ".join(words),
                                            "hyp": " ".join(words[errors:])}
                        elif rng.random() < 0.001:
                            row.update(error="RuntimeError: synthetic failure", extra={"kind": "data"})
                        else:
                            row["value"] = rng.uniform(1, 5) if metric != "sim" else rng.uniform(0, 1)
                        lines.append(json.dumps(row, sort_keys=True))
                out.write("\n".join(lines) + "\n")
    (run_dir / "run.json").write_text(json.dumps({"name": "scale", "metric_profile": "paper", "variants": variants,
                                                  "setups": setups}), encoding="utf-8")


COMMANDS = {
    "table": "from codecbench.cli.main import main; raise SystemExit(main(['table', {run!r}, '--out', {out!r}]))",
    "check": "from codecbench.cli.main import main; raise SystemExit(main(['check', {run!r}, '--baseline', {base!r}]))",
    "open": "from codecbench.engine.store import ResultStore; s = ResultStore({run!r}); print(len(s), 'keys')",
    "report": "from codecbench.cli.main import main; raise SystemExit(main(['report', {run!r}, '--out', {out!r}]))",
}


def timed(code: str) -> tuple[float, float, int, str]:
    """Wall seconds, peak RSS (MB) and exit code of ``python -c code`` in a fresh process."""
    start = time.perf_counter()
    proc = subprocess.Popen([sys.executable, "-c", code], stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    _, status, usage = os.wait4(proc.pid, 0)
    wall = time.perf_counter() - start
    output = proc.stdout.read() if proc.stdout else ""
    return wall, usage.ru_maxrss / 1024, os.waitstatus_to_exitcode(status), output


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--rows", type=int, nargs="*", default=[100_000, 1_000_000, 5_000_000])
    parser.add_argument("--workdir", default="/tmp/results_scale")
    parser.add_argument("--only", nargs="*", default=list(COMMANDS), choices=list(COMMANDS))
    args = parser.parse_args()
    print(f"python {sys.version.split()[0]}, {os.cpu_count()} CPUs")
    for rows in args.rows:
        run = Path(args.workdir) / f"rows-{rows}"
        if not (run / "rows.jsonl").is_file():
            synthesise(run, rows)
        size_mb = (run / "rows.jsonl").stat().st_size / 2**20
        count = sum(1 for _ in open(run / "rows.jsonl", "rb"))
        if not (run / "rows.columns.npz").is_file():  # the first read parses rows.jsonl and writes the snapshot
            wall, peak, rc, output = timed("from codecbench.engine.rowframe import read_columns; "
                                           f"read_columns({str(run)!r})")
            print(f"{count:>9,} rows ({size_mb:6.0f} MB)  first read (writes rows.columns.npz) {wall:7.2f} s  "
                  f"peak {peak:7.0f} MB  {'ok' if rc == 0 else output[-300:]}", flush=True)
        base = str(Path(args.workdir) / f"baseline-{rows}.csv")
        if "check" in args.only and not Path(base).is_file():
            timed("from codecbench.cli.main import main; "
                  f"main(['check', {str(run)!r}, '--baseline', {base!r}, '--write'])")
        for name in args.only:
            code = COMMANDS[name].format(run=str(run), out=str(run / f"out-{name}"), base=base)
            wall, peak, rc, output = timed(code)
            status = "ok" if rc == 0 else f"exit {rc}: {output.strip().splitlines()[-1] if output.strip() else ''}"
            print(f"{count:>9,} rows ({size_mb:6.0f} MB)  {name:<7} {wall:7.2f} s  peak {peak:7.0f} MB  {status}",
                  flush=True)


if __name__ == "__main__":
    main()
