"""Plugin registries: codecs, tasks, metrics, datasets, and the commands and parity checkers plugins add.

One idiom registers every plugin: a decorator on the class (or function) with its name, or with a
literal table of named variants and their params::

    VARIANTS = {"opus-6kbps": {"compression_level": 1.0}, "opus-12kbps": {"compression_level": 0.98}}

    @register_codec(VARIANTS)
    class OpusCodec(Codec): ...

:func:`discover` imports every module of ``codecbench.codecs`` / ``codecbench.tasks`` / ``codecbench.metrics`` and
the ``codecbench.<kind>`` entry points of installed packages. A module that fails to import because an
optional dependency is missing is kept as *known but not installed*: its names are read from the
decorators' literal arguments without importing it, with ``PLUGIN_EXTRA`` (the pip extra) or
``PLUGIN_HINT`` (a custom install instruction), so ``codecbench list`` can show how to get it.

This module imports nothing else of the project (the bottom of the core's layers): the base class a typed
registry checks against is handed to it by the module that defines it (:meth:`Registry.set_base`, called by
:mod:`codecbench.api.codec`, :mod:`codecbench.api.metric` and :mod:`codecbench.api.task`), and what else happens on
registration
(declaring a plugin's assets) is a hook added by the layer that owns it (:func:`add_registration_hook`).
"""

from __future__ import annotations

import ast
import contextlib
import difflib
import importlib
import importlib.metadata
import importlib.util
import logging
import pkgutil
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Generic, TypeVar

log = logging.getLogger(__name__)

T = TypeVar("T")


@dataclass(frozen=True)
class Unavailable:
    """A plugin module that exists but cannot be imported here: a dependency is missing (``missing``), or the
    module is broken (``error``: any other exception while importing it, a version mismatch, a bug)."""

    module: str
    missing: str
    extra: str | None
    install: str | None = None  # a custom install instruction (PLUGIN_HINT)
    error: str | None = None  # the plugin is broken: what importing it raised

    @property
    def broken(self) -> bool:
        return self.error is not None

    @property
    def status(self) -> str:
        """``BROKEN`` or ``NOT INSTALLED`` (how ``codecbench list`` shows it)."""
        return "BROKEN" if self.broken else "NOT INSTALLED"

    @property
    def hint(self) -> str:
        if self.broken:
            return f"importing {self.module} raised {self.error}; fix or uninstall that plugin"
        if self.install:
            return self.install
        if self.extra:
            return f"pip install 'codecbench[{self.extra}]'"
        return f"install the missing package '{self.missing}'"


class BrokenPlugin(KeyError):
    """A plugin that is known but cannot be used here: not installed, or broken on import."""


@dataclass(frozen=True)
class Variant:
    """A named variant of a plugin class: the class and the params its name stands for."""

    name: str
    cls: type
    params: Mapping[str, Any] = field(default_factory=dict)

    def __call__(self, **params: Any) -> Any:
        """An instance with the variant's params, overridden by ``params``."""
        return self.cls(**{**self.params, **params})

    @property
    def __doc__(self) -> str | None:  # type: ignore[override]
        return self.cls.__doc__


Names = str | Mapping[str, Mapping[str, Any]]


class Registry(Generic[T]):
    """Name -> plugin table with base-class checks, close-match errors and no silent ``None``."""

    def __init__(self, kind: str, base: type | None = None, variants: bool = False,
                 base_name: str | None = None) -> None:
        self.kind = kind
        self.base = base
        self.base_name = base_name  # the class its entries must subclass, handed over by set_base
        self.variants = variants  # entries are Variant(cls, params), built by calling them
        self._items: dict[str, Any] = {}
        self._unavailable: dict[str, Unavailable] = {}

    def set_base(self, base: type) -> None:
        """The class every entry must subclass (given by the module that defines it, once it is defined)."""
        self.base = base

    def _check(self, name: str, obj: Any) -> None:
        target = obj.cls if isinstance(obj, Variant) else obj
        if self.base is None and self.base_name is not None:
            raise TypeError(f"{self.kind} {name!r}: {self.base_name} is not loaded, so {target!r} cannot be checked "
                            f"(import {self.base_name.rpartition('.')[0]} first)")
        if self.base is not None and not (isinstance(target, type) and issubclass(target, self.base)):
            raise TypeError(f"{self.kind} {name!r}: {target!r} is not a subclass of {self.base.__qualname__}")
        if self.base is None and not callable(target):
            raise TypeError(f"{self.kind} {name!r}: {target!r} is not callable")

    def register(self, name: str, obj: Any) -> Any:
        if not isinstance(name, str) or not name:
            raise TypeError(f"{self.kind} names are non-empty strings, got {name!r}")
        if self.variants and not isinstance(obj, Variant):
            obj = Variant(name, obj)
        self._check(name, obj)
        for hook in _REGISTRATION_HOOKS:
            hook(self.kind, obj.cls if isinstance(obj, Variant) else obj)
        if name in self._items and self._items[name] != obj:
            raise ValueError(
                f"{self.kind} {name!r} is already registered to {self._items[name]!r}; "
                f"cannot register {obj!r} under the same name"
            )
        self._items[name] = obj
        self._unavailable.pop(name, None)
        return obj

    def decorator(self, *names: Names) -> Callable[[T], T]:
        """``@register_x("name", ...)`` or ``@register_x({"name": {params}, ...})``."""

        def wrap(obj: T) -> T:
            for entry in names:
                table = {entry: {}} if isinstance(entry, str) else entry
                for name, params in table.items():
                    if self.variants:
                        self.register(name, Variant(name, obj, dict(params)))  # type: ignore[arg-type]
                    elif params:
                        raise TypeError(f"{self.kind} {name!r}: only codecs take variant params")
                    else:
                        self.register(name, obj)
            return obj

        return wrap

    def mark_unavailable(self, name: str, info: Unavailable) -> None:
        if name not in self._items:
            self._unavailable[name] = info

    def get(self, name: str) -> Any:
        if name in self._items:
            return self._items[name]
        if name in self._unavailable:
            info = self._unavailable[name]
            if info.broken:
                raise BrokenPlugin(f"{self.kind} {name!r} is broken here: {info.hint}")
            raise ModuleNotFoundError(
                f"{self.kind} {name!r} is known but not installed here "
                f"(missing module {info.missing!r}); {info.hint}"
            )
        choices = sorted(self._items) + sorted(self._unavailable)
        close = difflib.get_close_matches(name, choices, n=3)
        hint = f" Did you mean {', '.join(map(repr, close))}?" if close else ""
        raise KeyError(f"unknown {self.kind} {name!r}.{hint} Available: {', '.join(choices)}")

    def __contains__(self, name: object) -> bool:
        return name in self._items

    def __iter__(self) -> Iterator[str]:
        return iter(sorted(self._items))

    def names(self) -> list[str]:
        return sorted(self._items)

    def items(self) -> list[tuple[str, Any]]:
        return sorted(self._items.items())

    def unavailable(self) -> dict[str, Unavailable]:
        return dict(sorted(self._unavailable.items()))

    def snapshot(self) -> tuple[dict[str, Any], dict[str, Unavailable]]:
        return dict(self._items), dict(self._unavailable)

    def restore(self, state: tuple[dict[str, Any], dict[str, Unavailable]]) -> None:
        self._items, self._unavailable = dict(state[0]), dict(state[1])


#: ``hook(kind, plugin)`` called for every registration, after the checks (see :func:`add_registration_hook`)
_REGISTRATION_HOOKS: list[Callable[[str, Any], None]] = []


def add_registration_hook(hook: Callable[[str, Any], None]) -> None:
    """Call ``hook(kind, plugin class or function)`` on every registration from now on (once per hook)."""
    if hook not in _REGISTRATION_HOOKS:
        _REGISTRATION_HOOKS.append(hook)


CODECS: Registry = Registry("codec", variants=True, base_name="codecbench.api.codec.Codec")
TASKS: Registry = Registry("task", base_name="codecbench.api.task.Task")
METRICS: Registry = Registry("metric", base_name="codecbench.api.metric.Metric")
DATASETS: Registry = Registry("dataset")
#: ``codecbench <command>``: functions ``add_parser(subparsers)`` contributed by plugins
COMMANDS: Registry = Registry("command")
#: ``codecbench parity <family> DIR``: functions ``check_folder(folder) -> list[parity.Check]``
PARITY: Registry = Registry("parity family")

register_codec = CODECS.decorator
register_task = TASKS.decorator
register_metric = METRICS.decorator
register_dataset = DATASETS.decorator
register_command = COMMANDS.decorator
register_parity = PARITY.decorator

ALL = {"codecs": CODECS, "tasks": TASKS, "metrics": METRICS, "datasets": DATASETS,
       "commands": COMMANDS, "parity": PARITY}
#: packages whose modules are imported by :func:`discover`, and the registry their import fills
_PACKAGES = {"codecs": ("codecbench.codecs", CODECS), "tasks": ("codecbench.tasks", TASKS),
             "metrics": ("codecbench.metrics", METRICS), "corpora": ("codecbench.corpora", DATASETS)}
_DECORATORS = {f"register_{kind}": kind for kind in
               ("codec", "task", "metric", "dataset", "command", "parity")}
_discovered = False


def _error_text(err: BaseException) -> str:
    text = str(err).splitlines()[0][:300] if str(err) else ""
    return f"{type(err).__name__}: {text}" if text else type(err).__name__


def _isolated(load: Callable[[], Any], origin: str) -> tuple[Any, BaseException | None]:
    """Run ``load`` (importing a plugin); any exception it raises, ``SystemExit`` and ``KeyboardInterrupt`` included,
    is returned, and what it registered before failing is taken back, so one broken plugin never stops another
    command. (A plugin that ends the interpreter itself, ``os._exit``, cannot be contained in-process: plugins are
    code the user installed.)"""
    before = {kind: registry.snapshot() for kind, registry in ALL.items()}
    try:
        return load(), None
    except BaseException as err:  # noqa: BLE001 - a plugin's import may raise anything, sys.exit() and a
        # KeyboardInterrupt it raises itself included (a real Ctrl-C here marks one plugin broken; press it again)
        for kind, registry in ALL.items():
            registry.restore(before[kind])
        if not isinstance(err, ModuleNotFoundError):
            log.warning("plugin %s is broken: importing it raised %s", origin, _error_text(err))
        return None, err


def _import_plugin_module(module: str, registry: Registry) -> None:
    _, err = _isolated(lambda: importlib.import_module(module), module)
    if err is None:
        return
    names, extra, install = declared_plugins(module, registry.kind)
    for name in names:
        if isinstance(err, ModuleNotFoundError) and err.name and not err.name.startswith(module):
            registry.mark_unavailable(name, Unavailable(module, err.name, extra, install))
        else:
            registry.mark_unavailable(name, Unavailable(module, "", extra, install, _error_text(err)))
    log.debug("plugin module %s not importable: %s", module, err)


def _source_files(module: str) -> list[Path]:
    spec = importlib.util.find_spec(module)
    if spec is None or spec.origin is None:
        return []
    origin = Path(spec.origin)
    if spec.submodule_search_locations:  # a package: its top-level modules hold the decorators
        return sorted(origin.parent.glob("*.py"))
    return [origin]


def _literal_names(node: ast.expr, constants: dict[str, Any]) -> list[str]:
    if isinstance(node, ast.Constant) and isinstance(node.value, str):
        return [node.value]
    value = constants.get(node.id) if isinstance(node, ast.Name) else None
    if value is None:
        with contextlib.suppress(ValueError, TypeError, SyntaxError):
            value = ast.literal_eval(node)
    if isinstance(value, str):
        return [value]
    if isinstance(value, Mapping):
        return [str(k) for k in value]
    return []


def _literal_constants(tree: ast.Module) -> dict[str, Any]:
    """``NAME = literal`` (or ``NAME: type = literal``) assignments at a module's top level."""
    constants: dict[str, Any] = {}
    for node in tree.body:
        if isinstance(node, ast.Assign) and len(node.targets) == 1:
            target, value = node.targets[0], node.value
        elif isinstance(node, ast.AnnAssign) and node.value is not None:
            target, value = node.target, node.value
        else:
            continue
        if isinstance(target, ast.Name):
            with contextlib.suppress(ValueError, TypeError, SyntaxError):
                constants[target.id] = ast.literal_eval(value)
    return constants


def declared_constants(module: str) -> dict[str, Any]:
    """A plugin module's ``PLUGIN_*`` declarations (``PLUGIN_EXTRA``, ``PLUGIN_HINT``: how to install it;
    ``PLUGIN_GPU``: why it needs a GPU), read from its source without importing it."""
    found: dict[str, Any] = {}
    for path in _source_files(module):
        constants = _literal_constants(ast.parse(path.read_text(encoding="utf-8")))
        found.update({k: v for k, v in constants.items() if k.startswith("PLUGIN_")})
    return found


def declared_plugins(module: str, kind: str) -> tuple[list[str], str | None, str | None]:
    """Names a module registers (literal decorator arguments), its ``PLUGIN_EXTRA`` and
    ``PLUGIN_HINT``, read from its source without importing it or its dependencies."""
    names: list[str] = []
    found: dict[str, Any] = {}
    for path in _source_files(module):
        tree = ast.parse(path.read_text(encoding="utf-8"))
        constants = _literal_constants(tree)
        found.update({k: v for k, v in constants.items() if k in ("PLUGIN_EXTRA", "PLUGIN_HINT")})
        for node in tree.body:
            if not isinstance(node, (ast.ClassDef, ast.FunctionDef)):
                continue
            for deco in node.decorator_list:
                func = deco.func if isinstance(deco, ast.Call) else None
                name = func.id if isinstance(func, ast.Name) else getattr(func, "attr", None)
                if isinstance(deco, ast.Call) and _DECORATORS.get(str(name)) == kind:
                    names += [n for arg in deco.args for n in _literal_names(arg, constants)]
    return names, found.get("PLUGIN_EXTRA"), found.get("PLUGIN_HINT")


def declared_commands() -> dict[str, str]:
    """``{command: its help text}`` of every ``codecbench`` command plugins contribute, read from the plugin packages'
    sources (the names :func:`declared_plugins` finds, the ``help=`` of each one's ``add_parser("name", ...)``
    call) and the names of ``codecbench.commands`` entry points, without importing any plugin (so ``codecbench --help``
    stays light)."""
    found: dict[str, str] = {}
    for package, _ in _PACKAGES.values():
        spec = importlib.util.find_spec(package)
        if spec is None or not spec.submodule_search_locations:
            continue
        for info in pkgutil.iter_modules(spec.submodule_search_locations):
            module = f"{package}.{info.name}"
            names = [] if info.name.startswith("_") else declared_plugins(module, "command")[0]
            if names:
                helps = _help_texts(module)
                found.update({name: helps.get(name, "") for name in names})
    for entry in importlib.metadata.entry_points(group="codecbench.commands"):
        found.setdefault(entry.name, f"(from {entry.value})")
    return dict(sorted(found.items()))


def _help_texts(module: str) -> dict[str, str]:
    """``{command: help}`` of the ``add_parser("command", help="...")`` calls in a module's sources."""
    helps: dict[str, str] = {}
    for path in _source_files(module):
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if (isinstance(node, ast.Call) and getattr(node.func, "attr", None) == "add_parser" and node.args
                    and isinstance(node.args[0], ast.Constant) and isinstance(node.args[0].value, str)):
                for keyword in node.keywords:
                    if keyword.arg == "help" and isinstance(keyword.value, ast.Constant):
                        helps[node.args[0].value] = str(keyword.value.value)
    return helps


def _load_entry_points(kind: str, registry: Registry) -> None:
    for entry in importlib.metadata.entry_points(group=f"codecbench.{kind}"):
        def load(entry: importlib.metadata.EntryPoint = entry) -> None:
            obj = entry.load()
            # a module (or class) that registered itself on import needs nothing more
            if entry.name not in registry and (isinstance(obj, type) or callable(obj)):
                registry.register(entry.name, obj)

        _, err = _isolated(load, f"{entry.value} (entry point {entry.name!r})")
        if err is None:
            continue
        if isinstance(err, ModuleNotFoundError) and err.name and not entry.value.startswith(err.name):
            registry.mark_unavailable(entry.name, Unavailable(entry.value, err.name, None))
        else:
            registry.mark_unavailable(entry.name, Unavailable(entry.value, "", None, None, _error_text(err)))


def discover() -> None:
    """Import built-in plugin modules and entry points once."""
    global _discovered
    if _discovered:
        return
    _discovered = True
    for package, registry in _PACKAGES.values():
        pkg = importlib.import_module(package)
        if hasattr(pkg, "__path__"):
            for info in pkgutil.iter_modules(pkg.__path__):
                if not info.name.startswith("_"):
                    _import_plugin_module(f"{package}.{info.name}", registry)
    for kind, registry in ALL.items():  # entry points of every kind, commands and parity included
        _load_entry_points(kind, registry)
