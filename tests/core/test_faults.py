"""Fault injection, one test per failure found by trying the harness as a hostile user would
(issue "nothing lost, nothing stale, nothing executed from a cache"): disk full and torn writes,
planted pickles, params changed under one label, codecs that cannot be built, two runs on one run
dir, holes in the regression gate, awkward dataset folders and config mistakes."""

from __future__ import annotations

import errno
import json
import os
import pickle
import shutil
import subprocess
from dataclasses import asdict
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import soundfile as sf
import torch

from codecbench.api.datasets import DatasetSpec, load_dataset
from codecbench.api.diskcache import DiskCache
from codecbench.api.rows import Row
from codecbench.cli.main import main
from codecbench.config.runconfig import from_dict, load_config
from codecbench.engine import runner
from codecbench.engine import store as store_module
from codecbench.engine.store import ResultStore, RunDirLocked, StoreWriteError
from codecbench.results.gate import Tolerances, compare_aggregates, write_baseline
from codecbench.results.tables import load_rows, render
from tests.conftest import tone

ROOT = Path(__file__).resolve().parents[2]


def _config(data: Path, out: Path, codecs: list, **extra: object):
    return from_dict({"name": "f", "output_dir": str(out), "codecs": codecs, "metric_profile": "offline",
                      "metrics": [], "batch_size": 2, "datasets": {"d": {"format": "folder", "root": str(data)}},
                      **extra})


def _row(utt: str, value: float = 1.0) -> Row:
    return Row(codec="c", task="t", dataset="d", utt_id=utt, metric="m", value=value)


class _Marker:
    """A pickle that, if ever unpickled, creates a file: proof of code execution."""

    def __init__(self, path: Path) -> None:
        self.path = path

    def __reduce__(self):
        return (Path.touch, (self.path,))


# ---- 1. disk full: short writes, torn lines, full cache ------------------------------------------

def test_short_write_raises_rolls_back_and_keeps_earlier_rows(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    store = ResultStore(tmp_path)
    store.add([_row("a")])
    real_write, calls = os.write, []

    def short_then_full(fd: int, data: bytes) -> int:  # half the bytes, then "No space left"
        calls.append(len(data))
        if len(calls) == 1:
            return real_write(fd, bytes(data[: len(data) // 2]))
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(store_module.os, "write", short_then_full)
    with pytest.raises(StoreWriteError, match="rows.jsonl"):
        store.add([_row("b"), _row("c")])
    monkeypatch.setattr(store_module.os, "write", real_write)
    assert not store.has(("c", "t", "d", "b", "m", "", ""))  # nothing claimed that was not written
    assert store.path.read_bytes().endswith(b"\n")  # rolled back to a whole line
    again = ResultStore(tmp_path)
    assert [r.utt_id for r in again.rows()] == ["a"]
    again.add([_row("b")])
    assert [r.utt_id for r in ResultStore(tmp_path).rows()] == ["a", "b"]


def test_corrupt_and_blank_lines_are_quarantined_with_file_and_line(tmp_path: Path,
                                                                     caplog: pytest.LogCaptureFixture) -> None:
    store = ResultStore(tmp_path)
    store.add([_row("a"), _row("b")])
    lines = store.path.read_text().splitlines(keepends=True)
    store.path.write_text(lines[0] + "\n" + '{"codec": "c", "tas' + lines[1] + '{"not": "a row"}\n' + '{"codec": "c"')
    again = ResultStore(tmp_path)
    assert [r.utt_id for r in again.rows()] == ["a"]  # row b's line was garbled: kept in quarantine
    quarantined = [json.loads(x) for x in again.quarantine.read_text().splitlines()]
    assert [q["line"] for q in quarantined] == [3, 4, 5]
    assert "rows.jsonl:3" in caplog.text
    for _ in range(2):  # the run dir works again: table, and a re-open quarantines nothing new
        ResultStore(tmp_path)
    assert len(again.quarantine.read_text().splitlines()) == 3
    render([tmp_path])


def test_a_run_that_hits_a_full_disk_exits_nonzero_and_resumes(audio_dir: Path, tmp_path: Path,
                                                               monkeypatch: pytest.MonkeyPatch,
                                                               capsys: pytest.CaptureFixture) -> None:
    real_write, budget = os.write, [3]

    def fails_after_three(fd: int, data: bytes) -> int:
        budget[0] -= 1
        if budget[0] < 0:
            raise OSError(errno.ENOSPC, "No space left on device")
        return real_write(fd, data)

    config = ROOT / "configs" / "quickstart.yaml"
    args = ["run", str(config), f"output_dir={tmp_path / 'run'}", "metrics=[]", "codecs=[reference, mulaw-8bit]",
            f"datasets.espeak.root={audio_dir}", "datasets.espeak.format=folder", "datasets.espeak.options={}",
            "--no-progress", "--no-table"]
    monkeypatch.setattr(store_module.os, "write", fails_after_three)
    assert main(args) == 2
    assert "No space left" in capsys.readouterr().err
    monkeypatch.setattr(store_module.os, "write", real_write)
    assert main(args) == 0
    rows = load_rows([tmp_path / "run"])
    assert len(rows[rows["metric"] == "bitrate"]) == 4  # 2 codecs x 2 utterances, none lost


def test_tiny_tmpfs_fills_up_without_losing_rows(tmp_path: Path) -> None:
    mount = tmp_path / "tiny"
    mount.mkdir()
    done = subprocess.run(["mount", "-t", "tmpfs", "-o", "size=16k", "tmpfs", str(mount)], capture_output=True)
    if done.returncode != 0:
        pytest.skip(f"cannot mount a tmpfs here ({done.stderr.decode().strip() or 'not root'})")
    try:
        store = ResultStore(mount)
        written = 0
        with pytest.raises(StoreWriteError):
            for i in range(10_000):
                store.add([Row("c", "t", "d", f"u{i:05d}", "m", value=float(i), extra={"pad": "x" * 200})])
                written += 1
        assert [r.utt_id for r in ResultStore(mount).rows()] == [f"u{i:05d}" for i in range(written)]
    finally:
        subprocess.run(["umount", str(mount)], check=False)


def test_full_cache_is_a_warning_and_the_value_is_still_used(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                                             caplog: pytest.LogCaptureFixture) -> None:
    import codecbench.api.diskcache as diskcache

    def no_space(*args: object, **kwargs: object):
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(diskcache.tempfile, "mkstemp", no_space)
    cache = DiskCache(tmp_path, "x")
    assert cache.get_or_compute("k", lambda: "value", str) == "value"
    assert "could not cache" in caplog.text and cache.get("k") is None


# ---- 2. nothing executed from a cache or a run dir -------------------------------------------------

def test_planted_pickles_in_the_token_cache_never_run(audio_dir: Path, tmp_path: Path,
                                                      monkeypatch: pytest.MonkeyPatch) -> None:
    cache_root = tmp_path / "cache"
    monkeypatch.setenv("CODECBENCH_CACHE", str(cache_root))
    config = _config(audio_dir, tmp_path / "run", ["mulaw-8bit"])
    runner.run(config, progress=False)
    entries = sorted((cache_root / "tokens").rglob("*.npz"))
    assert entries
    marker = tmp_path / "pwned"
    for entry in entries:  # replace every entry by a pickle, and plant the old .pt name beside it too
        entry.write_bytes(pickle.dumps(_Marker(marker)))
        entry.with_suffix(".pt").write_bytes(pickle.dumps(_Marker(marker)))
    shutil.rmtree(tmp_path / "run")
    runner.run(_config(audio_dir, tmp_path / "run", ["mulaw-8bit"]), progress=False, retry_errors=True)
    assert not marker.exists()
    assert len(load_rows([tmp_path / "run"]).query("metric == 'bitrate'")) == 2  # recomputed
    assert all(e.read_bytes()[:2] == b"PK" for e in entries)  # replaced by safe entries


def test_a_planted_probe_checkpoint_never_runs(tmp_path: Path) -> None:
    from codecbench.tasks._probe_model import ProbeItem, TokenProbe, train
    from codecbench.tasks._training import TrainConfig

    marker, ckpt = tmp_path / "pwned", tmp_path / "ckpt.pt"
    torch.save({"model": _Marker(marker), "optimizer": {}, "state": {}, "best_weights": None}, ckpt)
    items = [ProbeItem(f"u{i}", torch.randint(0, 4, (6, 1)), i % 2) for i in range(4)]
    model = TokenProbe([4], 2, "classify", hidden=8, embedding_dim=4)
    state = train(model, items, items, TrainConfig(max_epochs=1), ckpt)
    assert not marker.exists() and state.epoch == 1 and ckpt.is_file()


def test_cache_entries_of_the_wrong_type_are_recomputed(tmp_path: Path) -> None:
    cache = DiskCache(tmp_path, "tokens")
    cache.put("k", {"not": "tokens"})
    from codecbench.api.codec import Tokens

    assert cache.get("k", Tokens) is None and not any(tmp_path.rglob("*.npz"))


# ---- 3. params changed under one label ------------------------------------------------------------

def test_changed_params_under_one_label_recompute_and_keep_history(audio_dir: Path, tmp_path: Path) -> None:
    out = tmp_path / "run"
    for rate in (8000, 16000):
        runner.run(_config(audio_dir, out, [{"name": "opus", "codec": "opus-6kbps",
                                              "params": {"sample_rate": rate}}]), progress=False)
    rows = load_rows([out])
    bitrates = rows[rows["metric"] == "bitrate"]
    assert len(bitrates) == 2 and bitrates["variant"].nunique() == 1  # only the current variant is shown
    all_rows = list(ResultStore(out).rows())
    assert len({r.variant for r in all_rows}) == 2  # the old variant's rows are history, not deleted
    assert (out / "history" / "segment-001" / "config.yaml").read_text().count("8000") == 1
    assert "16000" in (out / "config.yaml").read_text()


# ---- 4. failures that stick; codecs that cannot be built -------------------------------------------

def test_bad_codec_params_and_devices_fail_before_any_work(audio_dir: Path, tmp_path: Path,
                                                          capsys: pytest.CaptureFixture) -> None:
    with pytest.raises(ValueError, match="did you mean 'compression_level'"):
        runner.run(_config(audio_dir, tmp_path / "a", [{"name": "o", "codec": "opus-6kbps",
                                                         "params": {"compresion_level": 1.0}}]), progress=False)
    with pytest.raises(ValueError, match="not a torch device"):
        runner.run(_config(audio_dir, tmp_path / "b", ["reference"], device="cuad"), progress=False)
    assert not (tmp_path / "a" / "rows.jsonl").exists() and not (tmp_path / "b" / "rows.jsonl").exists()


def test_unbuildable_codec_exits_nonzero_and_is_retried_next_run(audio_dir: Path, tmp_path: Path,
                                                                 monkeypatch: pytest.MonkeyPatch,
                                                                 capsys: pytest.CaptureFixture) -> None:
    from codecbench.codecs.mulaw import MuLawCodec
    from codecbench.plugins.registry import CODECS

    class Flaky(MuLawCodec):
        broken = True

        def __init__(self) -> None:
            if Flaky.broken:
                raise OSError(errno.ENOSPC, "No space left on device while unpacking weights")
            super().__init__()

    CODECS.register("flaky-mulaw", Flaky)
    config = tmp_path / "c.yaml"
    config.write_text(json.dumps({"name": "f", "output_dir": str(tmp_path / "run"), "codecs": ["flaky-mulaw"],
                                  "metrics": [], "metric_profile": "offline",
                                  "datasets": {"d": {"format": "folder", "root": str(audio_dir)}}}))
    assert main(["run", str(config), "--no-progress"]) == 1
    out = capsys.readouterr().out
    assert "could not be built: flaky-mulaw" in out and "2 environment" in out
    Flaky.broken = False  # the disk was freed: a plain re-run retries, nothing sticks
    assert main(["run", str(config), "--no-progress"]) == 0
    rows = load_rows([tmp_path / "run"])
    assert (rows["metric"] == "error").sum() == 0 and (rows["metric"] == "bitrate").sum() == 2


# ---- 5. two runs on one run dir -----------------------------------------------------------------

def test_a_second_run_on_a_busy_run_dir_stops_at_once(audio_dir: Path, tmp_path: Path,
                                                       capsys: pytest.CaptureFixture) -> None:
    holder = ResultStore(tmp_path / "run")
    holder.lock()
    try:
        with pytest.raises(RunDirLocked, match="another codecbench run"):
            runner.run(_config(audio_dir, tmp_path / "run", ["reference"]), progress=False)
        config = tmp_path / "c.yaml"
        config.write_text(json.dumps({"name": "f", "output_dir": str(tmp_path / "run"), "codecs": ["reference"],
                                      "metrics": [], "datasets": {"d": {"format": "folder", "root": str(audio_dir)}}}))
        assert main(["run", str(config), "--no-progress"]) == 2
        assert "being written by another codecbench run" in capsys.readouterr().err
    finally:
        holder.unlock()
    runner.run(_config(audio_dir, tmp_path / "run", ["reference"]), progress=False)  # free again
    assert len(list(ResultStore(tmp_path / "run").rows())) == 6  # 2 utterances x 3 rates


# ---- 6. the regression gate ----------------------------------------------------------------------

def _gate(tmp_path: Path, base_rows: list[Row], run_rows: list[Row], allow_new: bool = False) -> pd.Series:
    for name, rows in (("base", base_rows), ("run", run_rows)):  # written as a file from elsewhere would be (the
        (tmp_path / name).mkdir(parents=True)                    # store refuses NaN; an older run may hold one)
        (tmp_path / name / "rows.jsonl").write_text("".join(json.dumps(asdict(r)) + "\n" for r in rows))
    write_baseline(tmp_path / "base", tmp_path / "b.csv")
    tolerances = Tolerances(0.05, {"bitrate": 0.001})
    result = compare_aggregates(tmp_path / "run", tmp_path / "b.csv", tolerances, allow_new=allow_new)
    return result.set_index(["codec", "metric"])["status"]


def _rate(codec: str, utt: str, bits: float, metric: str = "bitrate") -> Row:
    return Row(codec, "resynthesis", "d", utt, metric, value=bits, num=bits, den=1.0, backend="measured")


def test_gate_compares_bitrate_in_the_units_it_shows(tmp_path: Path) -> None:
    status = _gate(tmp_path, [_rate("opus", "u", 12_700)], [_rate("opus", "u", 12_700 * 1.09)])
    assert status[("opus", "bitrate")] == "exceeds tolerance"


def test_gate_fails_on_new_codecs_unless_allowed_on_nan_and_on_lost_utterances(tmp_path: Path) -> None:
    base = [_rate("a", "u1", 100), _rate("a", "u2", 100), _rate("b", "u1", 100)]
    run = [_rate("a", "u1", 100), _rate("b", "u1", 100), _rate("new", "u1", 1),
           Row("b", "resynthesis", "d", "u1", "sim", value=float("nan"), backend="spk")]
    base.append(Row("b", "resynthesis", "d", "u1", "sim", value=0.9, backend="spk"))
    status = _gate(tmp_path, base, run)
    assert status[("a", "bitrate")].startswith("fewer utterances")
    assert status[("new", "bitrate")].startswith("new in run")
    assert status[("b", "sim")] == "missing in run"  # a NaN row is no result: readers skip it
    assert _gate(tmp_path / "again", base, run, allow_new=True)[("new", "bitrate")].startswith("ok")


# ---- 7. datasets ----------------------------------------------------------------------------------

def test_awkward_folders_load_with_unique_ids_and_no_silent_drops(tmp_path: Path,
                                                                  caplog: pytest.LogCaptureFixture) -> None:
    root = tmp_path / "data"
    (root / "a").mkdir(parents=True)
    sf.write(root / "a" / "x.wav", tone(0.5), 16000)
    sf.write(root / "a_x.wav", tone(0.5, seed=1), 16000)
    sf.write(root / "y.wav", tone(0.5, seed=2), 16000)
    sf.write(root / "y.flac", tone(0.5, seed=3), 16000)
    (root / "y.txt").write_bytes("caf\xe9".encode("latin-1"))  # not UTF-8
    (root / "folder.wav").mkdir()
    sf.write(root / "folder.wav" / "inside.wav", tone(0.5, seed=4), 16000)
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    sf.write(elsewhere / "linked.wav", tone(0.5, seed=5), 16000)
    (root / "link").symlink_to(elsewhere, target_is_directory=True)
    (elsewhere / "loop").symlink_to(root, target_is_directory=True)
    odd = os.fsdecode(b"odd-\xff-name.wav")
    sf.write(tmp_path / "tmp.wav", tone(0.5, seed=6), 16000)
    os.rename(tmp_path / "tmp.wav", os.path.join(root, odd))
    utts = load_dataset(DatasetSpec("d", "folder", str(root)))
    ids = sorted(u.utt_id for u in utts)
    assert {"a/x", "a_x", "y.wav", "y.flac", "folder.wav/inside", "link/linked"} <= set(ids)
    assert len(ids) == len(set(ids)) == 7
    assert "not UTF-8" in caplog.text and "folder named like an audio file" in caplog.text
    assert "symlink loop" in caplog.text
    from codecbench.util.audio import load_audio

    assert load_audio(next(u.path for u in utts if "odd" in u.utt_id)).duration == pytest.approx(0.5)


def test_conversions_are_recorded_in_rows(tmp_path: Path) -> None:
    data = tmp_path / "data"
    data.mkdir()
    sf.write(data / "stereo.wav", np.stack([tone(0.5, 22050), tone(0.5, 22050, 300)], 1), 22050)
    runner.run(_config(data, tmp_path / "run", ["reference"]), progress=False)
    (row,) = [r for r in ResultStore(tmp_path / "run").rows() if r.metric == "frame_rate"]
    assert any("mono" in c for c in row.extra["conversions"]) and any("22050->16000" in c
                                                                       for c in row.extra["conversions"])


# ---- 8. config mistakes are one line naming the key ------------------------------------------------

@pytest.mark.parametrize("override, message", [
    ("batch_size=[1", "override batch_size: not valid YAML"),
    ("datasets.clean.limit=abc", "datasets.clean.limit must be an integer, got 'abc'"),
    ("datasets.clean.options={num_paragraph: 1}", "unknown 'num_paragraph'; did you mean 'num_paragraphs'"),
])
def test_config_mistakes_are_clear_errors(override: str, message: str, tmp_path: Path,
                                          capsys: pytest.CaptureFixture) -> None:
    args = ["run", str(ROOT / "configs" / "ci.yaml"), f"output_dir={tmp_path}", override]
    if "options" in override:
        args += ["datasets.clean.format=quickstart"]
    args.append("--no-progress")
    assert main(args) == 2
    err = capsys.readouterr().err
    assert message in err and "Traceback" not in err and len(err.strip().splitlines()) == 1


def test_yaml_syntax_errors_name_file_and_line(tmp_path: Path) -> None:
    bad = tmp_path / "bad.yaml"
    bad.write_text("name: x\ncodecs: [reference\n")
    with pytest.raises(ValueError, match=r"bad.yaml: not valid YAML .* line 3"):
        load_config(bad)


def test_one_name_where_a_list_is_meant_and_quotes_in_data_paths(tmp_path: Path, audio_dir: Path,
                                                                 capsys: pytest.CaptureFixture) -> None:
    config = from_dict({"name": "x", "codecs": "reference", "tasks": "resynthesis",
                        "datasets": {"d": {"format": "folder", "root": "."}}})
    assert config.tasks == ("resynthesis",) and [c.name for c in config.codecs] == ["reference"]
    odd = tmp_path / "it's here"
    shutil.copytree(audio_dir, odd)
    assert main(["quickstart", "--data", str(odd), "--out", str(tmp_path / "q"), "metrics=[]",
                 "codecs=[reference]", "--no-progress"]) == 0
