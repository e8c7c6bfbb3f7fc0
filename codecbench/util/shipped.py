"""The data files the harness ships (run configs, the paper's published numbers), found as package data
through :mod:`importlib.resources`, so a plain (non-editable) install finds them as a checkout does.

In the repository they are ``configs/`` and ``results/published/``; ``pyproject.toml`` installs them as the
packages ``codecbench.configs`` and ``codecbench.published``."""

from __future__ import annotations

from importlib import resources
from pathlib import Path

CONFIGS, PAPER_CONFIGS, PUBLISHED = "codecbench.configs", "codecbench.configs.paper", "codecbench.published"


def folder(package: str) -> Path:
    """The folder of a data package, on the file system (an installed wheel or a checkout)."""
    found = resources.files(package)
    path = Path(str(found))
    if not path.is_dir():  # e.g. a zipped install: not supported, said plainly
        raise FileNotFoundError(f"the harness's data files ({package}) are not on the file system: {found}")
    return path


def config_file(name: str) -> Path:
    """A shipped run config (``quickstart.yaml``, ``tolerances.yaml``)."""
    return folder(CONFIGS) / name


def paper_configs() -> Path:
    """The folder of the paper tables' configs (``table1.yaml`` ...)."""
    return folder(PAPER_CONFIGS)


def published(name: str) -> Path:
    """A table of the paper's published numbers (``table1.csv`` ...); ``results/published/NAME`` (the
    spelling paper configs use) is accepted too."""
    return folder(PUBLISHED) / Path(name).name
