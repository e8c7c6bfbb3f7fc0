"""The registry: one decorator idiom, base-class checks, known-but-missing plugins, third-party
plugins through entry points (each one file, nothing else), and a core that names no plugin."""

from __future__ import annotations

import ast
import textwrap
from pathlib import Path

import pytest

from codecbench.api.codec import Codec
from codecbench.plugins import registry
from codecbench.plugins.registry import CODECS, Registry, Unavailable, Variant, declared_plugins, discover

ROOT = Path(__file__).resolve().parents[2]


def test_register_get_and_duplicates() -> None:
    reg: Registry = Registry("thing")
    reg.decorator("a", "alias")(int)
    assert reg.get("a") is int and reg.get("alias") is int
    with pytest.raises(ValueError, match="already registered"):
        reg.register("a", str)


def test_variant_table_registers_each_name_with_its_params() -> None:
    reg: Registry = Registry("codec", base=Codec, variants=True)
    from codecbench.codecs.opus import OpusCodec

    reg.decorator({"o-low": {"compression_level": 1.0}, "o-high": {"compression_level": 0.5}})(OpusCodec)
    assert isinstance(reg.get("o-low"), Variant) and reg.get("o-high").params == {"compression_level": 0.5}
    assert reg.get("o-high")().compression_level == 0.5
    assert reg.get("o-high")(compression_level=0.9).compression_level == 0.9  # config params override


def test_registry_checks_the_base_class() -> None:
    with pytest.raises(TypeError, match="not a subclass of Codec"):
        CODECS.register("not-a-codec", dict)
    with pytest.raises(TypeError, match="not a subclass of Task"):
        registry.register_task("not-a-task")(int)


def test_unknown_name_suggests_close_matches() -> None:
    reg: Registry = Registry("codec")
    reg.register("opus-6kbps", int)
    with pytest.raises(KeyError, match="Did you mean 'opus-6kbps'"):
        reg.get("opus-6kbp")


def test_known_but_not_installed_names_the_extra() -> None:
    reg: Registry = Registry("codec")
    reg.mark_unavailable("fancy", Unavailable("x.fancy", "fancylib", "fancy"))
    assert "fancy" in reg.unavailable()
    with pytest.raises(ModuleNotFoundError, match=r"pip install 'codecbench\[fancy\]'"):
        reg.get("fancy")


def test_builtin_plugins_are_discovered() -> None:
    discover()
    for name in ("reference", "mulaw-8bit", "opus-6kbps", "opus-12kbps"):
        assert name in CODECS
    assert "resynthesis" in registry.TASKS
    assert {"dwer", "sim", "dnsmos", "utmos"} <= set(registry.METRICS.names())
    assert {"folder", "manifest", "librispeech", "quickstart"} <= set(registry.DATASETS.names())


def test_missing_dependency_module_is_listed_from_its_decorators(tmp_path: Path,
                                                                 monkeypatch: pytest.MonkeyPatch) -> None:
    pkg = tmp_path / "plugpkg"
    pkg.mkdir()
    (pkg / "__init__.py").write_text("")
    (pkg / "needs_missing.py").write_text(textwrap.dedent("""
        import not_a_real_module_xyz
        from codecbench.plugins.registry import register_codec

        PLUGIN_EXTRA = "ghost"
        VARIANTS = {"ghost-a": {"x": 1}, "ghost-b": {"x": 2}}


        @register_codec(VARIANTS)
        class Ghost:
            pass


        @register_codec("ghost-c")
        class Other:
            pass
    """))
    monkeypatch.syspath_prepend(str(tmp_path))
    assert declared_plugins("plugpkg.needs_missing", "codec") == (["ghost-a", "ghost-b", "ghost-c"], "ghost", None)
    reg: Registry = Registry("codec")
    registry._import_plugin_module("plugpkg.needs_missing", reg)
    info = reg.unavailable()["ghost-b"]
    assert info.missing == "not_a_real_module_xyz" and info.extra == "ghost"


def test_plugin_packages_are_read_from_all_their_modules() -> None:
    names, extra, _ = declared_plugins("codecbench.codecs.dycast", "codec")
    assert set(names) == {"dycast-ca", "dycast-bp1", "dycast-bp3", "dycast-bp5"} and extra == "dycast"


# ---- the core names no plugin -----------------------------------------------------------------

def _docstrings(tree: ast.AST) -> set[int]:
    ids = set()
    for node in ast.walk(tree):
        if isinstance(node, (ast.Module, ast.ClassDef, ast.FunctionDef, ast.AsyncFunctionDef)):
            body = node.body
            if body and isinstance(body[0], ast.Expr) and isinstance(body[0].value, ast.Constant):
                ids.add(id(body[0].value))
    return ids


def test_no_core_module_names_a_codec_task_or_metric_plugin() -> None:
    discover()
    plugin_names = set()
    for reg in (registry.CODECS, registry.TASKS, registry.METRICS):
        plugin_names |= set(reg.names()) | set(reg.unavailable())
    plugin_packages = ("codecbench.codecs.", "codecbench.tasks.", "codecbench.metrics.", "codecbench.corpora.")
    #: words of external formats that happen to be plugin names too
    format_words = {"codecbench/results/listening.py": {"reference"}}  # webMUSHRA's field: a page's open reference
    offences = []
    for path in sorted((ROOT / "codecbench").rglob("*.py")):
        if path.relative_to(ROOT / "codecbench").parts[0] in ("codecs", "tasks", "metrics", "corpora"):
            continue  # the plugins themselves
        tree = ast.parse(path.read_text(encoding="utf-8"))
        docs = _docstrings(tree)
        for node in ast.walk(tree):
            if isinstance(node, ast.Constant) and isinstance(node.value, str) and id(node) not in docs:
                if node.value in format_words.get(path.relative_to(ROOT).as_posix(), set()):
                    continue
                if node.value in plugin_names or node.value.startswith(plugin_packages):
                    offences.append(f"{path.relative_to(ROOT)}:{node.lineno}: {node.value!r}")
            if isinstance(node, ast.ImportFrom) and (node.module or "").startswith(plugin_packages):
                offences.append(f"{path.relative_to(ROOT)}:{node.lineno}: imports {node.module}")
            if isinstance(node, ast.Import):
                offences += [f"{path.relative_to(ROOT)}:{node.lineno}: imports {a.name}" for a in node.names
                             if a.name.startswith(plugin_packages)]
    assert not offences, "core modules name plugins:\n" + "\n".join(offences)
