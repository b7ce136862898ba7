"""What a text filter is: signals computed from shared document statistics, then a decision.

Following Dolma's taggers and mixers, a filter first *measures* (``signals``: numbers stored
as ``sig_<filter>_<signal>`` columns) and then *decides* (``reason``: the first rule the
signals break, or ``None``). ``tag`` mode keeps the measurement and skips the decision,
so a policy can be chosen after looking at the numbers.
"""

from __future__ import annotations

from typing import Protocol

from crawlsieve.filters.text_stats import DocStats

Signals = dict[str, float | None]


class TextFilter(Protocol):
    """One filter over extracted text (see module docstring)."""

    #: Stable name, the prefix of its removal reasons and signal columns.
    name: str
    #: "drop" or "tag" (filters that are "off" are not built).
    mode: str

    def signal_names(self) -> list[str]:
        """Every signal this filter writes, so each batch has the same columns."""
        ...

    def signals(self, stats: DocStats) -> Signals:
        """Measure the document."""
        ...

    def reason(self, signals: Signals) -> str | None:
        """The first rule the signals break (the part after ``name:``), or ``None``."""
        ...


def above(value: float | None, limit: float | None) -> bool:
    """``value > limit``, where an unset (or zero, as in datatrove) limit disables the rule."""
    return bool(limit) and value is not None and value > limit


def below(value: float | None, limit: float | None) -> bool:
    """``value < limit``, where an unset (or zero, as in datatrove) limit disables the rule."""
    return bool(limit) and value is not None and value < limit


def ratio(part: float, whole: float) -> float:
    """``part / whole`` that treats an empty whole as 'nothing of it' instead of raising."""
    return part / whole if whole else 0.0
