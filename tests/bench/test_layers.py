"""The core's layers (``scripts/import_graph.py``): imports only go down, no cycle, no private names, plugins
stay on the plugin side, and ``bench --help`` imports no plugin (nor torch)."""

from __future__ import annotations

import importlib.util
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
_spec = importlib.util.spec_from_file_location("import_graph", ROOT / "scripts" / "import_graph.py")
assert _spec is not None and _spec.loader is not None
graph_tool = importlib.util.module_from_spec(_spec)
sys.modules["import_graph"] = graph_tool  # dataclasses look their module up while the class is made
_spec.loader.exec_module(graph_tool)


def test_every_core_module_has_a_layer_and_the_graph_has_no_cycle() -> None:
    graph = graph_tool.core_graph(ROOT)
    assert [m for m in graph.files if graph_tool.layer_of(m) is None] == []
    assert graph.cycles() == []
    assert graph.levels() > 0


def test_core_imports_only_go_down() -> None:
    assert graph_tool.upward_arrows(graph_tool.core_graph(ROOT)) == []


def test_no_module_imports_another_modules_private_names() -> None:
    assert graph_tool.private_imports(ROOT) == []


def test_plugins_import_only_the_layers_below_config() -> None:
    assert graph_tool.plugin_violations(ROOT) == []  # Table 1's command lives in bench.table1 (results layer)


def test_the_checker_sees_cycles_upward_arrows_and_private_imports(tmp_path: Path) -> None:
    """The rules catch what they are for, on a small tree made for it."""
    core = tmp_path / "bench"
    core.mkdir()
    (core / "__init__.py").write_text("")
    (core / "registry.py").write_text("def f():\n    from . import store\n")  # foundation -> storage: up
    (core / "store.py").write_text("from .registry import f\nfrom .rows import _hidden\n")
    (core / "rows.py").write_text("_hidden = 1\n")
    for folder in graph_tool.PLUGIN_DIRS:
        (tmp_path / folder).mkdir()
    (tmp_path / "tasks" / "mine.py").write_text("from bench.runner import run\n")
    (core / "runner.py").write_text("run = None\n")
    graph = graph_tool.core_graph(tmp_path)
    assert graph.cycles() == [["bench.registry", "bench.store"]]
    assert graph_tool.upward_arrows(graph) == [("bench.registry", "bench.store")]
    assert graph_tool.private_imports(tmp_path) == ["bench/store.py:2 bench.rows._hidden"]
    assert graph_tool.plugin_violations(tmp_path) == ["tasks/mine.py:1 bench.runner"]


def test_help_imports_no_plugin_and_no_torch() -> None:
    code = ("import sys\nfrom bench.cli.main import main\n"
            "try:\n    main(['--help'])\nexcept SystemExit:\n    pass\n"
            "print(sorted(m for m in sys.modules if m == 'torch' or m.startswith(('bench.codecs.', 'bench.tasks.', "
            "'bench.metrics.', 'bench.corpora.'))))")  # the packages themselves hold no plugin
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True, cwd=ROOT)
    assert out.stdout.strip().splitlines()[-1] == "[]"
    assert "table1" in out.stdout and "rad" in out.stdout  # plugin commands still listed, from their source


def test_a_run_config_is_read_and_planned_in_one_place() -> None:
    """Only bench/config.py reads run configs (a run folder's config.yaml included: config.load_saved) and only
    bench/plan.py applies task_codecs / task_datasets (plan.jobs)."""
    tolerance_files = {"bench/check.py", "bench/calibrate.py"}  # they read and write tolerances.yaml, no run config
    readers, planners = set(), set()
    for file in sorted((ROOT / "bench").rglob("*.py")):
        text = file.read_text(encoding="utf-8")
        name = file.relative_to(ROOT).as_posix()
        if '"config.yaml"' in text or "yaml.safe_load" in text:
            readers.add(name)
        if "task_codecs" in text or "task_datasets" in text:
            planners.add(name)
    assert readers - tolerance_files == {"bench/config.py"}
    assert planners <= {"bench/config.py", "bench/plan.py"}
