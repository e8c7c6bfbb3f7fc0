"""Where the time goes: per-stage timing records, ``codecbench profile``, and the decode/score prefetch."""

from __future__ import annotations

import json
import threading
import time
from pathlib import Path

import pytest
import soundfile as sf

from codecbench.cli.main import main
from codecbench.config.runconfig import from_dict
from codecbench.engine import runner
from codecbench.util.prefetch import prefetch
from codecbench.util.timing import read_records
from tests.conftest import tone


def test_prefetch_keeps_order_and_raises_where_the_producer_failed() -> None:
    def numbers():
        for i in range(5):
            if i == 3:
                raise ValueError("bad item 3")
            yield i

    got = []
    with pytest.raises(ValueError, match="bad item 3"):
        for value in prefetch(numbers(), 2):
            got.append(value)
    assert got == [0, 1, 2]
    assert list(prefetch(iter(range(10)), 0)) == list(range(10))


def test_prefetch_runs_ahead_and_stops_with_its_consumer() -> None:
    produced: list[int] = []

    def slow():
        for i in range(100):
            produced.append(i)
            yield i

    for value in prefetch(slow(), 1):
        if value == 0:
            deadline = time.time() + 5
            while len(produced) < 2 and time.time() < deadline:
                time.sleep(0.01)
            assert len(produced) >= 2  # the next item was produced while this one was being consumed
        if value == 2:
            break
    time.sleep(0.3)
    assert len(produced) <= 5  # the producer stopped soon after the consumer did
    assert not any(t.name == "bench-prefetch" for t in threading.enumerate())


def _config(root: Path, out: Path, **extra: object):
    return from_dict({"name": "t", "output_dir": str(out), "codecs": ["reference", "mulaw-8bit", "codec2-3200"],
                      "metric_profile": "offline", "metrics": ["snr"], "batch_size": 2,
                      "datasets": {"d": {"format": "folder", "root": str(root)}}, **extra})


@pytest.fixture
def tones(tmp_path: Path) -> Path:
    root = tmp_path / "data"
    root.mkdir()
    for i in range(5):
        sf.write(root / f"t{i}.wav", tone(0.5 + 0.1 * i, 16000, 200 + 50 * i), 16000)
    (root / "broken.wav").write_bytes(b"RIFF....garbage")
    return root


def test_prefetch_leaves_the_rows_unchanged(tones: Path, tmp_path: Path, snr_metric: str) -> None:
    for depth in (0, 1, 3):
        runner.run(_config(tones, tmp_path / f"p{depth}", prefetch=depth), progress=False)
    rows = [sorted((tmp_path / f"p{d}" / "rows.jsonl").read_text().splitlines()) for d in (0, 1, 3)]
    assert rows[0] == rows[1] == rows[2] and any('"error"' in line for line in rows[0])


def test_jobs_record_stage_times_and_profile_shows_them(tones: Path, tmp_path: Path, monkeypatch,
                                                        capsys, snr_metric: str) -> None:
    monkeypatch.setenv("CODECBENCH_CACHE", str(tmp_path / "cache"))
    runner.run(_config(tones, tmp_path / "run"), progress=False)
    records = read_records(tmp_path / "run")
    assert {(r["task"], r["codec"]) for r in records} == {("resynthesis", c)
                                                         for c in ("reference", "mulaw-8bit", "codec2-3200")}
    stages = records[0]["stages"]
    assert {"load", "resample", "encode", "decode", "metric:snr", "store"} <= set(stages)
    assert stages["encode"]["items"] == 5 and stages["metric:snr"]["items"] == 5
    assert all(r["wall_s"] >= max(s["seconds"] for s in r["stages"].values()) for r in records)

    runner.run(_config(tones, tmp_path / "warm"), progress=False)  # a new run dir over warm caches
    warm = read_records(tmp_path / "warm")
    assert all(r["stages"]["metric:snr"]["cached"] == 5 and r["stages"]["metric:snr"]["items"] == 0
               for r in warm if r["codec"] != "reference")
    assert main(["profile", str(tmp_path / "warm")]) == 0
    out = capsys.readouterr().out
    assert "resynthesis / codec2-3200 / d" in out and "metric:snr" in out and "saved_s" in out
    assert (tmp_path / "warm" / "tables" / "timing_stages.csv").is_file()
    assert main(["table", str(tmp_path / "warm"), "--timing"]) == 0
    assert "metric:snr" in capsys.readouterr().out
    runner.run(_config(tones, tmp_path / "run"), progress=False)  # nothing left: no new records
    assert len(read_records(tmp_path / "run")) == len(records)


def test_profile_without_records_is_a_clear_error(tmp_path: Path, capsys) -> None:
    assert main(["profile", str(tmp_path)]) == 2
    assert "no timing records" in capsys.readouterr().err


def test_shard_workers_write_their_own_timing_files(tmp_path: Path) -> None:
    shard = tmp_path / "shards" / "a"
    shard.mkdir(parents=True)
    (shard / "timing.jsonl").write_text(json.dumps({"task": "x", "codec": "c", "dataset": "d", "segment": "s",
                                                    "wall_s": 1.0, "stages": {}}) + "\nnot json\n")
    assert [r["task"] for r in read_records(tmp_path)] == ["x"]
