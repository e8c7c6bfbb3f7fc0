"""A static HTML report of one or more run directories, built from the stored rows (nothing recomputed).

``index.html``: the tables (the numbers of ``codecbench table``, best / second marked, each cell's bootstrap 95%
interval and paired p-value against the best in its tooltip), rate-quality plots (measured bitrate against
each quality metric, one point per codec variant, the Pareto front dashed, variants of one family joined),
a card per codec. One page per task and dataset lists the utterances whose audio was saved (``save_audio``):
players for the original and every output, sortable by any metric, spectrograms with the token boundaries
of variable-rate codecs drawn from the stored durations. Plots are matplotlib PNGs; files are referenced
relatively, so the folder opens from disk or any static host. Each page checks itself in the browser
(audio playable, images non-empty) and writes the result into ``<pre id="selfcheck">``.
"""

from __future__ import annotations

import functools
import html
import json
import logging
from pathlib import Path

import numpy as np
import pandas as pd

from codecbench.api.rows import ERROR_METRIC, ItemId, item_sources
from codecbench.api.task import saved_audio_path
from codecbench.results.bd import declared_families
from codecbench.results.cards import card_line
from codecbench.results.columns import Column, output_specs
from codecbench.results.intervals import add_intervals
from codecbench.results.outputs import dataset_roots, original_files, run_inputs, save_plot, saved_file
from codecbench.results.tables import (
    Table,
    dataset_order,
    flagged_codecs,
    load_rows,
    paper_table,
    published_rows,
    rank_marks,
    read_published,
    run_order,
    saved_codecs,
    significance,
    summarize,
    unranked_codecs,
)
from codecbench.util.audio import METRIC_SAMPLE_RATE, AudioError, load_audio, resample
from codecbench.util.csvfile import write_csv
from codecbench.util.names import file_name
from codecbench.util.outdir import OutputDir, atomic_copy, atomic_write, atomic_write_json, atomic_write_text

log = logging.getLogger(__name__)

STYLE = """body{font-family:system-ui,sans-serif;margin:2em;max-width:1400px}
table{border-collapse:collapse;margin:1em 0}td,th{border:1px solid #ccc;padding:3px 8px;text-align:right}
th{background:#f4f4f4;cursor:pointer}
td:first-child,th:first-child{text-align:left}.best{font-weight:bold}.second{text-decoration:underline}
.paper{color:#777;font-style:italic}img.plot{width:420px;margin:4px}img.spec{width:360px;height:auto}
audio{width:220px}.card{border:1px solid #ddd;padding:6px 10px;margin:6px 0}pre#selfcheck{color:#999}"""

SCRIPT = """<script>
function sortBy(th){const t=th.closest('table'),i=[...th.parentNode.children].indexOf(th),b=t.tBodies[0];
const asc=th.dataset.asc!=='1';th.dataset.asc=asc?'1':'0';
[...b.rows].sort((x,y)=>{const a=parseFloat(x.cells[i].dataset.v??x.cells[i].textContent),
c=parseFloat(y.cells[i].dataset.v??y.cells[i].textContent);
return (isNaN(a)?1:isNaN(c)?-1:(asc?a-c:c-a))}).forEach(r=>b.appendChild(r));}
document.querySelectorAll('th').forEach(th=>th.addEventListener('click',()=>sortBy(th)));
window.addEventListener('load',()=>{const audios=[...document.querySelectorAll('audio')];
const imgs=[...document.querySelectorAll('img')];
Promise.all(audios.map(a=>new Promise(r=>{if(a.readyState>=2){r(true);return}
a.addEventListener('canplay',()=>r(true),{once:true});a.addEventListener('error',()=>r(false),{once:true});a.load();})))
.then(ok=>{const bad=imgs.filter(i=>!(i.complete&&i.naturalWidth>0&&i.getBoundingClientRect().width>0));
document.getElementById('selfcheck').textContent=JSON.stringify({audio:audios.length,
audio_playable:ok.filter(x=>x).length,images:imgs.length,images_bad:bad.length});});});
</script>"""


UNREADABLE = "<td class='unreadable' title='{}'>unreadable</td>"


def page_name(task: str, dataset: str) -> str:
    """The listening page of a task and dataset (``a b`` and ``a_b``, or task ``a`` with dataset ``b_c`` and
    task ``a_b`` with dataset ``c``, get pages of their own)."""
    return f"{file_name(task)}+{file_name(dataset)}.html"  # "+" never occurs in a file_name: injective


def _page(title: str, body: str) -> str:
    return (f"<!doctype html><html><head><meta charset='utf-8'><title>{html.escape(title)}</title>"
            f"<style>{STYLE}</style></head><body><h1>{html.escape(title)}</h1>{body}"
            f"<pre id='selfcheck'>pending</pre>{SCRIPT}</body></html>")


def _table_html(table: Table, ci: dict[tuple[str, str], str]) -> str:
    marks = rank_marks(table)
    head = "".join(f"<th>{html.escape(str(c))}</th>" for c in ["Codec", *table.frame.columns])
    rows = []
    parts = [(table.frame, False)] + ([(table.published, True)] if table.published is not None else [])
    for frame, published in parts:
        for codec in frame.index:
            name = f"{codec}{' †' if codec in table.random and not published else ''}{' (paper)' if published else ''}"
            cells = [f"<td class='{'paper' if published else ''}'>{html.escape(name)}</td>"]
            for column in frame.columns:
                value = frame.loc[codec, column]
                text = "-" if pd.isna(value) else f"{value:.{table.columns[column].decimals}f}"
                rank = None if published else marks.get((codec, column))
                css = {1: "best", 2: "second"}.get(rank or 0, "")
                tip = "" if published else ci.get((str(codec), column), "")
                cells.append(f"<td class='{css}' data-v='{'' if pd.isna(value) else value}' "
                             f"title='{html.escape(tip)}'>{text}</td>")
            rows.append("<tr>" + "".join(cells) + "</tr>")
    return f"<table><thead><tr>{head}</tr></thead><tbody>{''.join(rows)}</tbody></table>"


def _tooltips(summary: pd.DataFrame, task: str) -> dict[tuple[str, str], str]:
    """``(codec, column) -> "95% CI [a, b]; p vs best (c) = p"`` for a task's per-dataset columns."""
    tips = {}
    specs = output_specs()
    for _, r in summary[summary["task"] == task].iterrows():
        spec = specs.get(r["metric"])
        if spec is None or not spec.per_dataset:
            continue
        column = Column(spec, r["dataset"]).title
        text = f"95% CI [{r['ci_low']:.{spec.decimals}f}, {r['ci_high']:.{spec.decimals}f}]" \
            if not pd.isna(r["ci_low"]) else "95% CI: too few utterances"
        if r.get("best") and not pd.isna(r.get("p_vs_best")):
            text += f"; paired p vs best ({r['best']}) = {r['p_vs_best']:.3f}"
        tips[(r["codec"], column)] = text
    return tips


def _pareto(points: list[tuple[float, float, str]], higher: bool) -> list[tuple[float, float, str]]:
    """Points no other point beats on both bitrate (lower) and quality."""
    front = []
    for x, y, name in points:
        dominated = any((x2 <= x and (y2 >= y if higher else y2 <= y)) and (x2, y2) != (x, y) for x2, y2, _ in points)
        if not dominated:
            front.append((x, y, name))
    return sorted(front)


def _rate_plots(table: Table, task: str, out: Path, families: dict[str, str]) -> list[str]:
    """One PNG per quality column: measured bitrate (x) against it (y), each codec family (``families``: label ->
    family, as the BD table groups them) one curve; random-weight rows drawn hollow, labelled † and kept off the
    Pareto front; the paper's rows as grey squares. Returns relative paths."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    columns = table.columns
    bitrate = next((title for title, c in columns.items() if c.output is not None and c.output.name == "bitrate"),
                   None)
    if bitrate is None or bitrate not in table.frame.columns:
        return []
    paths = []

    def points(frame: pd.DataFrame | None, column: str, codecs: list[str]) -> list[tuple[float, float, str]]:
        if frame is None:
            return []
        return [(float(frame.loc[c, bitrate]), float(frame.loc[c, column]), str(c)) for c in codecs
                if not pd.isna(frame.loc[c, bitrate]) and not pd.isna(frame.loc[c, column])]

    for column, spec in columns.items():
        higher = spec.higher
        if higher is None or column not in table.frame.columns:
            continue
        ours = points(table.frame, column, [c for c in table.frame.index if c not in table.random])
        random = points(table.frame, column, [c for c in table.frame.index if c in table.random])
        paper = points(table.published, column, list(table.published.index) if table.published is not None else [])
        if not ours:
            continue
        fig, ax = plt.subplots(figsize=(5.2, 3.8), dpi=100)
        curves: dict[str, list[tuple[float, float, str]]] = {}
        for p in ours:
            curves.setdefault(families.get(p[2], p[2]), []).append(p)
        for members in curves.values():
            members.sort()
            line = ax.plot([m[0] for m in members], [m[1] for m in members], marker="o", linewidth=1)[0]
            for x, y, name in members:
                ax.annotate(name, (x, y), fontsize=6, xytext=(3, 3), textcoords="offset points", color=line.get_color())
        if paper:
            ax.scatter([p[0] for p in paper], [p[1] for p in paper], marker="s", facecolors="none",
                       edgecolors="gray", label="paper")
        if random:
            ax.scatter([p[0] for p in random], [p[1] for p in random], marker="o", facecolors="none",
                       edgecolors="red", label="† random weights (not the codec's numbers)")
            for x, y, name in random:
                ax.annotate(f"{name} †", (x, y), fontsize=6, xytext=(3, 3), textcoords="offset points", color="red")
        front = _pareto(ours, bool(higher))
        ax.plot([f[0] for f in front], [f[1] for f in front], "k--", linewidth=0.8, label="Pareto front")
        ax.set_xscale("log")
        ax.set_xlabel(bitrate + " (log)")
        ax.set_ylabel(column)
        ax.set_title(f"{task}: {column}", fontsize=9)
        ax.legend(fontsize=6)
        paths.append(save_plot(fig, out, f"{file_name(task)}+{file_name(column)}"))
    return paths


def _spectrogram(audio: np.ndarray, durations: list[int] | None, seconds: float, path: Path) -> None:
    """A log-magnitude spectrogram PNG, token boundaries as vertical lines."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    n_fft, hop = 512, 160
    frames = max(1, 1 + (len(audio) - n_fft) // hop)
    window = np.hanning(n_fft)
    padded = np.pad(audio, (0, max(0, n_fft - len(audio))))
    spec = np.stack([np.abs(np.fft.rfft(window * padded[i * hop: i * hop + n_fft])) for i in range(frames)], axis=1)
    fig, ax = plt.subplots(figsize=(4.8, 2.2), dpi=90)
    ax.imshow(20 * np.log10(spec + 1e-6), origin="lower", aspect="auto", cmap="magma",
              extent=(0, len(audio) / METRIC_SAMPLE_RATE, 0, METRIC_SAMPLE_RATE / 2000))
    if durations:
        scale = seconds / max(sum(durations), 1)  # seconds per frame of the token grid
        for edge in np.cumsum(durations)[:-1] * scale:
            ax.axvline(edge, color="cyan", linewidth=0.6)
    ax.set_xlabel("s", fontsize=7)
    ax.set_ylabel("kHz", fontsize=7)
    ax.tick_params(labelsize=6)
    fig.tight_layout()
    atomic_write(path, lambda tmp: fig.savefig(tmp, format="png"))
    plt.close(fig)


def _write_flac(path: Path, samples: np.ndarray) -> None:
    import soundfile as sf

    sf.write(path, samples, METRIC_SAMPLE_RATE, format="FLAC")


def _utterance_pages(df: pd.DataFrame, run_dirs: list[Path], out: Path) -> list[tuple[str, str, int]]:
    """One page per (task, dataset) with saved audio. Returns ``(task, dataset, utterances)``."""
    rates = df[(df["metric"] == "frame_rate") & df["audio"].notna()]
    if rates.empty:
        return []
    originals = original_files(run_dirs)
    specs = output_specs()
    scores = df[(df["metric"] != ERROR_METRIC) & df["value"].notna()]
    pages = []
    run_of = {}
    for run_dir in run_dirs:
        for row in rates.itertuples():
            found = saved_file(run_dir, row.audio)
            if found is not None:
                run_of[row.Index] = found
            elif row.Index not in run_of:
                log.warning("report: %s (%s / %s) is not a saved file of %s/audio: not copied", row.audio,
                            row.codec, row.utt_id, run_dir)
    for (task, dataset), group in rates.groupby(["task", "dataset"]):
        codecs = sorted(set(group["codec"]))
        metrics = [m for m in sorted(set(scores[(scores["task"] == task) & (scores["dataset"] == dataset)]["metric"]))
                   if m in specs and specs[m].in_table and specs[m].per_dataset]
        identity = next((c for c in codecs if c in flagged_codecs(df[df["codec"] == c], "identity")), None)
        deltas = [c for c in codecs if identity is not None and c != identity]
        head = ["Utterance", "Original", *[f"{c}" for c in codecs],
                *[f"{c} {specs[m].label}" for c in codecs for m in metrics],
                *[f"{c} Δ{specs[m].label} vs {identity}" for c in deltas for m in metrics]]
        scoped = scores[(scores["task"] == task) & (scores["dataset"] == dataset)]
        values = {(r.codec, r.utt_id, r.metric): float(r.value) for r in scoped.itertuples()}
        body = []
        sources = item_sources(group)
        for utt in sorted(set(group["utt_id"])):
            plain = utt == str(ItemId(sources[utt]))  # a plain utterance: its file name, not the escaped id
            cells = [f"<td>{html.escape(sources[utt] if plain else utt)}</td>"]
            source = originals.get((dataset, sources[utt]))
            if source is not None and source.is_file():
                target = out / "audio" / "original" / file_name(dataset) / f"{file_name(utt)}.flac"
                try:
                    if not target.is_file():
                        clip = load_audio(source)
                        samples = resample(clip.samples, clip.sample_rate, METRIC_SAMPLE_RATE)
                        atomic_write(target, functools.partial(_write_flac, samples=samples))
                    cells.append(f"<td><audio controls preload='auto' src='{target.relative_to(out)}'></audio></td>")
                except (AudioError, OSError, ValueError, RuntimeError) as err:
                    log.warning("report: original %s is unreadable: %s", source, err)
                    cells.append(UNREADABLE.format(html.escape(str(err))))
            else:
                cells.append("<td>-</td>")
            for codec in codecs:
                row = group[(group["codec"] == codec) & (group["utt_id"] == utt)]
                if row.empty or row.index[0] not in run_of:
                    cells.append("<td>-</td>")
                    continue
                extra = json.loads(row.iloc[0]["extra"])  # the JSON text (load_rows(extra="raw"))
                src = run_of[row.index[0]]
                rel = saved_audio_path(task, codec, dataset, utt)
                spec_png = rel.with_suffix(".png")
                try:
                    audio = load_audio(src).samples
                    atomic_copy(src, out / rel)  # whole or not at all: nothing to delete on failure
                    _spectrogram(audio, extra.get("token_durations"),
                                 float(row.iloc[0]["den"] or len(audio) / 16000), out / spec_png)
                except (AudioError, OSError, ValueError, RuntimeError) as err:
                    log.warning("report: %s is unreadable: %s", src, err)
                    cells.append(UNREADABLE.format(html.escape(str(err))))
                    continue
                cells.append(f"<td><audio controls preload='auto' src='{rel}'></audio><br>"
                             f"<img class='spec' src='{spec_png}' alt='spectrogram'></td>")
            numbers = [values.get((c, utt, m), float("nan")) for c in codecs for m in metrics]
            if identity is not None:  # the delta of each output to the identity codec's (the original's)
                numbers += [values.get((c, utt, m), float("nan")) - values.get((identity, utt, m), float("nan"))
                            for c in deltas for m in metrics]
            for value in numbers:
                cells.append(f"<td data-v='{'' if np.isnan(value) else value}'>"
                             f"{'-' if np.isnan(value) else f'{value:.2f}'}</td>")
            body.append("<tr>" + "".join(cells) + "</tr>")
        table = ("<table><thead><tr>" + "".join(f"<th>{html.escape(h)}</th>" for h in head) + "</tr></thead><tbody>"
                 + "".join(body) + "</tbody></table>")
        name = page_name(task, dataset)
        note = ("<p>Click a header to sort. Spectrograms of variable-rate codecs show their token boundaries "
                "(cyan) from the stored durations. <a href='index.html'>Back</a></p>")
        atomic_write_text(out / name, _page(f"{task} / {dataset}: listening page", note + table))
        pages.append((task, dataset, len(set(group["utt_id"]))))
    return pages


def _codec_params(run_dirs: list[Path]) -> dict[str, tuple[str, dict]]:
    """``label -> (registry name, params)`` from the runs' saved configs."""
    found: dict[str, tuple[str, dict]] = {}
    for run_dir in run_dirs:
        for spec in saved_codecs(run_dir):
            found.setdefault(spec.label, (spec.name, dict(spec.params)))
    return found


def build_report(run_dirs: list[str | Path], out: str | Path, published: str | Path | None = None) -> Path:
    """Write the report into ``out``; returns the path of ``index.html``."""
    dirs = [Path(r) for r in run_dirs]
    paper = read_published(published) if published is not None else None
    inputs = [*run_inputs(dirs), *dataset_roots(dirs), *([Path(published)] if published is not None else [])]
    out = OutputDir(out, "report", inputs).path
    df = load_rows(list(dirs), extra="raw")
    summary = add_intervals(summarize(df), df, output_specs(), unranked_codecs(df))
    write_csv(summary, out / "summary.csv", index=False, float_format="%.17g")
    order = [c for r in dirs for c in run_order(r)]
    datasets = list(dict.fromkeys(d for r in dirs for d in dataset_order(r)))
    flagged = set(summary.loc[summary["random_weights"], "codec"])
    unranked = flagged_codecs(df, "identity")
    families = declared_families(dirs)
    parts = [f"<p>Runs: {', '.join(html.escape(str(d)) for d in dirs)}. † random weights (not the codec's "
             "numbers). Hover a cell for its bootstrap 95% interval over utterances and the paired test against "
             "the best codec.</p>"]
    pages = _utterance_pages(df, dirs, out)
    if pages:
        parts.append("<h2>Listening pages</h2><ul>" + "".join(
            f"<li><a href='{page_name(t, d)}'>{html.escape(t)} / {html.escape(d)}</a> ({n} utterances)</li>"
            for t, d, n in pages) + "</ul>")
    for task in sorted(summary["task"].unique()):
        frame, columns = paper_table(df, summary, task, order, datasets)
        table = Table(frame, columns, [], published_rows(frame, paper, task) if paper is not None else None,
                      frozenset(flagged), frozenset(unranked), significance(summary, task, columns))
        parts.append(f"<h2>{html.escape(task)}</h2>")
        parts.append(_table_html(table, _tooltips(summary, task)))
        plots = _rate_plots(table, task, out, families)
        parts += [f"<img class='plot' src='{p}' alt='{html.escape(p)}'>" for p in plots]
    if (df["task"] == "listening").any():  # a MUSHRA test was imported: how far the metrics rank like the ears
        from codecbench.results.listening import correlation_plots, correlations

        rho = correlations(df)
        parts.append("<h2>Listening test: objective metrics against MUSHRA</h2><p>Spearman's rho between each "
                     "metric and the listeners' MUSHRA score, per condition (codec means) and per item x codec, with "
                     "a 95% bootstrap interval over items.</p>" + rho.to_html(index=False, float_format="%.2f"))
        parts += [f"<img class='plot' src='{p}' alt='{html.escape(p)}'>" for p in correlation_plots(df, out)]
    params = _codec_params(dirs)
    cards = []
    for codec in order or sorted(summary["codec"].unique()):
        sub = summary[summary["codec"] == codec]
        if sub.empty:
            continue
        rates = {m: sub[sub["metric"] == m]["value"].mean() for m in ("frame_rate", "bitrate")}
        backends = sorted(set(df.loc[df["codec"] == codec, "model"].dropna()))
        line = card_line(params.get(codec, ("", {}))[0]) or card_line(codec)
        weights = sorted(set(df.loc[df["codec"] == codec, "weights_id"].dropna()))
        name, given = params.get(codec, (codec, {}))
        cards.append(f"<div class='card'><b>{html.escape(codec)}</b>{' † random weights' if codec in flagged else ''}"
                     f"<br>frame rate {rates['frame_rate']:.2f} Hz, bitrate {rates['bitrate']:.3f} kbps"
                     f"<br>registry name {html.escape(name)}; params {html.escape(json.dumps(given)) or '{}'}"
                     f"<br>weights: {html.escape(', '.join(weights) or 'not recorded')}"
                     f"{'<br>models: ' + html.escape(', '.join(backends)) if backends else ''}"
                     f"{'<br>paper Table 5: ' + html.escape(line) if line else ''}</div>")
    if cards:
        parts.append("<h2>Codecs</h2>" + "".join(cards))
    index = out / "index.html"
    atomic_write_text(index, _page("Speech tokenizer benchmark report", "".join(parts)))
    atomic_write_json(out / "report.json", {"runs": [str(d) for d in dirs], "pages": pages})
    return index
