"""The core's layers (``scripts/import_graph.py``): imports only go down, no cycle, no private names, plugins
stay on the plugin side, and ``codecbench --help`` imports no plugin (nor torch)."""

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


def test_plugins_import_only_the_api() -> None:
    assert graph_tool.plugin_violations(ROOT) == []


def test_layers_are_the_sub_packages() -> None:
    """The folder list is the floor plan: every sub-package of the core is a layer, every layer a sub-package."""
    folders = {p.name for p in (ROOT / "codecbench").iterdir() if (p / "__init__.py").is_file()}
    assert folders - set(graph_tool.PLUGIN_DIRS) == {"util", "plugins", "assets", "api", "config", "engine",
                                                     "results", "cli"}
    assert {m.split(".")[0] for m in graph_tool.LAYERS} >= folders - set(graph_tool.PLUGIN_DIRS)


def test_the_checker_sees_cycles_upward_arrows_and_private_imports(tmp_path: Path) -> None:
    """The rules catch what they are for, on a small tree made for it."""
    core = tmp_path / "codecbench"
    for package in ("", "util", "engine", "api", "tasks"):
        (core / package).mkdir(parents=True, exist_ok=True)
        (core / package / "__init__.py").write_text("")
    (core / "util" / "names.py").write_text("def f():\n    from codecbench.engine import store\n")  # util -> engine: up
    (core / "engine" / "store.py").write_text("from codecbench.util.names import f\n"
                                              "from codecbench.api.rows import _hidden\n")
    (core / "api" / "rows.py").write_text("_hidden = 1\n")
    (core / "tasks" / "mine.py").write_text("from codecbench.engine.store import f\nfrom codecbench.api import Task\n")
    graph = graph_tool.core_graph(tmp_path)
    assert graph.cycles() == [["codecbench.engine.store", "codecbench.util.names"]]
    assert graph_tool.upward_arrows(graph) == [("codecbench.util.names", "codecbench.engine.store")]
    assert graph_tool.private_imports(tmp_path) == ["codecbench/engine/store.py:2 codecbench.api.rows._hidden"]
    assert graph_tool.plugin_violations(tmp_path) == ["codecbench/tasks/mine.py:1 codecbench.engine.store"]


def test_help_imports_no_plugin_and_no_torch() -> None:
    code = ("import sys\nfrom codecbench.cli.main import main\n"
            "try:\n    main(['--help'])\nexcept SystemExit:\n    pass\n"
            "print(sorted(m for m in sys.modules if m == 'torch' or m.startswith(('codecbench.codecs.', "
            "'codecbench.tasks.', "
            "'codecbench.metrics.', 'codecbench.corpora.'))))")  # the packages themselves hold no plugin
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True, cwd=ROOT)
    assert out.stdout.strip().splitlines()[-1] == "[]"
    assert "table1" in out.stdout and "rad" in out.stdout  # plugin commands still listed, from their source


def test_a_run_config_is_read_and_planned_in_one_place() -> None:
    """Only codecbench/config/runconfig.py reads run configs (a run folder's config.yaml included:
    runconfig.load_saved) and only codecbench/engine/plan.py applies task_codecs / task_datasets (plan.jobs)."""
    tolerance_files = {"codecbench/results/gate.py", "codecbench/results/calibrate.py"}  # tolerances.yaml only
    readers, planners = set(), set()
    plugins = tuple(f"codecbench.{d}." for d in graph_tool.PLUGIN_DIRS)
    for file in sorted((ROOT / "codecbench").rglob("*.py")):
        if ".".join(file.relative_to(ROOT).parts).startswith(plugins):
            continue
        text = file.read_text(encoding="utf-8")
        name = file.relative_to(ROOT).as_posix()
        if '"config.yaml"' in text or "yaml.safe_load" in text:
            readers.add(name)
        if "task_codecs" in text or "task_datasets" in text:
            planners.add(name)
    assert readers - tolerance_files == {"codecbench/config/runconfig.py"}
    assert planners <= {"codecbench/config/runconfig.py", "codecbench/engine/plan.py"}
