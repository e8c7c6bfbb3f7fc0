"""Sharded runs through submitit: the local executor gives an inline run's rows; only unfinished shards rerun."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

pytest.importorskip("submitit", reason="executors need submitit: pip install 'codecbench[cluster]'")

from codecbench.cli.main import main  # noqa: E402
from codecbench.config.runconfig import ExecutorConfig, from_dict  # noqa: E402
from codecbench.engine import (
    executor,  # noqa: E402
    runner,
)
from codecbench.engine.plan import Shard  # noqa: E402


def _config(root: Path, out: Path, **extra) -> object:
    return from_dict({"name": "x", "output_dir": str(out), "metric_profile": "offline", "metrics": ["dnsmos"],
                      "tasks": ["resynthesis", "codec_info"], "codecs": ["reference", "mulaw-8bit", "codec2-700c"],
                      "datasets": {"d": {"format": "folder", "root": str(root)}}, **extra})


def _sorted_rows(run_dir: Path) -> list[str]:
    return sorted((run_dir / "rows.jsonl").read_text().splitlines())


def test_executor_settings_are_validated() -> None:
    assert ExecutorConfig.from_section(None).inline
    local = ExecutorConfig.from_section({"kind": "local", "workers": 3})
    assert (local.kind, local.workers, local.buckets, local.inline) == ("local", 3, 3, False)
    slurm = ExecutorConfig.from_section({"kind": "slurm", "partition": "gpu", "timeout_min": 30})
    assert slurm.scheduler == {"partition": "gpu", "timeout_min": 30}
    for bad in ({"kind": "cloud"}, {"workers": 0}, {"buckets": 0}, {"kind": "slurm", "partitions": "x"},
                {"poll_s": 5}):
        with pytest.raises(ValueError, match="executor"):
            ExecutorConfig.from_section(bad)


def test_local_executor_in_three_shards_equals_inline_and_resumes(audio_dir: Path, tmp_path: Path, capsys) -> None:
    inline = tmp_path / "inline"
    runner.run(_config(audio_dir, inline), progress=False)
    local = tmp_path / "local"
    sharded = _config(audio_dir, local, executor={"kind": "local", "workers": 2, "buckets": 3})
    runner.run(sharded, progress=False)
    states = executor.status(local)
    assert len(states) == 3 * 3 + 3 and {s for _, s, _ in states} == {"done"}  # 3 buckets x 3 codecs + codec_info
    assert _sorted_rows(local) == _sorted_rows(inline)  # byte for byte after sorting
    # a shard killed mid-way: its marker and rows are gone; only it reruns and the merge is again exact
    victim = next(local / "shards" / s for s, _, _ in states if s.startswith("resynthesis--codec2"))
    lost = {line for line in (victim / "rows.jsonl").read_text().splitlines()}
    (victim / "done").unlink()
    (victim / "rows.jsonl").write_text("")
    (local / "rows.jsonl").write_text("".join(line + "\n" for line in _sorted_rows(local) if line not in lost))
    store = runner.run(sharded, progress=False)
    jobs = (local / "shards" / "jobs.json").read_text()
    assert victim.name in jobs and jobs.count("--") == 1 * 4  # one shard submitted (its id has four "--")
    assert _sorted_rows(local) == _sorted_rows(inline) and len(store) == len(_sorted_rows(inline))
    assert main(["status", str(local)]) == 0 and "12 done" in capsys.readouterr().out
    from codecbench.results.tables import render

    render([inline])
    render([local])  # the same rows, merged from shards in another order: byte-identical summaries
    assert (local / "tables" / "summary.csv").read_bytes() == (inline / "tables" / "summary.csv").read_bytes()


def test_detach_then_merge_on_the_next_run(audio_dir: Path, tmp_path: Path) -> None:
    out = tmp_path / "run"
    config = _config(audio_dir, out, executor={"kind": "local", "workers": 1, "buckets": 2})
    runner.run(config, progress=False, detach=True)
    import json
    import time

    for _ in range(600):  # the detached worker finishes on its own
        if all(s == "done" for _, s, _ in executor.status(out)) and executor.status(out):
            break
        time.sleep(0.2)
    assert not (out / "rows.jsonl").is_file() or not (out / "rows.jsonl").read_text()  # nothing merged yet
    runner.run(config, progress=False)  # submits nothing, merges
    assert json.loads((out / "shards" / "jobs.json").read_text()) == []
    assert _sorted_rows(out) == _sorted_rows(_rerun_inline(audio_dir, tmp_path))


def _rerun_inline(root: Path, tmp: Path) -> Path:
    out = tmp / "inline2"
    if out.exists():
        shutil.rmtree(out)
    runner.run(_config(root, out), progress=False)
    return out


def test_a_shard_retries_its_environment_errors_and_keeps_knowing_the_runs_rows(tmp_path: Path) -> None:
    from codecbench.api.rows import Row
    from codecbench.engine.store import ResultStore

    def row(utt: str, **fields: object) -> Row:
        return Row(codec="c", task="resynthesis", dataset="d", utt_id=utt, metric=str(fields.pop("metric", "x")),
                   **fields)  # type: ignore[arg-type]

    ResultStore(tmp_path).add([row("in-run", value=1.0)])
    shard = Shard("resynthesis", "c", "d", 0, 2)
    store = executor.ShardStore(tmp_path, shard)
    store.add([row("killed", metric="error", error="codec: ChildProcessError: killed",
                   extra={"kind": "environment"}), row("bad", metric="error", error="load: corrupt",
                                                       extra={"kind": "data"})])
    again = executor.ShardStore(tmp_path, shard)
    assert again.drop_errors(("environment",)) == 1
    assert again.has(row("in-run").key) and again.has(row("bad", metric="error").key)
    assert not again.has(row("killed", metric="error").key)
