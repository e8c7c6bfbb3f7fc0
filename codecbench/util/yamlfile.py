"""The one YAML reader for anything a user hands in (run configs, overrides, tolerances, paper configs): safe
tags only, a duplicated key is an error (YAML's "last one wins" hides typos), and the document's size after alias
expansion is bounded, so a small file of nested aliases (a "billion laughs") is refused before it is built."""

from __future__ import annotations

import re
from typing import Any

import yaml

#: nodes a document may expand to (aliases counted each time they are used); the shipped configs have < 2,000
MAX_NODES = 100_000
#: bytes of YAML text read at most
MAX_BYTES = 4 << 20
#: characters of scalars a document may expand to (a long string aliased many times counts each time)
MAX_CHARS = 16 << 20
#: YAML 1.2's floats (``1e-4``, ``.5``, ``2.``): YAML 1.1, PyYAML's, reads ``1e-4`` as a string
FLOAT_12 = re.compile(r"^[-+]?(\.[0-9]+|[0-9]+(\.[0-9]*)?)([eE][-+]?[0-9]+)?$|^[-+]?\.(inf|Inf|INF)$|^\.(nan|NaN|NAN)$")


class _Loader(yaml.SafeLoader):
    """PyYAML's safe loader, reading every YAML 1.2 float as a number (``lr: 1e-4`` is 0.0001)."""


_Loader.yaml_implicit_resolvers = {k: list(v) for k, v in yaml.SafeLoader.yaml_implicit_resolvers.items()}
for _first in "-+0123456789.":
    _Loader.yaml_implicit_resolvers[_first] = [
        (tag, regexp) for tag, regexp in _Loader.yaml_implicit_resolvers.get(_first, [])
        if tag != "tag:yaml.org,2002:float"]
_Loader.add_implicit_resolver("tag:yaml.org,2002:float", FLOAT_12, list("-+0123456789."))


class YAMLError(ValueError):
    """A YAML text that is not acceptable: malformed, a duplicated key, too large once expanded."""


def _mark(node: yaml.Node) -> str:
    mark = node.start_mark
    return f"line {mark.line + 1}, column {mark.column + 1}"


def _check_keys(node: yaml.MappingNode) -> None:
    seen: dict[Any, yaml.Node] = {}
    merges = [k for k, _ in node.value if k.tag == "tag:yaml.org,2002:merge"]
    if len(merges) > 1:
        raise YAMLError(f"'<<' is given twice (at {_mark(merges[0])} and {_mark(merges[1])}); merge a list instead")
    for key_node, _ in node.value:
        if key_node.tag == "tag:yaml.org,2002:merge":
            continue
        key = key_node.value if isinstance(key_node, yaml.ScalarNode) else id(key_node)
        if key in seen:
            raise YAMLError(f"key {key!r} is given twice (at {_mark(seen[key])} and {_mark(key_node)}); "
                            "keep one")
        seen[key] = key_node


def _expanded_size(root: yaml.Node) -> tuple[int, int]:
    """Nodes and scalar characters of the document with every alias expanded (memoised per node: linear in the
    file's size); a recursive alias is an error."""
    sizes: dict[int, tuple[int, int]] = {}
    active: set[int] = set()

    def size(node: yaml.Node) -> tuple[int, int]:
        key = id(node)
        if key in sizes:
            return sizes[key]
        if key in active:
            raise YAMLError(f"a recursive alias at {_mark(node)}")
        active.add(key)
        total, chars = 1, len(node.value) if isinstance(node, yaml.ScalarNode) else 0
        children = ([n for pair in node.value for n in pair] if isinstance(node, yaml.MappingNode)
                    else list(node.value) if isinstance(node, yaml.SequenceNode) else [])
        if isinstance(node, yaml.MappingNode):
            _check_keys(node)
        for child in children:
            count, text = size(child)
            total, chars = total + count, chars + text
            if total > MAX_NODES or chars > MAX_CHARS:
                break
        active.discard(key)
        sizes[key] = (total, chars)
        return total, chars

    return size(root)


def load_yaml(text: str, where: str) -> Any:
    """The data of a YAML text (``where`` names it in errors: a file, ``override batch_size``)."""
    if len(text) > MAX_BYTES:
        raise YAMLError(f"{where}: {len(text)} characters of YAML; at most {MAX_BYTES} are read")
    loader = None
    try:
        loader = _Loader(text)
        node = loader.get_single_node()
        if node is None:
            return None
        total, chars = _expanded_size(node)
        if total > MAX_NODES or chars > MAX_CHARS:
            raise YAMLError(f"{where}: the document expands to more than {MAX_NODES} values or {MAX_CHARS} "
                            "characters (aliases of aliases?); write it out or shorten it")
        return loader.construct_document(node)
    except YAMLError as err:
        message = str(err)
        raise YAMLError(message if message.startswith(where) else f"{where}: {message}") from None
    except yaml.YAMLError as err:
        raise YAMLError(f"{where}: not valid YAML ({reason(err)})") from None
    except RecursionError:
        raise YAMLError(f"{where}: nested too deeply to read") from None
    finally:
        if loader is not None:
            loader.dispose()


def reason(err: yaml.YAMLError) -> str:
    """A YAML parser error in one line: the problem and where."""
    mark = getattr(err, "problem_mark", None)
    problem = getattr(err, "problem", None) or (str(err).splitlines() or [type(err).__name__])[0]
    return f"{problem} at line {mark.line + 1}, column {mark.column + 1}" if mark is not None else str(problem)


def dump_yaml(data: Any) -> str:
    """YAML text of plain data, keys in their order."""
    return yaml.safe_dump(data, sort_keys=False, allow_unicode=True)
