"""Codec cards: the paper's Table 5 (training data, hours, multilingual, domain, checkpoint, licence) per
registry name, from ``results/published/table5.csv``; shown by ``codecbench list`` and in table footnotes."""

from __future__ import annotations

import csv
from functools import lru_cache
from pathlib import Path

from codecbench.util.shipped import published


def table5() -> Path:
    """The paper's Table 5 (codec cards), shipped as package data."""
    return published("table5.csv")


@lru_cache(maxsize=1)
def cards() -> dict[str, dict[str, str]]:
    """``{registry name: card}``."""
    with open(table5(), newline="", encoding="utf-8") as handle:
        return {row["codec"]: row for row in csv.DictReader(handle)}


def card_line(name: str) -> str | None:
    """One line: ``trained on <data> (<hours> h; <domain>; multilingual <yes/no>); checkpoint <c>; licence <l>``."""
    card = cards().get(name)
    if card is None:
        return None
    return (f"trained on {card['training_data']} ({card['hours']} h, {card['domain'].lower()}, multilingual "
            f"{card['multilingual'].lower()}); checkpoint {card['checkpoint']}; licence {card['licence']}")
