"""FineWeb-2's per-language filter settings, the language table of the thresholds' resolution.

FineWeb-2 tuned the Gopher and FineWeb thresholds and picked stop words for each of its
languages, and its filtering step turns some rules off for all of them (no C4, no short-line
rule, char-duplicates at 0.1). ``data/fineweb2.json`` holds both under crawlsieve's config names
for every lid.176 code that maps to a FineWeb-2 language (174 of 176; not English, whose settings
are FineWeb's own, crawlsieve's defaults); ``data/build_fineweb2.py`` writes it from FineWeb-2's
published files (Apache-2.0) and holds the code mapping. ``FilterSection.thresholds_for`` lays a
language's values over a section's own; ``languages.rules_for`` takes its stop words.
"""

from __future__ import annotations

import json
from functools import cache
from importlib import resources
from typing import Any

#: The label of the settings that judge a language without a table entry (stats.json).
DEFAULT_SETTINGS = "crawlsieve default"


@cache
def _table() -> dict[str, Any]:
    text = (resources.files("crawlsieve.filters") / "data" / "fineweb2.json").read_text(encoding="utf-8")
    return json.loads(text)


def tabled_languages() -> list[str]:
    """The lid.176 codes with FineWeb-2 settings."""
    return list(_table()["languages"])


def fineweb2_name(language: str | None) -> str | None:
    """FineWeb-2's language_script name for a lid.176 code (``zh`` -> ``cmn_Hani``); ``None``: not covered."""
    entry = _table()["languages"].get(language)
    return entry["fineweb2"] if entry else None


def table_label(language: str | None) -> str | None:
    """How stats.json names the table that judged ``language`` (``fineweb2:cmn_Hani``)."""
    name = fineweb2_name(language)
    return f"fineweb2:{name}" if name else None


@cache
def section_values(section: str, language: str | None) -> dict[str, Any]:
    """The values the table gives config section ``section`` (``fineweb_quality``) for ``language``:
    FineWeb-2's choices for all its languages, then the language's own; empty when not covered."""
    table = _table()
    entry = table["languages"].get(language)
    if entry is None:
        return {}
    return {**table["pipeline"].get(section, {}), **entry.get(section, {})}


def stop_words(language: str) -> frozenset[str] | None:
    """FineWeb-2's stop words for ``language``; ``None``: not covered."""
    entry = _table()["languages"].get(language)
    return frozenset(entry["stop_words"]) if entry else None
