"""Every boundary holds (issue 38): one test per class of input that enters from outside (options and configs,
metric / task / codec numbers, plugins, the codec contract, output folders, listening-test imports, foreign rows,
item ids, asset copies), each trying several members of its class. A hostile input is refused in one line with
the key, the value and what is allowed (exit 2), or becomes an error row; it never corrupts or loses a result."""

from __future__ import annotations

import json
import random
import textwrap
from pathlib import Path

import pytest
import soundfile as sf
import torch
import yaml

from codecbench import assets
from codecbench.api.rows import ItemId
from codecbench.cli.main import main
from codecbench.config.runconfig import from_dict
from codecbench.engine import runner
from codecbench.engine.store import ResultStore
from codecbench.results.tables import load_rows
from tests.conftest import TOLERANCES, tone
from tests.core.test_third_party_plugins import install_plugin


def _plugin(root: Path, monkeypatch: pytest.MonkeyPatch, module: str, source: str, group: str, name: str) -> None:
    root.mkdir(parents=True, exist_ok=True)
    install_plugin(root, monkeypatch, module, source, group, name)


def _data(root: Path, names: tuple[str, ...] = ("u0", "u1")) -> Path:
    root.mkdir(parents=True, exist_ok=True)
    for i, name in enumerate(names):
        sf.write(root / f"{name}.wav", tone(1.2 + 0.1 * i, freq=160.0 + 30 * i, seed=i), 16000)
    return root


def _config(tmp_path: Path, **extra: object) -> dict:
    data = _data(tmp_path / "data")
    return {"name": "b", "output_dir": str(tmp_path / "run"), "codecs": ["reference"], "metric_profile": "offline",
            "metrics": [], "datasets": {"d": {"format": "folder", "root": str(data)}}, **extra}


def _write_config(tmp_path: Path, **extra: object) -> Path:
    path = tmp_path / "config.yaml"
    path.write_text(yaml.safe_dump(_config(tmp_path, **extra)))
    return path


def _one_line_error(capsys: pytest.CaptureFixture, *fragments: str) -> str:
    err = capsys.readouterr().err
    lines = [line for line in err.strip().splitlines() if line.strip()]
    assert len(lines) == 1 and "Traceback" not in err, err
    assert all(f in lines[0] for f in fragments), (fragments, lines[0])
    return lines[0]


# ---- 1. options and configs: validated completely before any work -------------------------------------------

@pytest.mark.parametrize(("override", "fragments"), [
    ("task_options={si_probe: {max_epochs: -1}}", ("task_options.si_probe.max_epochs", ">= 1", "-1")),
    ("task_options={tts_ar: {batch_size: true}}", ("task_options.tts_ar.batch_size", "integer", "True")),
    ("task_options={asr_probe: {batch_size: 2.9}}", ("task_options.asr_probe.batch_size", "integer", "2.9")),
    ("task_options={ser_probe: {max_steps: 0}}", ("task_options.ser_probe.max_steps", ">= 1", "0")),
    ("task_options={tts_nar: {lr: .nan}}", ("task_options.tts_nar.lr", "finite", "nan")),
    ("task_options={resynthesys: {}}", ("task_options.resynthesys", "did you mean 'resynthesis'")),
    ("task_options={resynthesis: {referense: clean}}", ("task_options.resynthesis", "did you mean 'reference'")),
    ("metric_options={dnsmos: {batch_size: -1}}", ("metric_options.dnsmos", "does not score with")),
    ("metric_options={dwr: {batch_size: 2}}", ("metric_options.dwr", "did you mean 'dwer'")),
    ("max_seconds=.nan", ("max_seconds", "finite", "nan")),
    ("max_seconds=0", ("max_seconds", "> 0")),
    ("batch_size=true", ("batch_size", "integer", "True")),
    ("seed=-3", ("seed", "in [0,", "-3")),
    ("prefetch=1000", ("prefetch", "in [0, 64]", "1000")),
    ("executor={kind: local, workers: 0}", ("executor.workers", "in [1, 1024]", "0")),
    ("executor={kind: slurm, mem_gb: lots}", ("executor.mem_gb", "integer", "lots")),
    ("datasets.d.limit=0", ("datasets.d.limit", ">= 1", "0")),
    ("datasets.d.limti=3", ("datasets.d", "unknown key 'limti'", "did you mean 'limit'")),
    ("codecs=[{name: o, codec: opus-6kbps, params: {compression_level: 2}}]",
     ("compression_level", "in [0, 1]", "2")),
    ("codecs=[{name: o, codec: opus-6kbps, params: {sample_rate: 44100}}]", ("sample_rate", "one of", "44100")),
    ("codecs=[{name: o, codec: codec2-700c, params: {mode: 700.0}}]", ("mode", "one of", "700.0")),
    ("batchsize=3", ("config", "did you mean 'batch_size'")),
])
def test_options_and_configs_are_checked_before_any_work(override: str, fragments: tuple[str, ...], tmp_path: Path,
                                                         capsys: pytest.CaptureFixture) -> None:
    config = _write_config(tmp_path, metrics=["dwer"] if "dnsmos" in override else [])
    assert main(["run", str(config), override, "--no-progress", "--no-table"]) == 2
    _one_line_error(capsys, *fragments)
    assert not (tmp_path / "run" / "rows.jsonl").exists()  # no work done


def test_metric_options_out_of_range_are_refused_for_a_scored_metric(tmp_path: Path,
                                                                    capsys: pytest.CaptureFixture) -> None:
    from codecbench.config.profiles import metric_settings

    for given, fragment in (({"batch_size": -1}, "in [1, 4096]"), ({"batch_size": True}, "integer"),
                            ({"batch_size": 2.5}, "integer"), ({"outputs": ["x"]}, "set by profile")):
        with pytest.raises(ValueError, match="metric_options.dnsmos") as err:
            metric_settings("offline", ["dnsmos"], {"dnsmos": given})
        assert fragment in str(err.value)


def test_yaml_refuses_duplicate_keys_and_alias_bombs(tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    body = yaml.safe_dump(_config(tmp_path))
    dup = tmp_path / "dup.yaml"
    dup.write_text("batch_size: 2\nbatch_size: 3\n" + body)
    assert main(["run", str(dup), "--no-progress"]) == 2
    _one_line_error(capsys, "batch_size", "twice")
    lines = ["a0: &a0 [x, x, x, x, x, x, x, x, x, x]"]
    lines += [f"a{i}: &a{i} [" + ", ".join([f"*a{i - 1}"] * 10) + "]" for i in range(1, 9)]
    bomb = tmp_path / "bomb.yaml"
    bomb.write_text("\n".join(lines) + "\ndescription: *a8\n" + body)
    assert len(bomb.read_bytes()) < 4096  # a small file that would expand to 10^9 values
    assert main(["run", str(bomb), "--no-progress"]) == 2
    _one_line_error(capsys, "expands to more than")
    assert not (tmp_path / "run").exists()
    assert main(["run", str(_write_config(tmp_path)), "batch_size=[1", "--no-progress"]) == 2
    _one_line_error(capsys, "override batch_size", "not valid YAML")


# ---- 2. a non-finite number is never a result --------------------------------------------------------------

NAN_METRIC = '''
    """A metric that returns NaN for one utterance and infinity as a denominator for the other."""
    from codecbench.api import Backend, Metric, MetricOutput, Score, register_metric


    @register_metric("nanny")
    class Nanny(Metric):
        name = "nanny"
        outputs = (MetricOutput("nanny", "Nanny", True, order=91),)
        profiles = {"offline": Backend()}
        calls = 0

        @property
        def backend(self):
            return "nanny"

        def compute(self, hyp, ref, meta):
            type(self).calls += len(hyp)
            return [{"nanny": Score(float("nan")) if m.utt_id == "u0" else Score(1.0, 1.0, float("inf"))}
                    for m in meta]
'''

NAN_CODEC = '''
    """A codec whose decoder returns NaN audio."""
    import torch

    from codecbench.api import Codec, Tokens, register_codec


    @register_codec("nan-decoder")
    class NanDecoder(Codec):
        codebook_sizes = [2]
        nominal_frame_rate = 16000.0

        def encode(self, wav, lengths):
            return Tokens(codes=(wav > 0).long()[..., None], lengths=lengths.clone(), num_samples=lengths.clone())

        def decode(self, tokens):
            return torch.full(tokens.codes.shape[:2], float("nan")), tokens.lengths.clone()
'''


def test_non_finite_numbers_become_error_rows_and_are_never_cached(tmp_path: Path,
                                                                   monkeypatch: pytest.MonkeyPatch) -> None:
    _plugin(tmp_path / "m", monkeypatch, "nan_metric", NAN_METRIC, "codecbench.metrics", "nanny")
    _plugin(tmp_path / "c", monkeypatch, "nan_codec", NAN_CODEC, "codecbench.codecs", "nan-decoder")
    monkeypatch.setenv("CODECBENCH_CACHE", str(tmp_path / "cache"))
    data = _data(tmp_path / "data")

    def config(out: str):
        return from_dict({"name": "n", "output_dir": str(tmp_path / out), "metric_profile": "offline",
                          "metrics": ["nanny"], "codecs": ["reference", "nan-decoder"],
                          "datasets": {"d": {"format": "folder", "root": str(data)}}})

    runner.run(config("run"), progress=False)
    rows = list(ResultStore(tmp_path / "run").rows())
    assert not [r for r in rows if r.value is not None and r.value != r.value]  # no NaN value stored
    scored = [r for r in rows if r.codec == "reference" and r.metric == "nanny"]
    assert len(scored) == 2 and all(r.error and "non-finite" in r.error and r.value is None for r in scored)
    assert all("metric nanny" in r.error for r in scored)  # the stage is named
    decoded = [r for r in rows if r.codec == "nan-decoder" and r.metric == "error"]
    assert len(decoded) == 2 and all("NaN" in r.error for r in decoded)
    from codecbench.plugins.registry import METRICS

    calls = METRICS.get("nanny").calls
    runner.run(config("again"), progress=False)  # a new run over the same audio: nothing non-finite was cached
    assert METRICS.get("nanny").calls == calls + 2


def test_task_rows_with_non_finite_numbers_are_error_rows(tmp_path: Path) -> None:
    from codecbench.api.task import TaskContext

    ctx = TaskContext("c", "d", [], ResultStore(tmp_path), lambda: None, lambda: {}, {"m": ("out",)}, None)
    for fields in ({"value": float("nan")}, {"value": 1.0, "den": 0.0 * float("inf")},
                   {"value": float("-inf")}, {"value": 1.0, "num": float("inf"), "den": 1.0}):
        row = ctx.row("t", "u", "out", **fields)
        assert row.value is None and row.error and "metric:m" in row.error and row.extra["stage"] == "metric:m"
    assert ctx.row("t", "u", "frame_rate", value=float("nan")).extra["stage"] == "codec"
    with pytest.raises(ValueError, match="non-finite"):  # the store refuses one made another way
        from codecbench.api.rows import Row

        ResultStore(tmp_path).add([Row("c", "t", "d", "u", "m", value=float("nan"))])


# ---- 3. plugins are isolated --------------------------------------------------------------------------------

BROKEN = {
    "broken_import": "from codecbench.api import register_codec\nfrom torch import no_such_name  # version mismatch\n",
    "broken_runtime": "from codecbench.api import register_codec\nraise RuntimeError('plugin bug')\n",
    "broken_exit": "import sys\nfrom codecbench.api import register_codec\nsys.exit(0)\n",
}


def test_broken_plugins_are_listed_and_never_stop_other_commands(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                                                  capsys: pytest.CaptureFixture) -> None:
    for i, (module, source) in enumerate(BROKEN.items()):
        _plugin(tmp_path / str(i), monkeypatch, module, source, "codecbench.codecs", module.replace("_", "-"))
    assert main(["list", "codecs"]) == 0
    out = capsys.readouterr().out
    for module in BROKEN:
        line = next(line for line in out.splitlines() if module.replace("_", "-") in line)
        assert "BROKEN" in line
    assert "ImportError" in out and "RuntimeError: plugin bug" in out and "SystemExit" in out
    config = _write_config(tmp_path)
    assert main(["run", str(config), "--no-progress", "--no-table"]) == 0  # built-in codecs still run
    assert main(["run", str(config), "codecs=[broken-runtime]", "output_dir=" + str(tmp_path / "r2"),
                 "--no-progress"]) == 2
    _one_line_error(capsys, "broken-runtime", "broken here", "RuntimeError")


# ---- 4. the codec contract: check-codec fails what would make wrong tables, runs refuse it ---------------------

BAD_CODECS = '''
    import sys

    import torch

    from codecbench.api.codec import Codec, Tokens
    from codecbench.plugins.registry import register_codec


    class Base(Codec):
        codebook_sizes = [256]
        nominal_frame_rate = 16000.0
        mode = "ok"

        def __init__(self, mode: str = "ok") -> None:
            super().__init__()
            self.mode = mode
            if mode == "raise":
                raise RuntimeError("cannot build")

        def encode(self, wav, lengths):
            if self.mode == "exit":
                sys.exit(0)
            codes = ((wav.clamp(-1, 1) + 1) * 127.5).long()[..., None]
            if self.mode == "float":
                codes = codes.float()
            side = torch.full((wav.shape[0],), -8.0) if self.mode == "side" else None
            n = lengths + 5 if self.mode == "lengths" else lengths.clone()
            return Tokens(codes=codes, lengths=n, num_samples=lengths.clone(), side_bits=side)

        def decode(self, tokens):
            wav = tokens.codes[..., 0].float() / 127.5 - 1
            if self.mode == "short":
                return wav[:, :100], tokens.lengths.clone()
            if self.mode == "noisy":
                wav = wav + 1e-3 * torch.rand_like(wav)
            return wav, tokens.lengths.clone()


    @register_codec({f"bad-{m}": {"mode": m} for m in ("ok", "raise", "exit", "float", "side", "lengths", "short",
                                                        "noisy")})
    class Bad(Base):
        """Codecs that break one invariant each."""
'''


@pytest.mark.parametrize(("name", "fragment"), [
    ("bad-raise", "FAILED  build"), ("bad-exit", "raised SystemExit"), ("bad-float", "not integers"),
    ("bad-side", "side_bits"), ("bad-lengths", "lengths"), ("bad-short", "the decoded audio holds 100"),
    ("bad-noisy", "decoding the same tokens twice"),
])
def test_check_codec_fails_every_broken_invariant(name: str, fragment: str, tmp_path: Path,
                                                  monkeypatch: pytest.MonkeyPatch,
                                                  capsys: pytest.CaptureFixture) -> None:
    install_plugin(tmp_path, monkeypatch, "bad_codecs", BAD_CODECS, "codecbench.codecs", "bad-ok")
    assert main(["check-codec", name]) == 1
    out = capsys.readouterr().out
    assert fragment in out and "checks passed" in out and "6 of 6" not in out, out


def test_runs_refuse_what_check_codec_fails_as_error_rows(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                                          capsys: pytest.CaptureFixture) -> None:
    install_plugin(tmp_path, monkeypatch, "bad_codecs", BAD_CODECS, "codecbench.codecs", "bad-ok")
    assert main(["check-codec", "bad-ok"]) == 0
    config = _write_config(tmp_path, codecs=["bad-ok", "bad-short", "bad-side", "bad-lengths", "bad-float"])
    assert main(["run", str(config), "--no-progress", "--no-table"]) == 1  # jobs with only errors
    rows = list(ResultStore(tmp_path / "run").rows())
    for codec in ("bad-short", "bad-side", "bad-lengths", "bad-float"):
        mine = [r for r in rows if r.codec == codec]
        assert mine and all(r.metric == "error" and "codec contract" in (r.error or "") for r in mine), mine
    assert {r.metric for r in rows if r.codec == "bad-ok"} == {"frame_rate", "bitrate", "token_rate"}


# ---- 5. commands never destroy their inputs -----------------------------------------------------------------

def test_outputs_never_overlap_inputs_or_foreign_folders(tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    config = _write_config(tmp_path, save_audio="all")
    assert main(["run", str(config), "--no-progress", "--no-table"]) == 0
    run = tmp_path / "run"
    before = {p: p.read_bytes() for p in run.rglob("*") if p.is_file() and "tables" not in p.parts}
    for out in (run, run / "audio", run / "audio" / "resynthesis" / "x", tmp_path, tmp_path / "data" / "r"):
        assert main(["report", str(run), "--out", str(out)]) == 2
        _one_line_error(capsys, "--out")
        assert main(["listen", str(run), "--out", str(out)]) == 2
        _one_line_error(capsys, "--out")
    assert main(["table", str(run), "--out", str(run)]) == 2
    _one_line_error(capsys, "--out")
    foreign = tmp_path / "notes"
    foreign.mkdir()
    (foreign / "index.html").write_text("my own page")
    assert main(["report", str(run), "--out", str(foreign)]) == 2
    _one_line_error(capsys, "not made by this harness")
    assert (foreign / "index.html").read_text() == "my own page"
    assert {p: p.read_bytes() for p in run.rglob("*") if p.is_file() and "tables" not in p.parts} == before
    (tmp_path / "file.txt").write_text("mine")
    (tmp_path / "dangling").symlink_to(tmp_path / "gone")
    for out, fragment in ((tmp_path / "file.txt" / "sub", "is a file"), (tmp_path / "dangling", "link to nothing")):
        assert main(["report", str(run), "--out", str(out)]) == 2
        _one_line_error(capsys, "--out", fragment)
    assert (tmp_path / "file.txt").read_text() == "mine"
    assert main(["report", str(run), "--out", str(tmp_path / "report")]) == 0
    assert main(["report", str(run), "--out", str(tmp_path / "report")]) == 0  # its own folder: regenerated
    assert not list((tmp_path / "report").rglob("*.tmp"))


# ---- 6. listening-test imports carry their provenance -------------------------------------------------------

def _results(spec: dict, code: str, hidden: float | None = 100.0, default: float = 50.0) -> dict:
    ratings = {}
    for item in spec["items"]:
        ratings[item["id"]] = {cid: (hidden if c["role"] == "hidden" else default)
                               for cid, c in item["conditions"].items()}
        ratings[item["id"]] = {k: v for k, v in ratings[item["id"]].items() if v is not None}
    return {"digest": spec["digest"], "participant": code, "ratings": ratings}


def test_listening_imports_check_provenance_listeners_and_files(tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    from codecbench.results import listening

    config = _write_config(tmp_path, save_audio="all", codecs=["reference", "mulaw-8bit"])
    assert main(["run", str(config), "--no-progress", "--no-table"]) == 0
    run, test = tmp_path / "run", tmp_path / "test"
    assert main(["listen", str(run), "--out", str(test), "--items", "2"]) == 0
    spec = json.loads((test / "test.json").read_text())
    assert spec["runs"][0]["name"] == "b" and spec["runs"][0]["variants"]["mulaw-8bit"]

    def save(name: str, data: object) -> str:
        (tmp_path / name).write_text(data if isinstance(data, str) else json.dumps(data))
        return str(tmp_path / name)

    def imported(*files: str) -> int:
        return main(["listen", "import", *files, "--into", str(run), "--test", str(test)])

    for bad in ("{not json", json.dumps([1]), json.dumps({"digest": spec["digest"], "participant": "P1"}),
                json.dumps({**_results(spec, "P1"), "participant": "P 1"}),
                json.dumps({**_results(spec, "P1"), "ratings": {"item01": {"c1": "high"}}}),
                json.dumps({**_results(spec, "P1"), "ratings": {"item01": {"c1": 101}}})):
        assert imported(save("bad.json", bad)) == 2
        _one_line_error(capsys, "bad.json")
    assert main(["listen", "import", save("p.json", _results(spec, "P1")), "--into", str(tmp_path / "nowhere"),
                 "--test", str(test)]) == 2
    _one_line_error(capsys, "not a run folder")
    assert not (tmp_path / "nowhere").exists()
    assert imported(save("p1.json", _results(spec, " p1\n")), save("p1b.json", _results(spec, "P1"))) == 2
    _one_line_error(capsys, "'P1' has two result files")  # " p1\n" and "P1" are one listener
    assert imported(save("p2.json", _results(spec, "P2", hidden=None))) == 1  # no hidden reference: excluded
    record = json.loads((run / "listening.json").read_text())["tests"][spec["digest"]]
    assert "P2" in record["excluded"] and "no rating of the hidden reference" in record["excluded"]["P2"]["reason"]
    assert imported(save("p2b.json", _results(spec, "P2"))) == 2  # a second file of an excluded listener
    _one_line_error(capsys, "excluded at an earlier import")
    assert imported(save("p3.json", _results(spec, "P3"))) == 0
    record = json.loads((run / "listening.json").read_text())["tests"][spec["digest"]]
    assert list(record["kept"]) == ["P3"] and "P2" in record["excluded"]  # cumulative
    store = ResultStore(run, lock=True)  # a concurrent run holds the lock: the import waits for nobody
    try:
        assert imported(save("p4.json", _results(spec, "P4"))) == 2
        _one_line_error(capsys, "being written by another codecbench run")
    finally:
        store.unlock()
    built = (test / "test.json").read_text()
    (test / "test.json").write_text(json.dumps({**json.loads(built), "task": "resynthesis", "note": "edited"}))
    assert imported(save("p6.json", _results(spec, "P6"))) == 2
    _one_line_error(capsys, "changed since the test was built")
    (test / "test.json").write_text(built)
    output = next(p for p in (run / "audio").rglob("*") if p.is_file() and "mulaw" in str(p))
    played = output.read_bytes()
    sf.write(output, tone(1.0, freq=500.0, seed=7), 16000, format=output.suffix.lstrip(".").upper())
    assert imported(save("p6.json", _results(spec, "P6"))) == 2
    _one_line_error(capsys, "not the audio the test played")
    output.write_bytes(played)
    other = _write_config(tmp_path / "other", save_audio="all", codecs=["reference", "mulaw-8bit"],
                          name="b", output_dir=str(tmp_path / "run"))
    assert main(["run", str(other), "codecs=[reference, {name: mulaw-8bit, codec: opus-6kbps}]", "--no-progress",
                 "--no-table"]) == 0  # the label now names another codec
    assert imported(save("p5.json", _results(spec, "P5"))) == 2
    _one_line_error(capsys, "other variants of ['mulaw-8bit']")
    renamed = _write_config(tmp_path / "h", save_audio="all", codecs=["reference", {"name": listening.HIDDEN,
                                                                                     "codec": "mulaw-8bit"}])
    assert main(["run", str(renamed), "--no-progress", "--no-table"]) == 0
    assert main(["listen", str(tmp_path / "h" / "run"), "--out", str(tmp_path / "t2")]) == 2
    _one_line_error(capsys, "name the test's own stimuli")


# ---- 7. foreign and older rows ---------------------------------------------------------------------------------

def test_foreign_and_older_rows_are_read_or_refused_in_one_line(tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    run = tmp_path / "foreign"
    run.mkdir()
    rows = [{"codec": c, "task": "resynthesis", "dataset": "d", "utt_id": u, "metric": m, "value": v, "num": n,
             "den": 10.0} for c in ("a", "b") for u in ("u1", "u2") for m, v, n in (("dwer", 10.0, 1.0),
                                                                                    ("frame_rate", 50.0, 500.0))]
    (run / "rows.jsonl").write_text("".join(json.dumps(r) + "\n" for r in rows))  # no variant, setup, run.json
    assert main(["table", str(run)]) == 0
    assert "| a" in capsys.readouterr().out
    assert main(["table", str(tmp_path / "missing")]) == 2
    _one_line_error(capsys, "rows.jsonl")
    (run / "rows.jsonl").write_text("")
    assert main(["table", str(run)]) == 2
    _one_line_error(capsys, "no rows")


# ---- 8. structured ids are typed fields -----------------------------------------------------------------------

def test_item_ids_are_injective_and_read_from_typed_fields(tmp_path: Path) -> None:
    rng = random.Random(0)
    alphabet = "ab~-@>%seed0123 "
    seen: dict[str, ItemId] = {}
    for _ in range(3000):
        item = ItemId("".join(rng.choice(alphabet) for _ in range(rng.randint(1, 6))),
                      target=rng.choice([None, "".join(rng.choice(alphabet) for _ in range(3))]),
                      seed=rng.choice([None, 0, 3]), rater=rng.choice([None, "P1", "x~y"]))
        assert seen.setdefault(str(item), item) == item  # injective
    data = _data(tmp_path / "data", ("take", "take~2", "a->b", "x@seed3"))
    config = from_dict({"name": "i", "output_dir": str(tmp_path / "run"), "codecs": ["reference"], "metrics": [],
                        "metric_profile": "offline", "save_audio": "all",
                        "datasets": {"d": {"format": "folder", "root": str(data)}}})
    runner.run(config, progress=False)
    df = load_rows([tmp_path / "run"])
    rates = df[df["metric"] == "frame_rate"]
    assert len(set(rates["utt_id"])) == 4
    from codecbench.api.rows import item_sources

    assert set(item_sources(rates).values()) == {"take", "take~2", "a->b", "x@seed3"}
    assert main(["report", str(tmp_path / "run"), "--out", str(tmp_path / "report")]) == 0
    page = (tmp_path / "report" / "resynthesis+d.html").read_text()
    assert page.count("<audio") == 8  # every utterance's own original beside its output
    originals = sorted((tmp_path / "report" / "audio" / "original").rglob("*.flac"))
    assert len(originals) == 4 and len({p.read_bytes() for p in originals}) == 4


# ---- 9. assets verify loads what it checks the way its user does ---------------------------------------------

def test_assets_verify_fails_what_its_user_could_not_load(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                                          capsys: pytest.CaptureFixture) -> None:
    from safetensors.torch import load_file, save_file

    from tests.metrics.random_assets import tiny_utmos

    def verify(name: str, location: Path | str) -> str:
        monkeypatch.setenv(assets.env_var(name), str(location))
        status = str(assets.verify(name))
        assert main(["assets", "verify", name]) == (0 if status.startswith("ok") else 1)
        capsys.readouterr()
        return status

    empty = tmp_path / "empty"
    empty.mkdir()
    assert "empty folder" in verify("utmos22-strong", empty)
    assert "neither a regular file nor a folder" in verify("utmos22-strong", "/dev/zero")
    wrong = tmp_path / "wrong.pt"
    torch.save({"w": torch.zeros(2)}, wrong)  # a torch file, of the wrong tensors
    assert "Missing key" in verify("utmos22-strong", wrong)
    good = tiny_utmos(tmp_path / "utmos")
    assert verify("utmos22-strong", good).startswith("ok")
    (good / "config.json").write_text("{widths")
    assert "config.json does not load" in verify("utmos22-strong", good)
    from codecbench.codecs.dycast.model import DyCAST, build_modules
    from codecbench.codecs.dycast.presets import preset

    dycast = tmp_path / "dycast"
    dycast.mkdir()
    DyCAST(**build_modules(preset("tiny", retriever=False))).to_pretrained(dycast / "model.json")
    (dycast / "model.json").rename(dycast / "config.json")
    assert verify("dycast", dycast).startswith("ok")
    state = load_file(str(dycast / "model.safetensors"))
    state[sorted(state)[0]] = torch.zeros(3)
    save_file(state, str(dycast / "model.safetensors"))
    assert "size mismatch" in verify("dycast", dycast)
    voice = tmp_path / "sensevoice"
    voice.mkdir()
    torch.save({}, voice / "model.pt")
    (voice / "am.mvn").write_text("garbage")
    assert "am.mvn does not load" in verify("sensevoice-small", voice)
    flexi = tmp_path / "flexicodec"
    flexi.mkdir()
    (flexi / "12hz_v1_half_config.yaml").write_text("model: [1, 2")
    save_file({"w": torch.zeros(1)}, str(flexi / "12hz_v1_half.safetensors"))
    assert "not valid YAML" in verify("flexicodec", flexi)
    (flexi / "12hz_v1_half_config.yaml").write_text(textwrap.dedent("model: {}\n"))
    assert verify("flexicodec", flexi).startswith("PROBLEM")


def test_every_numeric_setting_declares_its_type_and_range() -> None:
    """Every field of every option class (task options, codec params, dataset options, metric tunables, the run
    config and its executor) has a type, and every number among them a Range: nothing is checked by hand alone."""
    import dataclasses
    import inspect
    import typing

    from codecbench.config.runconfig import FIELDS, SLURM_KEYS, ExecutorConfig
    from codecbench.plugins.registry import CODECS, DATASETS, METRICS, TASKS, discover
    from codecbench.util.keywords import parameter_hints
    from codecbench.util.options import ranged

    discover()
    unranged: list[str] = []

    def fields_of(cls: type, where: str) -> None:
        hints = typing.get_type_hints(cls, include_extras=True)
        for f in dataclasses.fields(cls):
            hint = hints[f.name]
            if not ranged(hint):
                unranged.append(f"{where}.{f.name}")
            inner = [a for a in typing.get_args(hint) if isinstance(a, type) and dataclasses.is_dataclass(a)]
            for nested in ([hint] if isinstance(hint, type) and dataclasses.is_dataclass(hint) else []) + inner:
                fields_of(nested, f"{where}.{f.name}")

    for name, task in TASKS.items():
        fields_of(task.Options, f"task_options.{name}")
    fields_of(ExecutorConfig, "executor")
    for name, hint in {**FIELDS, **SLURM_KEYS}.items():
        if not ranged(hint):
            unranged.append(f"config.{name}")
    for kind, registry in (("codec", CODECS), ("dataset", DATASETS)):
        for name, plugin in registry.items():
            func = plugin.cls.__init__ if kind == "codec" else plugin
            hints = parameter_hints(func)
            params = [p for p in inspect.signature(func).parameters if p not in ("self", "root")]
            missing = [p for p in params if p not in hints]
            assert not missing, f"{kind} {name}: parameters without a type: {missing}"
            unranged += [f"{kind} {name}.{p}" for p in params if not ranged(hints[p])]
    for name, metric in METRICS.items():
        hints = parameter_hints(metric.__init__)
        for key in metric.tunable:
            assert key in hints, f"metric {name}: tunable {key!r} has no type"
            if not ranged(hints[key]):
                unranged.append(f"metric {name}.{key}")
    assert not unranged, f"numeric settings without a Range: {unranged}"


# ---- 10. imported tables: the paper's numbers and baselines ---------------------------------------------------

def test_published_and_baseline_files_are_checked_where_they_enter(tmp_path: Path,
                                                                   capsys: pytest.CaptureFixture) -> None:
    config = _write_config(tmp_path, codecs=["reference", "mulaw-8bit"])
    assert main(["run", str(config), "--no-progress", "--no-table"]) == 0
    run = str(tmp_path / "run")
    header = "codec,task,dataset,metric,value\n"
    files = {"empty.csv": b"", "binary.csv": bytes(range(256)) * 4, "nocolumn.csv": b"codec,task\nx,y\n",
             "word.csv": (header + "mulaw-8bit,resynthesis,d,frame_rate,high\n").encode(),
             "inf.csv": (header + "mulaw-8bit,resynthesis,d,frame_rate,inf\n").encode(),
             "ragged.csv": (header + 'a,"b\n').encode()}
    for name, body in files.items():
        (tmp_path / name).write_bytes(body)
        assert main(["table", run, "--published", str(tmp_path / name)]) == 2, name
        _one_line_error(capsys, "--published", name)
        assert main(["check", run, "--baseline", str(tmp_path / name), "--tolerances", TOLERANCES]) == 2, name
        _one_line_error(capsys, "baseline", name)
    good = tmp_path / "paper.csv"
    good.write_text(header + "mulaw-8bit,resynthesis,d,frame_rate,99\nmulaw-8bit,resynthesis,d,bitrate,\n")
    assert main(["table", run, "--published", str(good)]) == 0
    assert "mulaw-8bit (paper)" in capsys.readouterr().out
    assert main(["table", run, "--join", "A=resynthesys"]) == 2
    _one_line_error(capsys, "--join", "did you mean resynthesis")
    base = tmp_path / "base.csv"
    assert main(["check", run, "--baseline", str(base), "--write"]) == 0
    lines = base.read_text().splitlines()
    bad_n = tmp_path / "bad_n.csv"
    n_at = lines[0].split(",").index("n")
    bad_n.write_text("\n".join([lines[0], ",".join(c if i != n_at else "" for i, c in enumerate(lines[1].split(",")))]))
    assert main(["check", run, "--baseline", str(bad_n), "--tolerances", TOLERANCES]) == 2
    _one_line_error(capsys, "line 2", "n must be a finite number")
    (tmp_path / "bad_n.rows.csv").write_text("codec,task\n")  # a per-utterance file without its columns
    assert main(["check", run, "--baseline", str(bad_n.with_name("bad_n.csv")), "--policy", "utterance",
                 "--tolerances", TOLERANCES]) == 2
    capsys.readouterr()


def test_check_write_replaces_only_baselines_apart_from_the_run(tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    config = _write_config(tmp_path)
    assert main(["run", str(config), "--no-progress", "--no-table"]) == 0
    run = tmp_path / "run"
    rows = (run / "rows.jsonl").read_bytes()
    for target in (run / "rows.jsonl", run / "audio" / "b.csv", tmp_path / "data" / "b.csv"):
        assert main(["check", str(run), "--baseline", str(target), "--write"]) == 2
        _one_line_error(capsys, "--baseline")
    mine = tmp_path / "notes.csv"
    mine.write_text("my,own\n1,2\n")
    assert main(["check", str(run), "--baseline", str(mine), "--write"]) == 2
    _one_line_error(capsys, "not a baseline file")
    assert mine.read_text() == "my,own\n1,2\n" and (run / "rows.jsonl").read_bytes() == rows
    assert main(["check", str(run), "--baseline", str(tmp_path / "b.csv"), "--write"]) == 0
    assert main(["check", str(run), "--baseline", str(tmp_path / "b.csv"), "--write"]) == 0  # its own: rewritten
    assert main(["check", str(run), "--baseline", str(tmp_path / "b.csv"), "--tolerances", TOLERANCES]) == 0


def test_readers_never_rewrite_rows_and_skip_foreign_lines(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    config = _write_config(tmp_path)
    assert main(["run", str(config), "--no-progress", "--no-table"]) == 0
    run = tmp_path / "run"
    good = json.loads((run / "rows.jsonl").read_text().splitlines()[0])
    foreign = ["{not json", json.dumps({**good, "value": "inf"}), json.dumps({**good, "den": -1.0}),
               json.dumps({**good, "value": 1e300}), json.dumps({**good, "codec": 3}), json.dumps([1, 2])]
    with (run / "rows.jsonl").open("a") as f:
        f.write("\n".join(foreign) + "\n")
    before = (run / "rows.jsonl").read_bytes()
    for command in (["table", str(run)], ["check", str(run), "--baseline", str(tmp_path / "b.csv"), "--write"],
                    ["report", str(run), "--out", str(tmp_path / "report")]):
        assert main(command) == 0, command
        assert (run / "rows.jsonl").read_bytes() == before, command  # a reader quarantines nothing
    assert "6 lines are not result rows" in caplog.text and "got 'inf'" in caplog.text
    summary = (tmp_path / "b.csv").read_text()
    assert "inf" not in summary and "1e+300" not in summary


def test_runs_follow_their_data_and_stay_outside_it(tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    config = _write_config(tmp_path)
    assert main(["run", str(config), "--no-progress", "--no-table"]) == 0
    run = tmp_path / "run"
    first = {r.utt_id: r.value for r in ResultStore(run).rows() if r.metric == "frame_rate"}
    sf.write(tmp_path / "data" / "u0.wav", tone(2.0, freq=300.0, seed=9), 16000)  # the data changed under the run
    assert main(["run", str(config), "--no-progress", "--no-table"]) == 0
    df = load_rows([run])
    assert len(df[df["metric"] == "frame_rate"]) == 2  # current rows only: the stale ones are not shown
    assert len([r for r in ResultStore(run).rows() if r.metric == "frame_rate"]) == 4  # recomputed, old ones kept
    setups = json.loads((run / "run.json").read_text())["setups"]
    assert all(isinstance(by_data, dict) and "d" in by_data for by_data in setups.values())
    assert set(first) == {"u0", "u1"}
    inside = _write_config(tmp_path / "x", output_dir=str(tmp_path / "x" / "data" / "runs"))
    assert main(["run", str(inside), "--no-progress", "--no-table"]) == 2
    _one_line_error(capsys, "output_dir")
    assert not (tmp_path / "x" / "data" / "runs").exists()
    assert main(["run", str(config), "--detach", "--no-progress"]) == 2
    _one_line_error(capsys, "--detach")
    assert main(["run", str(config), "datasets.d.ids=[u0, u0]", "--no-progress"]) == 2
    _one_line_error(capsys, "datasets.d.ids", "more than once")
    assert main(["run", str(config), "datasets.d.ids=[nope]", "--no-progress"]) == 2
    _one_line_error(capsys, "datasets.d.ids", "'nope'", "2 utterances")


def test_decoded_lengths_may_miss_what_an_encoder_window_costs_but_no_more() -> None:
    from codecbench.api.contract import LENGTH_FRAMES, audio_problems, hop
    from codecbench.codecs.mulaw import MuLawCodec

    codec = MuLawCodec()
    codec.nominal_frame_rate = 50.0  # a 20 ms frame: 320 samples
    frame = hop(codec)
    wav = torch.zeros(1, 81656)
    for short, fine in ((376, True), (int(LENGTH_FRAMES * frame), True), (int(LENGTH_FRAMES * frame) + 2, False)):
        problems = audio_problems(codec, wav, torch.tensor([81656 - short]), 1, torch.tensor([81656]))
        assert (not problems) == fine, (short, problems)  # 376: FocalCodec's WavLM window on a real clip
