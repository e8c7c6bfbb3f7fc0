"""A MUSHRA listening test (ITU-R BS.1534-3) from the saved outputs of any run, and its ratings back as rows.

:func:`build_test` picks items and writes a static, self-contained test folder (``index.html``, ``test.json``, the
stimuli as 16-bit WAV, a webMUSHRA configuration): per item the open reference, a hidden reference, a 3.5 kHz
low-pass anchor and each chosen codec's saved output, all cut to one segment length and loudness-matched. The page
opens from disk; a participant code seeds the order of items and of conditions; ratings stay in the browser and are
exported as one JSON file per participant. :func:`import_ratings` checks those files belong to the test, applies the
BS.1534 post-screening and writes the ratings as rows (metric ``mushra``) into a run folder."""

from __future__ import annotations

import hashlib
import json
import logging
import math
import random
import re
import unicodedata
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import soundfile as sf

from codecbench.api.rows import ItemId, Row, item_sources
from codecbench.engine.runfiles import current_setups, current_variants
from codecbench.engine.store import ResultStore
from codecbench.results.columns import output_specs
from codecbench.results.outputs import dataset_roots, original_files, run_inputs, save_plot, saved_file
from codecbench.results.tables import flagged_codecs, load_rows
from codecbench.util.audio import METRIC_SAMPLE_RATE, load_audio, resample
from codecbench.util.names import file_name
from codecbench.util.outdir import OutputDir, atomic_write, atomic_write_json, check_disjoint

log = logging.getLogger(__name__)
HIDDEN, ANCHOR = "hidden reference", "anchor 3.5 kHz"
TASK, METRIC = "listening", "mushra"
MAX_SECONDS = 10.0
TARGET_DB = -23.0  # gated RMS level every stimulus is brought to
RATER = re.compile(r"^[A-Za-z0-9_-]{1,40}$")
FORMAT = 2  # of test.json: 2 records the runs and variants, conditions by role


@dataclass(frozen=True)
class Item:
    """One trial: the utterance, the file of each condition id, the id's condition (hidden in the page)."""

    id: str
    dataset: str
    utt_id: str
    files: dict[str, str]  # condition id -> WAV path relative to the test folder
    conditions: dict[str, dict[str, Any]]  # condition id -> {role: hidden|anchor|codec, label, codec, variant, run}
    score: float | None  # the objective metric the item was chosen by
    seconds: float  # the segment every condition of the item is cut to
    original_sha256: str = ""  # the recording the test was made of


def lowpass(samples: np.ndarray, rate: int, cutoff: float = 3500.0, taps: int = 511) -> np.ndarray:
    """A linear-phase windowed-sinc (Blackman) low-pass, aligned with its input (the BS.1534 anchor)."""
    n = np.arange(taps) - (taps - 1) / 2
    kernel = np.sinc(2 * cutoff / rate * n) * np.blackman(taps)
    kernel /= kernel.sum()
    return np.convolve(samples, kernel, mode="same").astype(np.float32)


def gated_level_db(samples: np.ndarray, rate: int) -> float:
    """Mean power over 400 ms blocks (75 % overlap) above an absolute gate (-70 dB) and a relative one (10 dB
    under the ungated mean), in dB: BS.1770's gating, without its K-weighting filter."""
    block, hop = int(0.4 * rate), int(0.1 * rate)
    if len(samples) < block:
        powers = np.array([float(np.mean(samples.astype(np.float64) ** 2))])
    else:
        starts = range(0, len(samples) - block + 1, hop)
        powers = np.array([float(np.mean(samples[s:s + block].astype(np.float64) ** 2)) for s in starts])
    powers = powers[powers > 10 ** (-70 / 10)]
    if not len(powers):
        return -math.inf
    relative = powers[powers > np.mean(powers) * 10 ** (-10 / 10)]
    return 10 * math.log10(float(np.mean(relative if len(relative) else powers)))


def match_loudness(stimuli: dict[str, np.ndarray], rate: int) -> dict[str, np.ndarray]:
    """Each stimulus at :data:`TARGET_DB`, then all scaled down together if any would clip."""
    out = {}
    for name, x in stimuli.items():
        level = gated_level_db(x, rate)
        out[name] = x * (10 ** ((TARGET_DB - level) / 20) if math.isfinite(level) else 1.0)
    peak = max(float(np.max(np.abs(x))) for x in out.values())
    scale = 0.99 / peak if peak > 0.99 else 1.0
    return {name: (x * scale).astype(np.float32) for name, x in out.items()}


def quality_metrics(df: pd.DataFrame) -> list[str]:
    """The ranked per-dataset outputs the rows have (the quality columns of the tables, in their declared order),
    MUSHRA itself left out: what items are spread over and what is compared with the listeners."""
    specs = output_specs()
    present = set(df["metric"])
    ranked = [s for s in specs.values() if s.per_dataset and s.higher_is_better is not None and s.name in present
              and s.name != METRIC]
    return [s.name for s in sorted(ranked, key=lambda s: (s.order, s.name))]


def _saved_task(df: pd.DataFrame, task: str | None) -> str:
    """``task``, or the one task whose outputs the rows saved."""
    saved = sorted(set(df.loc[df["audio"].notna(), "task"]))
    if task is not None:
        if task not in saved:
            raise ValueError(f"task {task!r} saved no outputs here (tasks with saved audio: {saved or 'none'})")
        return task
    if len(saved) != 1:
        raise ValueError(f"name the task to test with --task (tasks with saved audio: {saved or 'none'}; "
                         "run with save_audio)")
    return str(saved[0])


def _saved_outputs(df: pd.DataFrame, run_dirs: list[Path], task: str
                   ) -> dict[tuple[str, str, str], tuple[Path, str, str]]:
    """``(codec, dataset, source utterance) -> (file, variant, run folder)`` of every saved output of ``task`` that
    is about one recorded utterance (not a conversion to another speaker, not one seed of several)."""
    rows = df[(df["task"] == task) & (df["metric"] == "frame_rate") & df["audio"].notna()
              & df["item_target"].isna()]
    sources = item_sources(rows)
    found: dict[tuple[str, str, str], tuple[Path, str, str]] = {}
    for row in rows.itertuples():
        for run_dir in run_dirs:
            path = saved_file(run_dir, row.audio)
            if path is not None:
                key = (str(row.codec), str(row.dataset), sources[str(row.utt_id)])
                found.setdefault(key, (path, str(row.variant), str(run_dir)))
                break
    return found


def choose_items(scores: dict[tuple[str, str], float | None], count: int, seed: int) -> list[tuple[str, str]]:
    """``count`` items spread over the metric's range: the candidates sorted by score, taken at evenly spaced
    ranks (the lowest and the highest included); without scores, a seeded draw. Ties in score break by id."""
    candidates = sorted(scores)
    if len(candidates) <= count:
        return candidates
    if any(v is None for v in scores.values()):
        return sorted(random.Random(seed).sample(candidates, count))
    ranked = sorted(candidates, key=lambda k: (float(scores[k] or 0.0), k))
    picks = sorted({round(i * (len(ranked) - 1) / (count - 1)) for i in range(count)}) if count > 1 else [0]
    return [ranked[i] for i in picks]


def run_identity(run_dir: Path) -> dict[str, Any]:
    """What a listening test records of a run it was built from: its name, the codec variants and the task setups
    of its latest segment (``run.json``)."""
    try:
        info = json.loads((Path(run_dir) / "run.json").read_text(encoding="utf-8"))
    except (OSError, ValueError) as err:
        raise ValueError(f"{run_dir} is not a run folder (no readable run.json: {err})") from err
    if not isinstance(info, dict):
        raise ValueError(f"{run_dir}/run.json is not a run's identity")
    return {"name": str(info.get("name", "")), "variants": current_variants(run_dir),
            "setups": current_setups(run_dir)[0]}


def build_test(run_dirs: list[str | Path], out: str | Path, codecs: list[str] | None = None, items: int = 8,
          seed: int = 0, task: str | None = None) -> Path:
    """Write the test into ``out`` (of ``task``'s saved outputs, by default the one task that saved some); returns
    ``index.html``. The test records each run it was built from (:func:`run_identity`) and each condition's codec
    variant, so ratings can only return to the run and variants they were given for."""
    dirs = [Path(d) for d in run_dirs]
    target = OutputDir(out, "listen", [*run_inputs(dirs), *dataset_roots(dirs)])
    out = target.path
    df = load_rows(list(run_dirs), extra="raw")
    task = _saved_task(df, task)
    saved = _saved_outputs(df, dirs, task)
    identity = flagged_codecs(df, "identity")
    chosen = codecs or sorted({c for c, _, _ in saved} - set(identity))
    if not chosen:
        raise ValueError(f"no saved outputs of task {task!r} in {', '.join(map(str, dirs))} (run with save_audio)")
    reserved = sorted(set(chosen) & {HIDDEN, ANCHOR})
    if reserved:
        raise ValueError(f"codec label(s) {reserved} name the test's own stimuli; give the codec another name in "
                         "the run's config")
    originals = original_files(dirs)
    keys = sorted({(d, u) for _, d, u in saved})
    usable = [(d, u) for d, u in keys if (d, u) in originals and all((c, d, u) in saved for c in chosen)]
    if not usable:
        raise ValueError(f"no utterance has the original and a saved output of every codec of {chosen}")
    metric = next(iter(quality_metrics(df[df["task"] == task])), None)
    values = df[(df["task"] == task) & (df["metric"] == metric) & df["codec"].isin(chosen)] if metric else df[:0]
    values = values.assign(source=values["utt_id"].map(item_sources(values)))
    means = values.groupby(["dataset", "source"])["value"].mean().to_dict()
    picked = choose_items({k: means.get(k) for k in usable}, items, seed)
    runs = {str(d): run_identity(d) for d in dirs}
    trials = []
    for number, (dataset, utt) in enumerate(picked, start=1):
        clip = load_audio(originals[(dataset, utt)])
        reference = resample(clip.samples, clip.sample_rate, METRIC_SAMPLE_RATE)
        stimuli = {HIDDEN: reference, ANCHOR: lowpass(reference, METRIC_SAMPLE_RATE)}
        for codec in chosen:
            output = load_audio(saved[(codec, dataset, utt)][0])
            stimuli[codec] = resample(output.samples, output.sample_rate, METRIC_SAMPLE_RATE)
        length = min(int(MAX_SECONDS * METRIC_SAMPLE_RATE), *(len(x) for x in stimuli.values()))
        levelled = match_loudness({k: np.asarray(v[:length], np.float32) for k, v in stimuli.items()},
                                  METRIC_SAMPLE_RATE)
        names = list(levelled)
        random.Random(f"{seed}:{number}").shuffle(names)  # condition ids reveal nothing
        item_id = f"item{number:02d}"
        _write_wav(target.file(f"audio/{item_id}/open.wav"), levelled[HIDDEN])  # the open reference
        files, conditions = {}, {}
        for k, name in enumerate(names, start=1):
            cid = f"c{k}"
            files[cid] = f"audio/{item_id}/{cid}.wav"
            _write_wav(target.file(files[cid]), levelled[name])
            if name in (HIDDEN, ANCHOR):
                conditions[cid] = {"role": "hidden" if name == HIDDEN else "anchor", "label": name}
            else:
                _, variant, run = saved[(name, dataset, utt)]
                conditions[cid] = {"role": "codec", "label": name, "codec": name, "variant": variant,
                                   "run": runs[run]["name"], "output_sha256": _sha256(saved[(name, dataset, utt)][0])}
        trials.append(Item(item_id, dataset, utt, files, conditions, means.get((dataset, utt)),
                           round(length / METRIC_SAMPLE_RATE, 3), _sha256(originals[(dataset, utt)])))
    spec: dict[str, Any] = {
        "format": FORMAT, "task": task, "seed": seed, "spread_by": metric,
        "items": [{"id": t.id, "dataset": t.dataset, "utt_id": t.utt_id, "open": f"audio/{t.id}/open.wav",
                   "files": t.files, "conditions": t.conditions, "score": t.score, "seconds": t.seconds,
                   "original_sha256": t.original_sha256} for t in trials],
        "runs": [{"path": path, **identity} for path, identity in runs.items()]}
    spec["digest"] = test_digest(spec, out)
    target.write_json("test.json", spec)
    target.write_text("webmushra.yaml", webmushra_config(spec))
    return target.write_text("index.html", PAGE.replace("__SPEC__", json.dumps(spec).replace("</", "<\\/")))


def test_digest(spec: dict[str, Any], folder: Path) -> str:
    """What identifies a test: its ``test.json`` (but the digest itself) and the bytes of every stimulus file and
    open reference in ``folder``; recomputed at import, so an edited test or stimulus is refused."""
    body = {k: v for k, v in spec.items() if k != "digest"}
    audio = hashlib.sha256()
    for item in spec["items"]:
        for relative in [item["open"], *sorted(item["files"].values())]:
            path = folder / relative
            if not path.resolve().is_relative_to(folder.resolve()):
                raise ValueError(f"{relative}: a stimulus outside the test folder")
            audio.update(path.read_bytes())
    return hashlib.sha256((json.dumps(body, sort_keys=True) + audio.hexdigest()).encode()).hexdigest()[:16]


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def _write_wav(path: Path, samples: np.ndarray) -> None:
    atomic_write(path, lambda tmp: sf.write(tmp, samples, METRIC_SAMPLE_RATE, subtype="PCM_16", format="WAV"))


def webmushra_config(spec: dict[str, Any]) -> str:
    """The same test as a webMUSHRA configuration (``configs/<name>.yaml`` of a webMUSHRA install; the stimuli
    paths relative to this folder: copy it beside webMUSHRA's ``configs``)."""
    import yaml

    pages: list[Any] = [{"type": "generic", "id": "intro", "name": "Listening test",
                         "content": "Rate each condition against the reference (0-100)."}]
    for item in spec["items"]:
        stimuli = {cid: path for cid, path in item["files"].items()}
        pages.append({"type": "mushra", "id": item["id"], "name": item["id"], "content": "", "showWaveform": False,
                      "enableLooping": True, "reference": item["open"], "createAnchor35": False,
                      "createAnchor70": False, "randomize": True, "stimuli": stimuli})
    pages.append({"type": "finish", "name": "Thank you", "content": "", "showResults": False,
                  "writeResults": True, "questionnaire": [{"type": "text", "label": "participant", "name": "code"}]})
    return yaml.safe_dump({"testname": f"codecbench listen {spec['digest']}", "testId": spec["digest"],
                           "bufferSize": 2048, "stopOnErrors": True, "showButtonPreviousPage": True,
                           "remoteService": "service/write.php", "pages": [pages[0], pages[1:-1], pages[-1]]},
                          sort_keys=False)


@dataclass
class Screening:
    """Who was kept: BS.1534-3 post-screening excludes a listener who rates the hidden reference below 90 for more
    than 15 % of the items; a listener who left the hidden reference (or any condition of an item, or an item)
    unrated is excluded too, since the rule cannot be applied to them."""

    kept: list[str]
    excluded: dict[str, str]  # listener -> why


def screen(ratings: dict[str, dict[str, dict[str, float]]], spec: dict[str, Any]) -> Screening:
    """``ratings``: listener -> item -> condition id -> rating, against the test ``spec``."""
    kept, excluded = [], {}
    for listener, items in sorted(ratings.items()):
        missing_items = [i["id"] for i in spec["items"] if i["id"] not in items]
        incomplete = [i["id"] for i in spec["items"] if i["id"] in items and set(items[i["id"]]) != set(i["files"])]
        no_hidden = [i["id"] for i in spec["items"]
                     if i["id"] in items and _hidden_id(i) not in items[i["id"]]]
        low = [i["id"] for i in spec["items"] if items.get(i["id"], {}).get(_hidden_id(i), 100.0) < 90]
        if no_hidden:
            excluded[listener] = f"no rating of the hidden reference in {', '.join(no_hidden)}"
        elif missing_items or incomplete:
            excluded[listener] = (f"incomplete: items not rated {missing_items or 'none'}, items with unrated "
                                  f"conditions {incomplete or 'none'}")
        elif len(low) / len(spec["items"]) > 0.15:
            excluded[listener] = f"hidden reference below 90 in {len(low)} of {len(spec['items'])} items"
        else:
            kept.append(listener)
    return Screening(kept, excluded)


def _hidden_id(item: dict[str, Any]) -> str:
    return next(cid for cid, c in item["conditions"].items() if c["role"] == "hidden")


def participant_code(value: object, where: str) -> str:
    """A participant code as the import keys it: Unicode-normalised (NFKC), surrounding blanks removed, upper case;
    then 1-40 letters, digits, ``-`` or ``_`` (``" p1\n"`` and ``"P1"`` are one listener)."""
    if not isinstance(value, str):
        raise ValueError(f"{where}: participant code must be text, got {value!r}")
    code = unicodedata.normalize("NFKC", value).strip().upper()
    if not RATER.match(code):
        raise ValueError(f"{where}: participant code {value!r} must be 1-40 letters, digits, '-' or '_'")
    return code


def read_spec(test: str | Path) -> dict[str, Any]:
    """A test folder's ``test.json``, checked to be one this version of ``codecbench listen`` writes."""
    path = Path(test) / "test.json"
    try:
        spec = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as err:
        raise ValueError(f"{path}: not a listening test's test.json ({type(err).__name__}: {err})") from err
    if not isinstance(spec, dict) or spec.get("format") != FORMAT or not isinstance(spec.get("items"), list) \
            or not isinstance(spec.get("runs"), list) or not isinstance(spec.get("digest"), str):
        raise ValueError(f"{path}: not a test made by this version of `codecbench listen` (format {FORMAT}); "
                         "build the test again")
    return spec


MAX_RESULTS_BYTES = 16 << 20  # a participant's export is a few kB


def _unique_keys(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    """A JSON object whose keys are all different (a duplicated key, which JSON readers resolve silently, is
    refused)."""
    out: dict[str, Any] = {}
    for key, value in pairs:
        if key in out:
            raise ValueError(f"key {key!r} appears twice in one object")
        out[key] = value
    return out


def read_results(files: list[str | Path], spec: dict[str, Any]) -> dict[str, tuple[dict[str, dict[str, float]], str]]:
    """listener -> (item -> condition id -> rating, the file's sha256), from the page's exports; every file must be
    this test's, well-formed, one per listener. A malformed file is a :class:`ValueError` naming it and what is
    wrong."""
    known = {item["id"]: set(item["files"]) for item in spec["items"]}
    out: dict[str, tuple[dict[str, dict[str, float]], str]] = {}
    for file in files:
        try:
            if Path(file).stat().st_size > MAX_RESULTS_BYTES:
                raise ValueError(f"larger than {MAX_RESULTS_BYTES >> 20} MB")
            raw = Path(file).read_bytes()
            data = json.loads(raw.decode("utf-8"), object_pairs_hook=_unique_keys)
        except (OSError, ValueError, RecursionError) as err:
            raise ValueError(f"{file}: not a results file ({type(err).__name__}: {str(err)[:200]})") from None
        if not isinstance(data, dict):
            raise ValueError(f"{file}: a results file is a JSON object, got {type(data).__name__}")
        if data.get("digest") != spec["digest"]:
            raise ValueError(f"{file}: from another test (digest {data.get('digest')!r}, this test's is "
                             f"{spec['digest']!r})")
        listener = participant_code(data.get("participant"), str(file))
        if listener in out:
            raise ValueError(f"{file}: participant {listener!r} has two result files")
        given = data.get("ratings")
        if not isinstance(given, dict):
            raise ValueError(f"{file}: 'ratings' must map item ids to {{condition: rating}}")
        items: dict[str, dict[str, float]] = {}
        for item_id, by in given.items():
            if item_id not in known or not isinstance(by, dict) or set(by) - known[item_id]:
                raise ValueError(f"{file}: item {item_id!r} or its conditions are not this test's")
            values = {}
            for cid, value in by.items():
                if value is None:
                    continue  # not rated: the screening decides
                if isinstance(value, bool) or not isinstance(value, (int, float)) or not 0 <= value <= 100 \
                        or not math.isfinite(value):
                    raise ValueError(f"{file}: rating {value!r} of {item_id}/{cid} must be a number in [0, 100]")
                values[str(cid)] = float(value)
            items[item_id] = values
        out[listener] = (items, hashlib.sha256(raw).hexdigest())
    return out


def _check_provenance(spec: dict[str, Any], into: Path, test: Path) -> dict[str, str]:
    """The test must be as built (its digest recomputed from ``test.json`` and the stimuli), and the run the ratings
    join one it was built from: the same name, the same variant of every codec it holds, the same saved output of
    every codec condition and the same original recording of every item (their sha256). Returns ``{codec label:
    variant}`` of the test's conditions."""
    try:
        recomputed = test_digest(spec, test)
    except (OSError, KeyError, TypeError, ValueError) as err:
        raise ValueError(f"{test}: the test's files are not whole ({type(err).__name__}: {err})") from err
    if recomputed != spec["digest"]:
        raise ValueError(f"{test}: test.json or its stimuli changed since the test was built (digest {recomputed}, "
                         f"recorded {spec['digest']}); ratings of an edited test are not imported")
    here = run_identity(into)
    names = [r.get("name") for r in spec["runs"]]
    if here["name"] not in names:
        raise ValueError(f"{into} is run {here['name']!r}; this test was built from {names}: ratings join only "
                         "a run they were given for")
    recorded: dict[str, str] = {}
    for item in spec["items"]:
        for condition in item["conditions"].values():
            if condition.get("role") == "codec":
                recorded[str(condition["codec"])] = str(condition["variant"])
    changed = {c: (v, here["variants"][c]) for c, v in recorded.items()
               if c in here["variants"] and here["variants"][c] != v}
    if changed:
        raise ValueError(f"{into} now holds other variants of {sorted(changed)} than the test played "
                         f"({'; '.join(f'{c}: test {a}, run {b}' for c, (a, b) in sorted(changed.items()))}): "
                         "the ratings are not about these codecs")
    _check_audio(spec, into)
    return recorded


def _check_audio(spec: dict[str, Any], into: Path) -> None:
    """Every codec output the test played that ``into`` saved, and every item's original recording, are the files
    the test was made of (sha256)."""
    df = load_rows([into], extra="raw")
    saved = _saved_outputs(df, [into], str(spec["task"]))
    originals = original_files([into])
    for item in spec["items"]:
        key = (item["dataset"], item["utt_id"])
        if key not in originals or _sha256(originals[key]) != item.get("original_sha256"):
            raise ValueError(f"{into}: the recording of {item['dataset']} / {item['utt_id']} is not the one the test "
                             "was made of (another dataset, or the file changed)")
        for condition in item["conditions"].values():
            if condition.get("role") != "codec":
                continue
            found = saved.get((str(condition["codec"]), item["dataset"], item["utt_id"]))
            if found is not None and _sha256(found[0]) != condition.get("output_sha256"):
                raise ValueError(f"{into}: {condition['codec']}'s output of {item['utt_id']} is not the audio the test "
                                 "played (the run was made again differently)")


def import_ratings(files: list[str | Path], into: str | Path, test: str | Path) -> Screening:
    """Ratings of the test folder ``test`` from the participants' ``files`` as rows of the run folder ``into``
    (metric ``mushra`` of task ``listening``, one row per item, condition and kept listener; backend
    ``mushra:<digest>``), under the run's lock. All or nothing: every file is checked (this test's, well-formed,
    participants normalised, none excluded or imported with other ratings before) before a row is written.
    ``into/listening.json`` keeps the cumulative record of kept and excluded listeners per test."""
    into = Path(into)
    if not into.is_dir() or not ((into / "rows.jsonl").is_file() or (into / "run.json").is_file()):
        raise ValueError(f"--into {into} is not a run folder (no rows.jsonl or run.json there)")
    check_disjoint(into, [Path(test), *map(Path, files)], "--into")
    spec = read_spec(test)
    recorded = _check_provenance(spec, into, Path(test))
    results = read_results(files, spec)
    store = ResultStore(into, lock=True)
    try:
        record = _read_record(into)
        tested = record.setdefault(spec["digest"], {"kept": {}, "excluded": {}})
        for listener, (_, digest) in results.items():
            earlier = tested["excluded"].get(listener)
            if earlier is not None and earlier["file"] != digest:
                raise ValueError(f"participant {listener!r} was excluded at an earlier import "
                                 f"({earlier['reason']}); a second file is not accepted")
            if listener in tested["kept"] and tested["kept"][listener] != digest:
                raise ValueError(f"{into} already holds other ratings of this test from {listener!r}: a participant's "
                                 "file is imported once (import into a fresh copy of the run to replace them)")
        screening = screen({k: v[0] for k, v in results.items()}, spec)
        rows = _rows(spec, screening, {k: v[0] for k, v in results.items()}, recorded)
        store.add(rows)
        for listener in screening.kept:
            tested["kept"][listener] = results[listener][1]
        for listener, why in screening.excluded.items():
            tested["excluded"][listener] = {"reason": why, "file": results[listener][1]}
        atomic_write_json(into / "listening.json", {"format": 1, "tests": record})
    finally:
        store.unlock()
    return screening


def _read_record(into: Path) -> dict[str, Any]:
    path = into / "listening.json"
    if not path.is_file():
        return {}
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as err:
        raise ValueError(f"{path} is not readable ({err}); move it away to import again") from err
    if not isinstance(data, dict) or data.get("format") != 1 or not isinstance(data.get("tests"), dict):
        raise ValueError(f"{path} is not a record this version writes; move it away to import again")
    return data["tests"]


def _rows(spec: dict[str, Any], screening: Screening, ratings: dict[str, dict[str, dict[str, float]]],
          recorded: dict[str, str]) -> list[Row]:
    setup = f"{TASK}/-/{spec['digest'][:10]}"
    items = {item["id"]: item for item in spec["items"]}
    rows = []
    for listener in screening.kept:
        for item_id, by in sorted(ratings[listener].items()):
            item = items[item_id]
            for cid, value in sorted(by.items()):
                condition = item["conditions"][cid]
                label = str(condition["label"])
                about = ItemId(str(item["utt_id"]), rater=listener)
                rows.append(Row(label, TASK, item["dataset"], str(about), METRIC, value=value,
                                backend=f"mushra:{spec['digest']}",
                                extra={"listener": listener, "item": item_id, "condition": cid,
                                       "role": condition["role"], "tested": spec["task"], **about.fields(),
                                       **({"identity": True} if condition["role"] == "hidden" else {})},
                                variant=recorded.get(label, "") if condition["role"] == "codec" else "",
                                setup=setup))
    return rows


PAGE = r"""<!doctype html><html><head><meta charset="utf-8"><title>Listening test</title><style>
body{font:15px system-ui,sans-serif;max-width:900px;margin:2em auto;padding:0 1em}button{margin:2px;padding:4px 10px}
.row{display:flex;align-items:center;gap:12px;margin:8px 0}.row input[type=range]{flex:1}
.val{width:3em;text-align:right}
#progress{color:#555}.hidden{display:none}pre{white-space:pre-wrap;background:#f4f4f4;padding:8px}
</style></head><body><h1>Listening test (MUSHRA)</h1>
<div id="start"><p>Rate how close each condition sounds to the reference, from 0 (bad) to 100 (excellent). One of the
conditions is the reference itself. Listen with headphones; play any sound as often as you like.</p>
<label>Participant code <input id="code" maxlength="40"></label> <button id="begin">Start</button></div>
<div id="trial" class="hidden"><p id="progress"></p><div class="row"><button id="ref">Reference</button>
<button id="stop">Stop</button></div><div id="conditions"></div><button id="prev">Previous</button>
<button id="next">Next</button></div>
<div id="done" class="hidden"><p>Thank you. Save your results and send the file to the experimenter.</p>
<a id="download">Download results</a><pre id="export"></pre></div>
<script>
const SPEC = __SPEC__;
function hash(s){let h=1779033703^s.length;for(let i=0;i<s.length;i++){h=Math.imul(h^s.charCodeAt(i),3432918353);
h=h<<13|h>>>19}return h>>>0}
function rng(seed){return function(){seed|=0;seed=seed+0x6D2B79F5|0;let t=Math.imul(seed^seed>>>15,1|seed);
t=t+Math.imul(t^t>>>7,61|t)^t;return((t^t>>>14)>>>0)/4294967296}}
function shuffled(list,r){const a=list.slice();for(let i=a.length-1;i>0;i--){const j=Math.floor(r()*(i+1));
[a[i],a[j]]=[a[j],a[i]]}return a}
let code="",order=[],conditionOrder={},ratings={},at=0,player=new Audio();
function key(){return "bench-mushra:"+SPEC.digest+":"+code}
function save(){try{localStorage.setItem(key(),JSON.stringify(ratings))}catch(e){}}
function play(src){player.pause();player.src=src;player.currentTime=0;player.play().catch(()=>{})}
function begin(c){code=c.trim();
 if(!/^[A-Za-z0-9_-]{1,40}$/.test(code)){alert("Use 1-40 letters, digits, - or _");return false}
 const r=rng(hash(code+":"+SPEC.digest));order=shuffled(SPEC.items.map(i=>i.id),r);
 for(const item of SPEC.items){conditionOrder[item.id]=shuffled(Object.keys(item.files),r)}
 try{ratings=JSON.parse(localStorage.getItem(key())||"{}")}catch(e){ratings={}}
 document.getElementById("start").classList.add("hidden");document.getElementById("trial").classList.remove("hidden");
 show(0);return true}
function item(id){return SPEC.items.find(i=>i.id===id)}
function show(n){at=n;const it=item(order[n]);ratings[it.id]=ratings[it.id]||{};
 document.getElementById("progress").textContent="Item "+(n+1)+" of "+order.length;
 document.getElementById("ref").onclick=()=>play(it.open);
 const box=document.getElementById("conditions");box.innerHTML="";
 conditionOrder[it.id].forEach((cid,k)=>{const row=document.createElement("div");row.className="row";
  const b=document.createElement("button");b.textContent="Play "+String.fromCharCode(65+k);
  b.onclick=()=>play(it.files[cid]);
  const s=document.createElement("input");s.type="range";s.min=0;s.max=100;s.step=1;s.dataset.cid=cid;
  const v=document.createElement("span");v.className="val";const cur=ratings[it.id][cid];s.value=cur===undefined?50:cur;
  v.textContent=cur===undefined?"-":cur;s.oninput=()=>{ratings[it.id][cid]=Number(s.value);v.textContent=s.value;save()};
  row.append(b,s,v);box.append(row)});
 document.getElementById("prev").disabled=n===0;
 document.getElementById("next").textContent=n===order.length-1?"Finish":"Next"}
function complete(it){return Object.keys(it.files).every(c=>ratings[it.id][c]!==undefined)}
function next(){const it=item(order[at]);if(!complete(it)){alert("Rate every condition first");return false}
 if(at<order.length-1){show(at+1)}else{finish()}return true}
function finish(){player.pause();
 const out={digest:SPEC.digest,participant:code,finished:new Date().toISOString(),ratings:{}};
 for(const it of SPEC.items){out.ratings[it.id]={};for(const cid of Object.keys(it.conditions)){
  out.ratings[it.id][cid]=ratings[it.id][cid]}}
 const text=JSON.stringify(out,null,1);document.getElementById("export").textContent=text;
 const a=document.getElementById("download");a.href=URL.createObjectURL(new Blob([text],{type:"application/json"}));
 a.download="mushra-"+code+".json";document.getElementById("trial").classList.add("hidden");
 document.getElementById("done").classList.remove("hidden")}
document.getElementById("begin").onclick=()=>begin(document.getElementById("code").value);
document.getElementById("next").onclick=next;document.getElementById("prev").onclick=()=>show(Math.max(0,at-1));
document.getElementById("stop").onclick=()=>player.pause();
// #participant=CODE starts at once; &auto={"condition label":rating,...,"default":rating} also rates every item and
// finishes (automated checks and demos)
const args=new URLSearchParams(location.hash.slice(1));
if(args.get("participant")&&begin(args.get("participant"))&&args.get("auto")){const plan=JSON.parse(args.get("auto"));
 {for(let n=0;n<order.length;n++){const it=item(order[n]);
  for(const s of document.querySelectorAll("#conditions input[type=range]")){
   const cond=it.conditions[s.dataset.cid].label;s.value=cond in plan?plan[cond]:plan["default"];s.oninput()}next()}}}
</script></body></html>
"""


def _ranks(x: np.ndarray) -> np.ndarray:
    """Ranks with ties averaged (Spearman's)."""
    order = np.argsort(x, kind="stable")
    ranks = np.empty(len(x))
    ranks[order] = np.arange(len(x), dtype=float)
    for value in np.unique(x):
        tied = x == value
        ranks[tied] = ranks[tied].mean()
    return ranks


def spearman(a: np.ndarray, b: np.ndarray) -> float:
    """Spearman's rank correlation (NaN when either side is constant or has fewer than 3 values)."""
    if len(a) < 3:
        return math.nan
    ra, rb = _ranks(np.asarray(a, float)), _ranks(np.asarray(b, float))
    if ra.std() == 0 or rb.std() == 0:
        return math.nan
    return float(np.corrcoef(ra, rb)[0, 1])


def _ratings_and_scores(df: pd.DataFrame) -> tuple[pd.DataFrame, pd.DataFrame]:
    """The MUSHRA rows (with their utterance in ``utt``) and the objective quality rows of the same utterances
    and codecs."""
    ratings = df[(df["task"] == TASK) & (df["metric"] == METRIC)].copy()
    ratings["utt"] = ratings["utt_id"].map(item_sources(ratings))
    tested = {str(_extra(e).get("tested", "")) for e in ratings["extra"]} if "extra" in ratings else set()
    objective = df[df["task"].isin(tested) & df["item_target"].isna() & df["codec"].isin(set(ratings["codec"]))
                   & df["value"].notna() & df["error"].isna() & df["metric"].isin(quality_metrics(df))].copy()
    objective["utt"] = objective["utt_id"].map(item_sources(objective))
    objective = objective[objective["utt"].isin(set(ratings["utt"]))]
    return ratings, objective


def _extra(value: object) -> dict:
    """A row's ``extra`` as a dict, whichever way the frame holds it (dict or JSON text)."""
    if isinstance(value, dict):
        return value
    try:
        data = json.loads(value) if isinstance(value, str) else {}
    except ValueError:
        return {}
    return data if isinstance(data, dict) else {}


def condition_means(df: pd.DataFrame) -> pd.DataFrame:
    """Per codec the mean MUSHRA and the mean of each objective metric over the test's items (the points the
    per-condition correlation is computed from), one column per metric."""
    ratings, objective = _ratings_and_scores(df)
    table = objective.pivot_table(index="codec", columns="metric", values="value", aggfunc="mean")
    table["mushra"] = ratings.groupby("codec")["value"].mean()
    return table.dropna(subset=["mushra"])


def correlation_plots(df: pd.DataFrame, out: Path) -> list[str]:
    """One PNG per objective metric: each codec's mean MUSHRA (x) against its mean metric (y), labelled, with
    Spearman's rho in the title. Returns paths relative to ``out``."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    means = condition_means(df)
    paths = []
    for metric in [m for m in quality_metrics(df) if m in means.columns]:
        part = means[["mushra", metric]].dropna()
        if len(part) < 2:
            continue
        fig, ax = plt.subplots(figsize=(4.6, 3.6), dpi=100)
        ax.scatter(part["mushra"], part[metric])
        for codec, row in part.iterrows():
            ax.annotate(str(codec), (row["mushra"], row[metric]), fontsize=7, xytext=(3, 3),
                        textcoords="offset points")
        ax.set_xlabel("MUSHRA (mean over listeners and items)")
        ax.set_ylabel(metric)
        rho = spearman(part["mushra"].to_numpy(), part[metric].to_numpy())
        ax.set_title(f"{metric} vs MUSHRA: Spearman rho = {rho:.2f}", fontsize=9)
        paths.append(save_plot(fig, out, f"mushra+{file_name(metric)}"))
    return paths


def correlations(df: pd.DataFrame, resamples: int = 1000, seed: int = 0) -> pd.DataFrame:
    """How far each objective metric ranks like the listeners: Spearman's rho between MUSHRA (mean over kept
    listeners) and the metric, per condition (codec means over the test's items) and per item (every item x codec
    pair), each with a 95 % bootstrap interval over items. Only the codecs the metric scored take part."""
    ratings, objective = _ratings_and_scores(df)
    if ratings.empty:
        return pd.DataFrame(columns=["metric", "level", "rho", "ci_low", "ci_high", "n"])
    mushra = ratings.groupby(["codec", "dataset", "utt"])["value"].mean()
    rng = np.random.default_rng(seed)
    out = []
    for metric, part in objective.groupby("metric"):
        values = part.groupby(["codec", "dataset", "utt"])["value"].mean()
        pairs = [(c, d, u, float(mushra[(c, d, u)]), float(values[(c, d, u)])) for c, d, u in mushra.index
                 if (c, d, u) in values.index]
        if not pairs:
            continue
        table = pd.DataFrame(pairs, columns=["codec", "dataset", "utt", "mushra", "metric"])

        def both(sample: pd.DataFrame) -> tuple[float, float]:
            means = sample.groupby("codec")[["mushra", "metric"]].mean()
            return (spearman(means["mushra"].to_numpy(), means["metric"].to_numpy()),
                    spearman(sample["mushra"].to_numpy(), sample["metric"].to_numpy()))

        point = both(table)
        keys = sorted({(d, u) for d, u in zip(table["dataset"], table["utt"], strict=True)})
        by_item = {k: table[(table["dataset"] == k[0]) & (table["utt"] == k[1])] for k in keys}
        draws = np.array([both(pd.concat([by_item[keys[i]] for i in rng.integers(0, len(keys), len(keys))]))
                          for _ in range(resamples)])
        for j, level in enumerate(("condition", "item")):
            finite = draws[:, j][np.isfinite(draws[:, j])]
            low, high = (np.percentile(finite, [2.5, 97.5]) if len(finite) else (math.nan, math.nan))
            n = table["codec"].nunique() if level == "condition" else len(table)
            out.append({"metric": metric, "level": level, "rho": point[j], "ci_low": float(low),
                        "ci_high": float(high), "n": int(n)})
    return pd.DataFrame(out, columns=["metric", "level", "rho", "ci_low", "ci_high", "n"])
