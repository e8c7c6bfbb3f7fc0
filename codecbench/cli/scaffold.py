"""``codecbench new codec NAME``: an installable codec plugin package that passes ``codecbench check-codec`` and its
own tests as it is written (a small random convolutional codec, every hook shown), for its author to replace
with their model."""

from __future__ import annotations

import argparse
import re
from pathlib import Path

NAME = re.compile(r"[a-z][a-z0-9]*(-[a-z0-9]+)*")

PYPROJECT = '''[build-system]
requires = ["setuptools>=64"]
build-backend = "setuptools.build_meta"

[project]
name = "codecbench-{name}"
version = "0.1.0"
description = "The {name} codec as a codecbench plugin"
requires-python = ">=3.10"
# codecbench is not on PyPI: install the harness first (from its repository), then this package
dependencies = ["codecbench", "torch"]

[project.optional-dependencies]
test = ["pytest>=7"]

# how codecbench finds the codec: `codecbench list codecs` shows it once this package is installed
[project.entry-points."codecbench.codecs"]
{name} = "{module}.codec"

[tool.setuptools]
packages = ["{module}"]
'''

CODEC = '''"""The {name} codec as a codecbench plugin: everything the harness needs is declared here.

Replace the small random network below with your model: load its weights in ``__init__`` (declare them as an
``Asset`` in ``assets`` so ``codecbench assets`` can list and verify them), encode in ``_encode`` and decode in
``_decode``. ``codecbench check-codec {name}`` checks the contract the tables rely on.
"""

from __future__ import annotations

from typing import Annotated

import torch

from codecbench.api import Capabilities, GroupedCodec, PositiveInt, Range, register_codec

HOP = 320  # input samples per frame: 16 kHz / 320 = 50 frames per second


@register_codec({{"{name}": {{}}}})  # more variants: {{"{name}-small": {{"channels": 16}}, ...}}
class {cls}(GroupedCodec):
    """{title}: one codebook of ``levels`` codes per 20 ms frame (a random convolutional placeholder)."""

    sample_rate = 16000  # the rate encode() receives (the harness resamples)
    output_sample_rate = 16000  # the rate decode() returns
    nominal_frame_rate = 16000 / HOP  # frames per second, checked against what encode() returns
    # a GroupedCodec runs equal-length groups unpadded, so batched results equal single ones (convolutions would
    # otherwise see the padding); deterministic: the same input gives the same tokens (the token cache relies on it)
    # random_weights: the placeholder's weights are random, so its rows are flagged and never ranked; set it False
    # (or declare assets: resolve_weights flags a variant whose weights are missing) once real weights load
    capabilities = Capabilities(deterministic=True, random_weights=True)
    assets = ()  # your pretrained weights: (Asset("{name}", "what they are", "hub-id or URL", licence=...),)
    test_params = {{"channels": 8}}  # a small instance for contract tests (codecbench check-codec uses it)
    min_samples = HOP  # the shortest input that makes one frame

    def __init__(self, channels: PositiveInt = 32, levels: Annotated[int, Range(2, 65536)] = 1024) -> None:
        super().__init__()
        self.levels = int(levels)
        self.codebook_sizes = [self.levels]
        self.nominal_bitrate = self.nominal_frame_rate * torch.tensor(float(self.levels)).log2().item()
        with torch.random.fork_rng(devices=[]):  # placeholder weights, the same every time; the caller's seed kept
            torch.manual_seed(0)
            self.encoder = torch.nn.Conv1d(1, channels, HOP, stride=HOP)
            self.project = torch.nn.Conv1d(channels, 1, 1)
            self.decoder = torch.nn.ConvTranspose1d(1, 1, HOP, stride=HOP)

    def _encode(self, wav: torch.Tensor) -> torch.Tensor:
        """``[G, T]`` -> codes ``[G, N, 1]`` (N = T // HOP frames)."""
        latent = torch.tanh(self.project(torch.relu(self.encoder(wav[:, None]))))[:, 0]
        return torch.round((latent + 1) / 2 * (self.levels - 1)).long()[..., None]

    def _decode(self, codes: torch.Tensor) -> torch.Tensor:
        """codes ``[G, N, 1]`` -> waveform ``[G, N * HOP]`` in [-1, 1]."""
        latent = codes[..., 0].float() / (self.levels - 1) * 2 - 1
        return torch.tanh(self.decoder(latent[:, None]))[:, 0]
'''

TEST = '''"""The codec keeps the harness's contract (what `codecbench check-codec {name}` checks), and the harness
finds it."""

import shutil
import subprocess

from codecbench.api import contract_failures

from {module}.codec import {cls}


def test_the_codec_keeps_the_contract():
    assert contract_failures({cls}(**{cls}.test_params)) == []


def test_codecbench_finds_and_checks_it():
    if shutil.which("codecbench") is None:
        return  # not installed beside the harness: the contract test above still ran
    done = subprocess.run(["codecbench", "check-codec", "{name}"], capture_output=True, text=True)
    assert done.returncode == 0, done.stdout + done.stderr
'''

README = '''# {name}: a codecbench plugin

```bash
pip install -e '.[test]'            # registers the codec with codecbench (entry point codecbench.codecs)
codecbench check-codec {name}        # the contract: round trip, rates, batching, determinism
python -m pytest -q                  # the same, as a test of this package
```

Then compare it with the built-in codecs, in Python (`codecbench.evaluate(["{name}", "opus-6kbps"], "clips/",
tasks=["resynthesis"])`) or in a run config (`codecs: [{name}, opus-6kbps]`), and gate it in your CI (the
harness's docs: "The gate in your repository").
'''


def add_parsers(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("new", help="write a plugin package to start from: `codecbench new codec NAME`")
    p.add_argument("kind", choices=["codec"], help="what to write (a codec plugin)")
    p.add_argument("name", help="its registry name: lower case, digits and hyphens (my-codec)")
    p.add_argument("--out", help="the package folder (default ./NAME); must not exist")
    p.set_defaults(handler=cmd_new)


def write_codec_package(name: str, out: Path) -> list[Path]:
    """The files of a codec plugin package ``name`` under ``out`` (which must not exist); returns them."""
    if not NAME.fullmatch(name):
        raise ValueError(f"codec name {name!r}: lower-case letters, digits and single hyphens, starting with a letter "
                         "(e.g. my-codec)")
    if out.exists():
        raise FileExistsError(f"--out {out} exists; `codecbench new` writes only a new folder")
    module = "codecbench_" + name.replace("-", "_")
    cls = "".join(part.capitalize() for part in name.split("-")) + "Codec"
    fields = {"name": name, "module": module, "cls": cls, "title": name.replace("-", " ").capitalize()}
    files = {out / "pyproject.toml": PYPROJECT, out / module / "__init__.py": '"""The {name} codec plugin."""\n',
             out / module / "codec.py": CODEC, out / "tests" / "test_contract.py": TEST, out / "README.md": README}
    for path, template in files.items():
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(template.format(**fields), encoding="utf-8")
    return list(files)


def cmd_new(args: argparse.Namespace) -> int:
    out = Path(args.out or args.name)
    written = write_codec_package(args.name, out)
    print(f"wrote the {args.name} codec plugin in {out}/ ({', '.join(p.relative_to(out).as_posix() for p in written)})")
    print(f"next: cd {out} && pip install -e '.[test]' && codecbench check-codec {args.name} && python -m pytest -q")
    return 0
