"""The plan of a run: every job (task x codec variant x dataset) its config asks for, built in one place.

``task_codecs`` / ``task_datasets`` restrict a task to some codec labels / datasets; everything else runs
every codec on every dataset. The inline runner, the executors' shards, ``bench paper --dry-run`` and the
run summary all take their jobs from :func:`jobs`."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from .config import CodecSpec, RunConfig


@dataclass(frozen=True)
class Job:
    """One task on one codec variant over one dataset."""

    task: str
    codec: CodecSpec
    dataset: str

    @property
    def key(self) -> tuple[str, str, str]:
        """``(task, codec label, dataset)``: how rows name their job."""
        return self.task, self.codec.label, self.dataset


def jobs(config: RunConfig, tasks: Iterable[str]) -> list[Job]:
    """The jobs of ``tasks`` under ``config``, in plan order: by task, then codec, then dataset."""
    out = []
    for task in tasks:
        codecs, datasets = config.task_codecs.get(task), config.task_datasets.get(task)
        for spec in config.codecs:
            if codecs is not None and spec.label not in codecs:
                continue
            out += [Job(task, spec, d.name) for d in config.datasets if datasets is None or d.name in datasets]
    return out


def restricted_tasks(config: RunConfig) -> dict[str, str]:
    """Each task a ``task_datasets`` / ``task_codecs`` section names, by where it is named
    (``task_codecs.tts_ar``): the sections that restrict a task's jobs."""
    return {f"{section}.{task}": str(task) for section in ("task_datasets", "task_codecs")
            for task in (config.raw.get(section) or {})}
