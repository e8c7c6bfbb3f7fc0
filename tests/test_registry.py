from __future__ import annotations

import importlib
from pathlib import Path

import pytest

from bench import registry
from bench.registry import CODECS, Registry, Unavailable, discover


def test_register_get_and_duplicates() -> None:
    reg: Registry = Registry("thing")
    reg.decorator("a", "alias")(int)
    assert reg.get("a") is int and reg.get("alias") is int
    with pytest.raises(ValueError, match="already registered"):
        reg.register("a", str)


def test_unknown_name_suggests_close_matches() -> None:
    reg: Registry = Registry("codec")
    reg.register("opus-6kbps", int)
    with pytest.raises(KeyError, match="Did you mean 'opus-6kbps'"):
        reg.get("opus-6kbp")


def test_known_but_not_installed_names_the_extra() -> None:
    reg: Registry = Registry("codec")
    reg.mark_unavailable("fancy", Unavailable("x.fancy", "fancylib", "fancy"))
    assert "fancy" in reg.unavailable()
    with pytest.raises(ModuleNotFoundError, match=r"pip install 'speech-tokenizer-bench\[fancy\]'"):
        reg.get("fancy")


def test_builtin_plugins_are_discovered() -> None:
    discover()
    for name in ("reference", "mulaw-8bit", "opus-6kbps", "opus-12kbps"):
        assert name in CODECS
    assert "resynthesis" in registry.TASKS
    assert {"dwer", "sim", "dnsmos", "utmos"} <= set(registry.METRICS.names())
    assert {"folder", "manifest", "librispeech", "quickstart"} <= set(registry.DATASETS.names())


def test_missing_dependency_module_is_listed_with_extra(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    pkg = tmp_path / "plugpkg"
    pkg.mkdir()
    (pkg / "__init__.py").write_text("")
    (pkg / "needs_missing.py").write_text(
        "import not_a_real_module_xyz\nPLUGIN_NAMES = ('ghost-codec',)\nPLUGIN_EXTRA = 'ghost'\n")
    monkeypatch.syspath_prepend(str(tmp_path))
    reg: Registry = Registry("codec")
    registry._import_plugin_module("plugpkg.needs_missing", reg)
    info = reg.unavailable()["ghost-codec"]
    assert info.missing == "not_a_real_module_xyz" and info.extra == "ghost"


def test_dropping_a_module_into_codecs_registers_it(monkeypatch: pytest.MonkeyPatch) -> None:
    """A new codec is one file in codecs/ and nothing else."""
    import bench.codecs as codecs_pkg

    target = Path(codecs_pkg.__path__[0]) / "zz_dropin_test_codec.py"
    target.write_text(
        "from bench.registry import register_codec\n"
        "from bench.codecs.mulaw import MuLawCodec\n\n"
        "PLUGIN_NAMES = ('dropin-mulaw',)\n\n"
        "@register_codec('dropin-mulaw')\n"
        "class DropIn(MuLawCodec):\n    '''A codec added by dropping one file.'''\n"
    )
    try:
        monkeypatch.setattr(registry, "_discovered", False)
        importlib.invalidate_caches()
        discover()
        assert "dropin-mulaw" in CODECS
    finally:
        target.unlink()
        CODECS._items.pop("dropin-mulaw", None)
