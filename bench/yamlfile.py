"""The one YAML reader for anything a user hands in (run configs, overrides, tolerances, paper configs): safe
tags only, a duplicated key is an error (YAML's "last one wins" hides typos), and the document's size after alias
expansion is bounded, so a small file of nested aliases (a "billion laughs") is refused before it is built."""

from __future__ import annotations

from typing import Any

import yaml

#: nodes a document may expand to (aliases counted each time they are used); the shipped configs have < 2,000
MAX_NODES = 100_000
#: bytes of YAML text read at most
MAX_BYTES = 4 << 20


class YAMLError(ValueError):
    """A YAML text that is not acceptable: malformed, a duplicated key, too large once expanded."""


def _mark(node: yaml.Node) -> str:
    mark = node.start_mark
    return f"line {mark.line + 1}, column {mark.column + 1}"


def _check_keys(node: yaml.MappingNode) -> None:
    seen: dict[Any, yaml.Node] = {}
    for key_node, _ in node.value:
        if key_node.tag == "tag:yaml.org,2002:merge":
            continue
        key = key_node.value if isinstance(key_node, yaml.ScalarNode) else id(key_node)
        if key in seen:
            raise YAMLError(f"key {key!r} is given twice (at {_mark(seen[key])} and {_mark(key_node)}); "
                            "keep one")
        seen[key] = key_node


def _expanded_size(root: yaml.Node) -> int:
    """Nodes of the document with every alias expanded (memoised per node: linear in the file's size); a
    recursive alias is an error."""
    sizes: dict[int, int] = {}
    active: set[int] = set()

    def size(node: yaml.Node) -> int:
        key = id(node)
        if key in sizes:
            return sizes[key]
        if key in active:
            raise YAMLError(f"a recursive alias at {_mark(node)}")
        active.add(key)
        total = 1
        if isinstance(node, yaml.MappingNode):
            _check_keys(node)
            for k, v in node.value:
                total += size(k) + size(v)
                if total > MAX_NODES:
                    break
        elif isinstance(node, yaml.SequenceNode):
            for item in node.value:
                total += size(item)
                if total > MAX_NODES:
                    break
        active.discard(key)
        sizes[key] = total
        return total

    return size(root)


def load_yaml(text: str, where: str) -> Any:
    """The data of a YAML text (``where`` names it in errors: a file, ``override batch_size``)."""
    if len(text) > MAX_BYTES:
        raise YAMLError(f"{where}: {len(text)} characters of YAML; at most {MAX_BYTES} are read")
    loader = yaml.SafeLoader(text)
    try:
        node = loader.get_single_node()
        if node is None:
            return None
        total = _expanded_size(node)
        if total > MAX_NODES:
            raise YAMLError(f"{where}: the document expands to more than {MAX_NODES} values (aliases of "
                            "aliases?); write it out or shorten it")
        return loader.construct_document(node)
    except YAMLError as err:
        message = str(err)
        raise YAMLError(message if message.startswith(where) else f"{where}: {message}") from None
    except yaml.YAMLError as err:
        raise YAMLError(f"{where}: not valid YAML ({reason(err)})") from err
    finally:
        loader.dispose()


def reason(err: yaml.YAMLError) -> str:
    """A YAML parser error in one line: the problem and where."""
    mark = getattr(err, "problem_mark", None)
    problem = getattr(err, "problem", None) or str(err).splitlines()[0]
    return f"{problem} at line {mark.line + 1}, column {mark.column + 1}" if mark is not None else str(problem)


def dump_yaml(data: Any) -> str:
    """YAML text of plain data, keys in their order."""
    return yaml.safe_dump(data, sort_keys=False, allow_unicode=True)
