"""Typed task options (:mod:`codecbench.util.options`): every key a field, every value of its field's type."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal

import pytest

from codecbench.plugins.registry import TASKS, discover
from codecbench.util.options import NoOptions, parse_options


@dataclass(frozen=True)
class Size:
    layers: int = 2


@dataclass(frozen=True)
class Example:
    rate: float = 0.5
    steps: int | None = None
    on: bool = False
    mode: Literal["a", "b"] = "a"
    betas: tuple[float, float] = (0.9, 0.98)
    seeds: tuple[int, ...] | None = None
    per_codec: dict[str, int] = field(default_factory=dict)
    size: Size = field(default_factory=Size)


def test_values_are_converted_to_their_field_types() -> None:
    got = parse_options(Example, {"rate": 1, "steps": 3, "on": True, "mode": "b", "betas": [0.8, 0.9],
                                  "seeds": [0, 1], "per_codec": {"mimi": 500}, "size": {"layers": 4}}, "opts")
    assert got == Example(1.0, 3, True, "b", (0.8, 0.9), (0, 1), {"mimi": 500}, Size(4))
    assert isinstance(got.rate, float) and parse_options(Example, None, "opts") == Example()
    assert parse_options(Example, {"steps": None}, "opts").steps is None


@pytest.mark.parametrize(("given", "match"), [
    ({"rat": 1.0}, r"opts: unknown key 'rat'; did you mean 'rate'\?"),
    ({"steps": 2.5}, r"opts.steps must be an integer"),
    ({"steps": True}, r"opts.steps must be an integer"),
    ({"on": 1}, r"opts.on must be true or false"),
    ({"rate": "x"}, r"opts.rate must be a number"),
    ({"mode": "c"}, r"opts.mode must be one of \('a', 'b'\)"),
    ({"betas": [0.9]}, r"opts.betas must have 2 items"),
    ({"seeds": ["a"]}, r"opts.seeds\[0\] must be an integer"),
    ({"per_codec": {"mimi": "big"}}, r"opts.per_codec.mimi must be an integer"),
    ({"size": {"layer": 1}}, r"opts.size: unknown key 'layer'; did you mean 'layers'"),
    ({"size": 3}, r"opts.size must be a mapping of layers"),
])
def test_bad_values_name_the_key_and_what_was_expected(given: dict, match: str) -> None:
    with pytest.raises(ValueError, match=match):
        parse_options(Example, given, "opts")


def test_a_task_without_options_refuses_every_key_and_every_task_declares_a_dataclass() -> None:
    with pytest.raises(ValueError, match="accepted: none"):
        parse_options(NoOptions, {"x": 1}, "task_options.t")
    discover()
    for name in TASKS.names():  # every built-in task's defaults parse: its Options is a usable dataclass
        task = TASKS.get(name)
        assert task.parse_options({}) == task.Options()
