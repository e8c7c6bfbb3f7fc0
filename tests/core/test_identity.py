"""One identity rule for everything persisted (issue "every cached thing keyed by everything that made it"):
code edits, options and metric changes recompute what they affect and nothing else; names reach the file
system only injectively; failures are never a zero exit; reports copy only their run's saved audio; asset
copies are loaded to be verified; long files are refused from their header; intervals ignore row order."""

from __future__ import annotations

import json
import os
import random
import sys
import textwrap
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf

from codecbench import assets
from codecbench.cli.main import main
from codecbench.config.runconfig import from_dict
from codecbench.engine import runner
from codecbench.engine.store import ResultStore
from codecbench.plugins import registry
from codecbench.results.tables import load_rows, render
from codecbench.util.names import file_name
from codecbench.util.timing import read_records
from tests.conftest import TOLERANCES, tone
from tests.core.test_third_party_plugins import install_plugin

CODEC = '''
    """A uniform quantizer in one file (edited between runs by the tests)."""
    import torch

    from codecbench.api import Codec, Tokens, register_codec


    @register_codec({"quant": {"bits": 4}})
    class Quant(Codec):
        def __init__(self, bits: int = 4) -> None:
            super().__init__()
            self.levels = 2 ** bits
            self.codebook_sizes = [self.levels]
            self.nominal_frame_rate = float(self.sample_rate)

        def encode(self, wav, lengths):
            codes = torch.round((wav.clamp(-1, 1) + 1) / 2 * (self.levels - 1)).long()
            return Tokens(codes=codes[..., None], lengths=lengths.clone(), num_samples=lengths.clone())

        def decode(self, tokens):
            return tokens.codes[..., 0].float() / (self.levels - 1) * 2 - 1, tokens.lengths.clone()
'''

METRIC = '''
    """Peak level in one file (edited between runs by the tests)."""
    import numpy as np

    from codecbench.api import Backend, Metric, MetricOutput, Score, register_metric


    @register_metric("peak")
    class Peak(Metric):
        name = "peak"
        outputs = (MetricOutput("peak", "Peak", None, order=90),)
        profiles = {"offline": Backend()}

        @property
        def backend(self):
            return "numpy-peak"

        def compute(self, hyp, ref, meta):
            return [{"peak": Score(float(np.abs(h).max()))} for h in hyp]
'''

TASK = '''
    """Level of the decoded audio times an option: a task in one file."""
    import numpy as np
    import torch

    from dataclasses import dataclass

    from codecbench.api import MetricOutput, Task, load_audio, register_task


    @dataclass(frozen=True)
    class GainOptions:
        factor: float = 1.0


    @register_task("gain")
    class Gain(Task):
        name = "gain"
        Options = GainOptions
        outputs = (MetricOutput("gained", "Gained", None, order=5),)

        def run(self, ctx):
            factor = ctx.options.factor
            for utt in ctx.utterances:
                if not ctx.missing(self.name, utt.utt_id, ["gained"]):
                    continue
                x = load_audio(utt.path).samples
                ctx.add_rows([ctx.row(self.name, utt.utt_id, "gained", value=factor * float(np.abs(x).max()),
                                       backend="numpy")])
'''


def _rewrite(site: Path, module: str, source: str) -> None:
    """Edit a plugin's source as its author would (a new mtime even within one clock tick), and make the
    next import load it afresh."""
    path = site / f"{module}.py"
    before = path.stat().st_mtime_ns
    path.write_text(textwrap.dedent(source))
    os.utime(path, ns=(before + 10**9, before + 10**9))
    sys.modules.pop(module, None)


def _fresh_discovery(monkeypatch: pytest.MonkeyPatch, kind: str, name: str) -> None:
    """Forget a plugin so discovery imports its (edited) module again, as a new process would."""
    reg = registry.ALL[kind]
    items, unavailable = reg.snapshot()
    items.pop(name, None)
    reg.restore((items, unavailable))
    monkeypatch.setattr(registry, "_discovered", False)


def _config(data: Path, out: Path, **keys: object):
    return from_dict({"name": "id", "output_dir": str(out), "metric_profile": "offline", "metrics": [],
                      "datasets": {"d": {"format": "folder", "root": str(data)}}, **keys})


def _values(run_dir: Path, codec: str, metric: str) -> dict[str, float]:
    df = load_rows([run_dir])
    part = df[(df["codec"] == codec) & (df["metric"] == metric)]
    return dict(zip(part["utt_id"], part["value"], strict=True))


def _encode_counts(run_dir: Path) -> dict[str, tuple[int, int]]:
    """``{codec: (encoded, found in the token cache)}`` of the latest segment's resynthesis jobs."""
    records = read_records(run_dir)
    latest = records[-1]["segment"]
    return {r["codec"]: (r["stages"]["encode"]["items"], r["stages"]["encode"]["cached"])
            for r in records if r["segment"] == latest and "encode" in r["stages"]}


# ---- 1. code edits reach the caches; the rest stays cached -----------------------------------------------

def test_an_edited_codec_encode_recomputes_its_tokens_and_leaves_other_codecs_cached(
        audio_dir: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CODECBENCH_CACHE", str(tmp_path / "cache"))
    install_plugin(tmp_path, monkeypatch, "id_codec", CODEC, "codecbench.codecs", "quant")
    runner.run(_config(audio_dir, tmp_path / "a", codecs=["mulaw-8bit", "quant"]), progress=False)
    before = _values(tmp_path / "a", "quant", "bitrate")
    edited = CODEC.replace("self.levels = 2 ** bits", "self.levels = 2 ** (bits + 1)")
    _rewrite(tmp_path / "site", "id_codec", edited)
    _fresh_discovery(monkeypatch, "codecs", "quant")
    runner.run(_config(audio_dir, tmp_path / "b", codecs=["mulaw-8bit", "quant"]), progress=False)
    after = _values(tmp_path / "b", "quant", "bitrate")
    assert all(after[u] == pytest.approx(before[u] * 5 / 4) for u in before)  # 5-bit codes, not the cached 4-bit
    counts = _encode_counts(tmp_path / "b")
    assert counts["quant"] == (2, 0) and counts["mulaw-8bit"] == (0, 2)  # edited: encoded; the other: cached
    # and in the same run dir: the edited codec is a new variant, its rows recomputed, the table current
    runner.run(_config(audio_dir, tmp_path / "a", codecs=["mulaw-8bit", "quant"]), progress=False)
    assert _values(tmp_path / "a", "quant", "bitrate") == after


def test_an_edited_metric_recomputes_its_rows_in_the_same_run_dir_and_leaves_the_others(
        audio_dir: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, snr_metric: str) -> None:
    monkeypatch.setenv("CODECBENCH_CACHE", str(tmp_path / "cache"))
    install_plugin(tmp_path, monkeypatch, "id_metric", METRIC, "codecbench.metrics", "peak")
    out = tmp_path / "run"
    runner.run(_config(audio_dir, out, codecs=["mulaw-8bit"], metrics=["peak", "snr"]), progress=False)
    peak, snr = _values(out, "mulaw-8bit", "peak"), _values(out, "mulaw-8bit", "snr")
    _rewrite(tmp_path / "site", "id_metric", METRIC.replace("float(np.abs(h).max())", "2 * float(np.abs(h).max())"))
    _fresh_discovery(monkeypatch, "metrics", "peak")
    runner.run(_config(audio_dir, out, codecs=["mulaw-8bit"], metrics=["peak", "snr"]), progress=False)
    assert _values(out, "mulaw-8bit", "peak") == {u: pytest.approx(2 * v) for u, v in peak.items()}
    assert _values(out, "mulaw-8bit", "snr") == snr
    latest = [r for r in read_records(out) if r["segment"] == read_records(out)[-1]["segment"]]
    stages = latest[0]["stages"]
    assert stages["metric:peak"]["items"] == 2 and "metric:snr" not in stages  # snr rows were current: not redone
    assert stages["encode"]["cached"] == 2  # the codec's tokens came from the cache
    backends = set(load_rows([out]).query("metric == 'peak'")["backend"])
    history = {json.loads(line)["backend"] for line in (out / "rows.jsonl").read_text().splitlines()
               if '"peak"' in line}
    assert len(backends) == 1 and len(history) == 2  # the edited code is a new backend (the gate names it)


def test_a_changed_task_option_recomputes_its_rows_in_the_same_run_dir(
        audio_dir: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    install_plugin(tmp_path, monkeypatch, "id_task", TASK, "codecbench.tasks", "gain")
    out = tmp_path / "run"
    runner.run(_config(audio_dir, out, codecs=["reference"], tasks=["gain"], task_options={"gain": {"factor": 1}}),
               progress=False)
    once = _values(out, "reference", "gained")
    runner.run(_config(audio_dir, out, codecs=["reference"], tasks=["gain"], task_options={"gain": {"factor": 3}}),
               progress=False)
    assert _values(out, "reference", "gained") == {u: pytest.approx(3 * v) for u, v in once.items()}
    assert "Gained" in render([out])["gain"]
    lines = (out / "rows.jsonl").read_text().splitlines()
    assert len(lines) == 4  # the old rows stay as history, not in the table
    runner.run(_config(audio_dir, out, codecs=["reference"], tasks=["gain"], task_options={"gain": {"factor": 1}}),
               progress=False)  # back to the first setup: its rows are current again, nothing recomputed
    assert _values(out, "reference", "gained") == once and len((out / "rows.jsonl").read_text().splitlines()) == 4


def test_a_bumped_task_version_is_a_new_setup() -> None:
    """``Task.version`` (declared for changes outside the plugin's source) reaches the rows' setup id."""
    from codecbench.api.task import Task
    from codecbench.util.identity import code_fingerprint

    class Old(Task):
        name, version = "versioned", "1"

    class New(Task):
        name, version = "versioned", "2"

    New.__qualname__ = Old.__qualname__  # the same class in the same file, its version bumped
    assert code_fingerprint(Old) != code_fingerprint(New)


# ---- 2. probe checkpoints follow the codec variant -------------------------------------------------------

@pytest.mark.slow
def test_probe_checkpoints_follow_variant_and_label(shared_data: Path, tmp_path: Path) -> None:
    def config(codecs: list) -> object:
        return from_dict({
            "name": "p", "output_dir": str(tmp_path / "run"), "metric_profile": "offline", "metrics": [],
            "tasks": ["si_probe"], "task_options": {"si_probe": {"max_epochs": 1, "max_steps": 2, "batch_size": 8,
                                                                    "hidden": 32, "layers": 1}},
            "codecs": codecs, "datasets": {"vctk": {"format": "manifest", "root": str(shared_data), "limit": 16}}})

    runner.run(config([{"name": "dy a", "codec": "codec2-700c"}, {"name": "dy_a", "codec": "codec2-700c"}]),
               progress=False)
    checkpoints = sorted((tmp_path / "run" / "probes").rglob("ckpt.pt"))
    assert len(checkpoints) == 2 and file_name("dy a") != file_name("dy_a")
    # the same label with other params (other codebooks): a new probe, trained, not a resumed or crashing old one
    runner.run(config([{"name": "dy a", "codec": "codec2-1200"}]), progress=False)
    assert len(sorted((tmp_path / "run" / "probes").rglob("ckpt.pt"))) == 3
    values = load_rows([tmp_path / "run"])
    rows = values[(values["codec"] == "dy a") & (values["metric"] == "si_er")]
    assert len(rows) and rows["error"].isna().all()


# ---- 4. shard ids are injective; 5. a failed shard fails the run ----------------------------------------

def test_shard_ids_never_collide() -> None:
    from codecbench.engine.plan import Shard

    names = ["mu law", "mu_law", "中文", "日本", "..", "a/b", "a_b"]
    ids = {Shard("resynthesis", c, d).id for c in names for d in names}
    assert len(ids) == len(names) ** 2
    assert all("/" not in i and not i.startswith(".") for i in ids)
    assert Shard("t", "c", "d", setup="x").id != Shard("t", "c", "d", setup="y").id  # a new setup: a new folder


@pytest.mark.slow
def test_sharded_run_with_colliding_names_merges_every_row(tmp_path: Path) -> None:
    pytest.importorskip("submitit")
    data = {}
    for name in ("中文", "日本"):
        root = tmp_path / name
        root.mkdir()
        for i in range(2):
            sf.write(root / f"u{i}.wav", tone(0.6, freq=200 + 40 * i, seed=i), 16000)
        data[name] = {"format": "folder", "root": str(root)}
    codecs = [{"name": "mu law", "codec": "mulaw-8bit"}, {"name": "mu_law", "codec": "mulaw-8bit"}]
    raw = {"name": "s", "metric_profile": "offline", "metrics": [], "codecs": codecs, "datasets": data,
           "tasks": ["resynthesis"]}
    runner.run(from_dict({**raw, "output_dir": str(tmp_path / "inline")}), progress=False)
    runner.run(from_dict({**raw, "output_dir": str(tmp_path / "local"),
                          "executor": {"kind": "local", "workers": 2, "buckets": 1}}), progress=False)
    inline = sorted((tmp_path / "inline" / "rows.jsonl").read_text().splitlines())
    assert sorted((tmp_path / "local" / "rows.jsonl").read_text().splitlines()) == inline
    assert len(inline) == 24  # 2 codecs x 2 datasets x 2 utterances x 3 rates


def test_a_failed_shard_makes_the_run_exit_nonzero(audio_dir: Path, tmp_path: Path, capsys) -> None:
    pytest.importorskip("submitit")
    from codecbench.engine import executor

    out = tmp_path / "run"
    config = _config(audio_dir, out, codecs=["reference"], executor={"kind": "local", "workers": 1})
    plan = executor.recorded_plan(config, out)
    (shard,) = plan.shards()
    folder = out / "shards" / shard.id
    folder.mkdir(parents=True)
    (folder / "failed").write_text("RuntimeError: boom")
    summary = runner.summarize_run(plan, ResultStore(out))
    assert summary.failed and any("did not finish" in line and "boom" in line for line in summary.lines())
    (folder / "failed").unlink()
    (folder / "done").write_text("x")
    assert not runner.summarize_run(plan, ResultStore(out)).failed


# ---- 6. saved audio and listening pages never collide ------------------------------------------------------

def test_saved_audio_of_colliding_names_gets_files_of_its_own(tmp_path: Path) -> None:
    data = tmp_path / "data"
    (data / "a").mkdir(parents=True)
    sf.write(data / "a" / "b.wav", tone(0.5, freq=200), 16000)
    sf.write(data / "a_b.wav", tone(0.5, freq=300, seed=1), 16000)
    out = tmp_path / "run"
    runner.run(from_dict({"name": "s", "output_dir": str(out), "metric_profile": "offline", "metrics": [],
                          "save_audio": "all", "codecs": ["reference", {"name": "..", "codec": "mulaw-8bit"}],
                          "datasets": {"x": {"format": "folder", "root": str(data)}}}), progress=False)
    saved = sorted(p.relative_to(out) for p in out.rglob("*.flac"))
    assert len(saved) == 4 and all(p.parts[0] == "audio" and ".." not in p.parts for p in saved)
    df = load_rows([out])
    paths = df[df["metric"] == "frame_rate"]["extra"].map(lambda e: e["audio"])
    assert len(set(paths)) == 4


def test_listening_page_names_are_injective() -> None:
    from codecbench.results.report import page_name

    pairs = [("a", "b_c"), ("a_b", "c"), ("t", "a b"), ("t", "a_b"), ("t", "..")]
    assert len({page_name(t, d) for t, d in pairs}) == len(pairs)
    assert all("/" not in page_name(t, d) for t, d in pairs)


# ---- 7. the report copies only its run's saved audio; an unreadable file is a marked cell --------------------

def test_report_copies_only_saved_audio_and_marks_unreadable_files(tmp_path: Path) -> None:
    pytest.importorskip("matplotlib")
    data = tmp_path / "data"
    data.mkdir()
    for i in range(3):
        sf.write(data / f"u{i}.wav", tone(0.5, freq=180 + 60 * i, seed=i), 16000)
    out = tmp_path / "run"
    runner.run(from_dict({"name": "r", "output_dir": str(out), "metric_profile": "offline", "metrics": [],
                          "save_audio": "all", "codecs": ["mulaw-8bit"],
                          "datasets": {"d": {"format": "folder", "root": str(data)}}}), progress=False)
    secret = tmp_path / "secret.flac"
    sf.write(secret, tone(0.2), 16000)
    rows = [json.loads(line) for line in (out / "rows.jsonl").read_text().splitlines()]
    rates = [r for r in rows if r["metric"] == "frame_rate"]
    rates[0]["extra"]["audio"] = str(secret)  # an absolute path outside the run
    rates[1]["extra"]["audio"] = "../secret.flac"  # a way out of it
    (out / rates[2]["extra"]["audio"]).write_bytes(b"fLaC" + b"\0" * 20)  # a truncated FLAC
    (out / "rows.jsonl").write_text("".join(json.dumps(r) + "\n" for r in rows))
    assert main(["report", str(out), "--out", str(tmp_path / "report")]) == 0
    copied = list((tmp_path / "report" / "audio").rglob("*.flac"))
    assert not any(p.read_bytes() == secret.read_bytes() for p in copied)
    page = (tmp_path / "report" / "resynthesis+d.html").read_text()
    assert page.count("unreadable") >= 1


# ---- 8. assets verify loads what it verifies -----------------------------------------------------------------

def test_assets_verify_loads_local_copies(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys) -> None:
    bad = tmp_path / "utmos.pt"
    bad.write_bytes(random.Random(0).randbytes(4096))  # random bytes where the UTMOS checkpoint belongs
    monkeypatch.setenv(assets.env_var("utmos22-strong"), str(bad))
    assert assets.verify("utmos22-strong").status is assets.AssetStatus.PROBLEM
    assert main(["assets", "verify", "utmos22-strong"]) == 1
    from tests.metrics.random_assets import tiny_utmos, tiny_wavlm_sv

    good = tiny_utmos(tmp_path / "utmos")
    monkeypatch.setenv(assets.env_var("utmos22-strong"), str(good))
    assert assets.verify("utmos22-strong").status is assets.AssetStatus.OK
    assert main(["assets", "verify", "utmos22-strong"]) == 0
    folder = tiny_wavlm_sv(tmp_path / "wavlm")
    monkeypatch.setenv(assets.env_var("wavlm-base-sv"), str(folder))
    assert assets.verify("wavlm-base-sv").status is assets.AssetStatus.OK
    (folder / "model.safetensors").write_bytes((folder / "model.safetensors").read_bytes()[:-4])  # truncated
    assert assets.verify("wavlm-base-sv").status is assets.AssetStatus.PROBLEM
    (folder / "config.json").write_text("{not json")
    verdict = assets.verify("wavlm-base-sv")
    assert "config.json" in verdict.detail and verdict.status is assets.AssetStatus.PROBLEM


# ---- 9. over-long files are refused from their header ----------------------------------------------------------

def test_long_files_and_odd_rates_are_refused_before_decoding(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from codecbench.util import audio

    long = tmp_path / "long.wav"
    sf.write(long, np.zeros((8000 * 70, 2), np.float32), 8000)  # 70 s of stereo
    decoded: list[str] = []
    real_read = audio.sf.read
    monkeypatch.setattr(audio.sf, "read", lambda *a, **k: decoded.append("read") or real_read(*a, **k))
    with pytest.raises(audio.AudioError, match="longer than max_seconds"):
        audio.load_audio(long, max_seconds=60)
    assert decoded == []  # refused from the header: no sample decoded
    slow = tmp_path / "4k.wav"
    sf.write(slow, tone(0.5, rate=4000), 4000)
    with pytest.raises(audio.AudioError, match="outside 8000..192000"):
        audio.load_audio(slow)
    assert audio.load_audio(tmp_path / "long.wav").sample_rate == 8000  # without a limit it still loads


# ---- 10. intervals do not depend on row order -----------------------------------------------------------------

def test_summary_is_byte_identical_whatever_the_row_order(audio_dir: Path, tmp_path: Path) -> None:
    for i in range(2, 6):
        sf.write(audio_dir / f"more{i}.wav", tone(0.4 + 0.1 * i, freq=150 + 30 * i, seed=i), 16000)
    out = tmp_path / "a"
    runner.run(_config(audio_dir, out, codecs=["reference", "mulaw-8bit", "opus-6kbps"]), progress=False)
    shuffled = tmp_path / "b"
    shuffled.mkdir()
    lines = (out / "rows.jsonl").read_text().splitlines()
    random.Random(3).shuffle(lines)
    (shuffled / "rows.jsonl").write_text("".join(line + "\n" for line in lines))
    for name in ("config.yaml", "run.json"):
        (shuffled / name).write_text((out / name).read_text())
    render([out])
    render([shuffled])
    assert (out / "tables" / "summary.csv").read_bytes() == (shuffled / "tables" / "summary.csv").read_bytes()


# ---- 11. the smaller items ----------------------------------------------------------------------------------

def test_status_exits_nonzero_on_a_missing_path_and_lists_planned_and_killed_shards(
        audio_dir: Path, tmp_path: Path, capsys) -> None:
    pytest.importorskip("submitit")
    from codecbench.engine import executor
    from codecbench.engine.jobs import write_run_info
    from codecbench.engine.plan import build_plan

    assert main(["status", str(tmp_path / "nowhere")]) == 2
    out = tmp_path / "run"
    config = _config(audio_dir, out, codecs=["reference", "mulaw-8bit"], executor={"kind": "local", "workers": 1})
    write_run_info(build_plan(config))
    shards = executor.recorded_plan(config, out).shards()
    killed = out / "shards" / shards[0].id
    killed.mkdir(parents=True)
    (killed / "running").write_text(json.dumps({"host": __import__("socket").gethostname(), "pid": 2**22 + 7,
                                                "started": 0}))
    states = {shard: state for shard, state, _ in executor.status(out)}
    assert states == {shards[0].id: "killed", shards[1].id: "pending"}
    assert main(["status", str(out)]) == 1 and "killed" in capsys.readouterr().out


def test_latex_and_markdown_are_escaped_and_csv_cells_neutralised(tmp_path: Path, audio_dir: Path) -> None:
    out = tmp_path / "run"
    runner.run(_config(audio_dir, out, codecs=[{"name": "=1+1&a_b#{x}|y", "codec": "mulaw-8bit"}]), progress=False)
    render([out])
    tex = (out / "tables" / "resynthesis.tex").read_text()
    assert r"=1+1\&a\_b\#\{x\}|y" in tex
    assert r"=1+1&a\_b" not in tex
    assert "=1+1&a_b#{x}\\|y" in (out / "tables" / "resynthesis.md").read_text()
    csv = (out / "tables" / "resynthesis.csv").read_text()
    assert "'=1+1&a_b#{x}|y" in csv and "\n=1+1" not in csv
    from codecbench.util.csvfile import read_csv

    assert read_csv(out / "tables" / "summary.csv")["codec"].iloc[0] == "=1+1&a_b#{x}|y"  # reversible


def test_an_unreadable_clip_is_an_environment_error_retried_next_run(audio_dir: Path, tmp_path: Path,
                                                                     monkeypatch: pytest.MonkeyPatch) -> None:
    from codecbench.util import audio

    real_open = open

    def deny(path, *args, **kwargs):
        if str(path).endswith("utt0.wav"):
            raise PermissionError(13, "Permission denied")
        return real_open(path, *args, **kwargs)

    monkeypatch.setattr(audio, "open", deny, raising=False)
    out = tmp_path / "run"
    runner.run(_config(audio_dir, out, codecs=["mulaw-8bit"]), progress=False)
    errors = [json.loads(line) for line in (out / "rows.jsonl").read_text().splitlines() if '"error"' in line]
    assert [e["extra"]["kind"] for e in errors if e["metric"] == "error"] == ["environment"]
    monkeypatch.undo()
    runner.run(_config(audio_dir, out, codecs=["mulaw-8bit"]), progress=False)  # permissions fixed: retried
    df = load_rows([out])
    assert set(df[df["metric"] == "bitrate"]["utt_id"]) == {"utt0", "utt1"}


def test_paper_accepts_overrides_after_its_options(tmp_path: Path, capsys) -> None:
    assert main(["paper", "table1", "--root", f"librispeech={tmp_path}", "device=cpu", "--dry-run",
                 "--out", str(tmp_path / "run")]) in (0, 1)
    assert "unrecognized arguments" not in capsys.readouterr().err
    with pytest.raises(SystemExit):
        main(["paper", "table1", "--frobnicate"])


def test_a_baseline_without_rows_never_passes(tmp_path: Path, audio_dir: Path, capsys) -> None:
    out = tmp_path / "run"
    runner.run(_config(audio_dir, out, codecs=["mulaw-8bit"]), progress=False)
    empty = tmp_path / "base.csv"
    empty.write_text("codec,task,dataset,metric,value,spread,seeds,n,errors,backend,random_weights\n")
    assert main(["check", str(out), "--baseline", str(empty), "--allow-new", "--tolerances", TOLERANCES]) != 0
