"""Where a run's audio is: the outputs it saved (``RUN_DIR/audio/...``, named by its rows) and the original
recordings of its datasets (through its saved config), and where the plots made of them go. The report and the
listening test use them."""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

from codecbench.config.runconfig import SAVED

log = logging.getLogger(__name__)


#: what a reader of a run folder reads in it (rows, their snapshot, the run's identity and config, saved audio,
#: shard rows, timing): an output folder may not be, contain or sit inside any of them
RUN_INPUTS = ("rows.jsonl", "rows.columns.npz", "run.json", SAVED, "audio", "shards", "timing.jsonl",
              "listening.json", "history")


def run_inputs(run_dirs: list[Path]) -> list[Path]:
    """The paths of :data:`RUN_INPUTS` in each run folder (whether or not they exist yet)."""
    return [Path(d) / name for d in run_dirs for name in RUN_INPUTS]


def dataset_roots(run_dirs: list[Path]) -> list[Path]:
    """The data roots of the runs' saved configs (the original recordings a report or test reads)."""
    from codecbench.config.runconfig import load_saved

    roots: list[Path] = []
    for run_dir in run_dirs:
        try:
            config = load_saved(run_dir)
        except (OSError, ValueError):
            continue
        roots += [Path(d.root) for d in (config.datasets if config is not None else ()) if d.root]
    return roots


def saved_file(run_dir: Path, named: object) -> Path | None:
    """The file a row names in ``extra.audio`` when it lies inside the run's ``audio/`` folder; anything
    else (an absolute path, ``../``, a link out of the folder) is never copied into a report."""
    if not isinstance(named, str) or not named:
        return None
    root = (run_dir / "audio").resolve()
    try:
        path = (run_dir / named).resolve()
    except (OSError, RuntimeError):
        return None
    if not path.is_relative_to(root) or not path.is_file():
        return None
    return path


def original_files(run_dirs: list[Path]) -> dict[tuple[str, str], Path]:
    """``(dataset, utt_id) -> audio path`` from the runs' saved configs (when the data is still there)."""
    from codecbench.api.datasets import load_dataset
    from codecbench.config.runconfig import load_saved

    found: dict[tuple[str, str], Path] = {}
    for run_dir in run_dirs:
        try:
            config = load_saved(run_dir)
            for spec in config.datasets if config is not None else ():
                for utt in load_dataset(spec):
                    found[(spec.name, utt.utt_id)] = utt.path
        except (OSError, ValueError, KeyError) as err:
            log.warning("report: originals of %s not found (%s)", run_dir, err)
    return found


def save_plot(fig: Any, out: Path, name: str) -> str:
    """Lay out a matplotlib figure, write it to ``out/plots/<name>.png`` and close it; the path relative to
    ``out`` (``name`` already made of :func:`codecbench.util.names.file_name` parts)."""
    import matplotlib.pyplot as plt

    from codecbench.util.outdir import atomic_write

    fig.tight_layout()
    path = out / "plots" / f"{name}.png"
    atomic_write(path, lambda tmp: fig.savefig(tmp, format="png"))
    plt.close(fig)
    return str(path.relative_to(out))
