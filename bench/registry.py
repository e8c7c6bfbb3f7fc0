"""Plugin registries: codecs, tasks, metrics and datasets.

Each kind has one :class:`Registry`. Built-in plugins register themselves with a
decorator when their module is imported; :func:`discover` imports every module of
``bench.codecs`` / ``bench.tasks`` / ``bench.metrics`` and the ``bench.<kind>`` entry
points of installed packages. A plugin whose module fails to import because an optional
dependency is missing is kept as *known but not installed*, with the extra that installs
it, so ``bench list`` can show it and a lookup can say how to get it.
"""

from __future__ import annotations

import ast
import difflib
import importlib
import importlib.metadata
import importlib.util
import logging
import pkgutil
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Generic, TypeVar

log = logging.getLogger(__name__)

T = TypeVar("T")


@dataclass(frozen=True)
class Unavailable:
    """A plugin module that exists but cannot be imported here."""

    module: str
    missing: str
    extra: str | None
    install: str | None = None  # a custom install instruction (PLUGIN_HINT)

    @property
    def hint(self) -> str:
        if self.install:
            return self.install
        if self.extra:
            return f"pip install 'speech-tokenizer-bench[{self.extra}]'"
        return f"install the missing package '{self.missing}'"


class Registry(Generic[T]):
    """Name -> object table with aliases, close-match errors and no silent ``None``."""

    def __init__(self, kind: str) -> None:
        self.kind = kind
        self._items: dict[str, T] = {}
        self._unavailable: dict[str, Unavailable] = {}

    def register(self, name: str, obj: T) -> T:
        if name in self._items and self._items[name] is not obj:
            raise ValueError(
                f"{self.kind} {name!r} is already registered to {self._items[name]!r}; "
                f"cannot register {obj!r} under the same name"
            )
        self._items[name] = obj
        self._unavailable.pop(name, None)
        return obj

    def decorator(self, *names: str) -> Callable[[T], T]:
        def wrap(obj: T) -> T:
            for name in names:
                self.register(name, obj)
            return obj

        return wrap

    def mark_unavailable(self, name: str, info: Unavailable) -> None:
        if name not in self._items:
            self._unavailable[name] = info

    def get(self, name: str) -> T:
        if name in self._items:
            return self._items[name]
        if name in self._unavailable:
            info = self._unavailable[name]
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

    def unavailable(self) -> dict[str, Unavailable]:
        return dict(sorted(self._unavailable.items()))


CODECS: Registry = Registry("codec")
TASKS: Registry = Registry("task")
METRICS: Registry = Registry("metric")
DATASETS: Registry = Registry("dataset")

register_codec = CODECS.decorator
register_task = TASKS.decorator
register_metric = METRICS.decorator
register_dataset = DATASETS.decorator

_PACKAGES = {
    "codecs": ("bench.codecs", CODECS),
    "tasks": ("bench.tasks", TASKS),
    "metrics": ("bench.metrics", METRICS),
    "datasets": ("bench.datasets", DATASETS),
}
_discovered = False


def _import_plugin_module(module: str, registry: Registry) -> None:
    try:
        mod = importlib.import_module(module)
    except ModuleNotFoundError as err:
        missing = err.name or str(err)
        # A plugin module declares what it provides and which extra installs it, in
        # PLUGIN_NAMES / PLUGIN_EXTRA, read without importing the module's dependencies.
        names, extra, install = _declared_plugins(module)
        for name in names:
            registry.mark_unavailable(name, Unavailable(module, missing, extra, install))
        log.debug("plugin module %s not importable: %s", module, err)
        return
    for name in getattr(mod, "PLUGIN_NAMES", ()):
        if name not in registry:
            log.debug("module %s declares %s but did not register it", module, name)


def _declared_plugins(module: str) -> tuple[list[str], str | None, str | None]:
    """Read ``PLUGIN_NAMES``, ``PLUGIN_EXTRA`` and ``PLUGIN_HINT`` literals from a module's source."""

    spec = importlib.util.find_spec(module)
    if spec is None or spec.origin is None:
        return [], None, None
    with open(spec.origin, encoding="utf-8") as handle:
        tree = ast.parse(handle.read())
    found: dict[str, object] = {}
    for node in tree.body:
        if isinstance(node, ast.Assign) and len(node.targets) == 1:
            target = node.targets[0]
            if isinstance(target, ast.Name) and target.id in {"PLUGIN_NAMES", "PLUGIN_EXTRA", "PLUGIN_HINT"}:
                found[target.id] = ast.literal_eval(node.value)
    names = list(found.get("PLUGIN_NAMES", ()))  # type: ignore[call-overload]
    return names, found.get("PLUGIN_EXTRA"), found.get("PLUGIN_HINT")  # type: ignore[return-value]


def discover() -> None:
    """Import built-in plugin modules and entry points once."""
    global _discovered
    if _discovered:
        return
    _discovered = True
    for kind, (package, registry) in _PACKAGES.items():
        pkg = importlib.import_module(package)
        if hasattr(pkg, "__path__"):
            for info in pkgutil.iter_modules(pkg.__path__):
                if not info.name.startswith("_"):
                    _import_plugin_module(f"{package}.{info.name}", registry)
        for entry in importlib.metadata.entry_points(group=f"bench.{kind}"):
            try:
                obj = entry.load()
            except ModuleNotFoundError as err:
                registry.mark_unavailable(
                    entry.name, Unavailable(entry.value, err.name or str(err), None)
                )
                continue
            if entry.name not in registry:
                registry.register(entry.name, obj)
