"""What a filter is: signals computed from shared document statistics, then a decision by rules.

Following Dolma's taggers and mixers, a filter first *measures* (``signals``: numbers stored
as ``sig_<filter>_<signal>`` columns) and then *decides*: each filter declares its rules once
(``Rule``: which signals a threshold bounds, which way it removes, the config field that holds
it, the reason), and everything that decides or counts derives from that declaration: the
filter's own decision (``Judge.reason``), `crawlsieve refilter` (``filters.refilter``) and the
what-if counts. ``tag`` mode keeps the measurement and skips the decision, so a policy can be
chosen after looking at the numbers.

A threshold's value comes from the filter's config section resolved for the document's language
and genre (``FilterSection.thresholds_for``), by every one of those consumers alike.
"""

from __future__ import annotations

from dataclasses import KW_ONLY, dataclass
from functools import reduce
from typing import ClassVar, Literal

import pyarrow as pa
import pyarrow.compute as pc

from crawlsieve.core.errors import ConfigError
from crawlsieve.filters.config import FilterSection
from crawlsieve.filters.text_stats import DocStats

Signals = dict[str, float | None]


@dataclass(frozen=True)
class Rule:
    """One way a filter removes a document: some of its signals against a threshold.

    A document breaks the rule when any of ``signals`` is above (``>``) or below (``<``) the
    threshold, as ``removes`` says; a signal that was not measured (``None``) breaks nothing,
    except for an ``unmeasured`` rule, which removes a document none of its signals could measure.
    The threshold is the config field ``field`` of the filter's section (entry ``entry`` of it for
    a dict field), or ``limit`` for a rule no config sets.
    """

    #: The part of the removal reason after ``<filter name>:``; ``None``: the filter's name alone.
    reason: str | None
    signals: tuple[str, ...]
    removes: Literal["above", "below", "unmeasured"]
    field: str | None = None
    _: KW_ONLY
    entry: int | None = None
    limit: float = 0.0
    #: Values of the field that turn the rule off (datatrove's filters: unset or zero).
    off_at: tuple = (None, 0)
    #: A boolean field: when true, a signal of exactly 0 breaks nothing (FineWeb's
    #: ``line_punct_exclude_zero``).
    spare_zero: str | None = None
    #: (signal, reason): a broken rule is named after the first of these signals that is not
    #: zero, else ``reason`` (C4 names the line rule that emptied a page).
    named_by: tuple[tuple[str, str], ...] = ()
    #: The filter stops measuring the signal at the threshold (C4 counts sentences only until it
    #: has enough): the signal is exact below the threshold only, so what a higher threshold would
    #: remove is not known.
    measured_up_to_threshold: bool = False
    #: (signal, field): a document whose ``signal`` is above the section's ``field`` breaks nothing
    #: (spam's gambling SEO spares a page dense in gambling vocabulary: a real article about
    #: betting); the field's ``off_at`` values turn the exemption off. The exemption is not a
    #: threshold of its own: the what-if counts scale the rule's threshold, not this one.
    unless_above: tuple[str, str] | None = None

    @property
    def key(self) -> str:
        """The threshold's config key within the filter's section (``top_n_grams.2``)."""
        return f"{self.field}.{self.entry}" if self.entry is not None else str(self.field)

    def threshold(self, section: FilterSection) -> float | None:
        """The threshold in ``section`` (resolved for a language and genre); ``None``: the rule is off,
        as is every rule of a filter that is off for the language (``mode: off``)."""
        if section.mode == "off":
            return None
        if self.field is None:
            return self.limit
        value = getattr(section, self.field)
        if self.entry is not None:
            value = value.get(self.entry)
        return None if value in self.off_at else value

    def spares_zero(self, section: FilterSection) -> bool:
        return self.spare_zero is not None and bool(getattr(section, self.spare_zero))

    def exemption(self, section: FilterSection) -> float | None:
        """The limit above which ``unless_above``'s signal spares a document; ``None``: no exemption."""
        if self.unless_above is None:
            return None
        value = getattr(section, self.unless_above[1])
        return None if value in self.off_at else value

    def breaks(self, signals: Signals, section: FilterSection) -> bool:
        """Whether a document's ``signals`` break the rule at ``section``'s threshold."""
        limit = self.threshold(section)
        if limit is None:
            return False
        if self.removes == "unmeasured":
            return all(signals[name] is None for name in self.signals)
        exempt = self.exemption(section)
        if exempt is not None and (signals[self.unless_above[0]] or 0.0) > exempt:
            return False
        spare = self.spares_zero(section)
        above = self.removes == "above"
        for name in self.signals:
            value = signals[name]
            if value is None or (spare and value == 0):
                continue
            if value > limit if above else value < limit:
                return True
        return False

    def broken(
        self,
        columns: list[pa.ChunkedArray],
        limits: pa.Array,
        spare: pa.Array | None,
        exempt: pa.ChunkedArray | None = None,
    ) -> pa.ChunkedArray:
        """``breaks`` over columns: per row, whether the row's signals break the rule at its
        threshold in ``limits`` (null where a signal or the threshold is missing: counted as not);
        ``exempt``: the rows ``unless_above`` spares."""
        compare = pc.greater if self.removes == "above" else pc.less
        masks = []
        for column in columns:
            mask = compare(column, limits)
            if spare is not None:
                mask = pc.and_kleene(mask, pc.or_kleene(pc.invert(spare), pc.not_equal(column, 0.0)))
            masks.append(mask)
        broken = reduce(pc.or_kleene, masks)
        return broken if exempt is None else pc.and_kleene(broken, pc.invert(exempt))

    def named(self, signals: Signals) -> str | None:
        """The reason a document with ``signals`` that breaks the rule is removed for."""
        return next((reason for name, reason in self.named_by if signals[name]), self.reason)


class Judge:
    """Something that decides from signals by its declared ``rules``: the text filters and the
    classifier stages. The first rule a document breaks is its removal reason."""

    #: Stable name: the prefix of its removal reasons (and of a text filter's signal columns).
    name: str
    #: Its config section: mode, the fields that shape the signals, the thresholds.
    config: FilterSection
    rules: tuple[Rule, ...] = ()
    #: Whether it removes the documents that break a rule (drop mode), or only measures (tag).
    removes: bool
    #: Config fields that shape the signals: `refilter` cannot change them (thresholds and modes
    #: can change).
    signal_fields: ClassVar[tuple[str, ...]] = ()

    @property
    def config_key(self) -> str:
        return f"filters.{self.name}"

    def signal_names(self) -> list[str]:
        """Every signal this filter writes, so each batch has the same columns."""
        raise NotImplementedError

    def signal_column(self, signal: str) -> str:
        return f"sig_{self.name}_{signal}"

    def check_languages(self) -> None:
        """Refuse (``ConfigError``, one line) a language's value of a field that shapes the signals:
        they are measured alike in every language, only thresholds and modes vary."""
        for language, values in self.config.languages.items():
            if shaping := sorted(set(values) & set(self.signal_fields)):
                raise ConfigError(
                    f"{self.config_key}.languages.{language}.{shaping[0]}: shapes the signals, which are "
                    "measured alike in every language; set it for the section"
                )

    def reason(self, signals: Signals, section: FilterSection | None = None) -> str | None:
        """The removal reason of a document with ``signals``: the first rule they break at the
        thresholds of ``section``, this filter's section resolved for the document's language and
        genre (default: the section's own values); ``None``: kept."""
        section = section or self.config
        for rule in self.rules:
            if rule.breaks(signals, section):
                named = rule.named(signals)
                return f"{self.name}:{named}" if named else self.name
        return None


class TextFilter(Judge):
    """A filter over extracted text (see module docstring)."""

    def __init__(self, config: FilterSection):
        self.config = config
        #: "drop" or "tag" (filters that are "off" are not built).
        self.mode: str = config.mode

    @property
    def removes(self) -> bool:
        return self.mode == "drop"

    def signals(self, stats: DocStats) -> Signals:
        """Measure the document."""
        raise NotImplementedError


def threshold_keys(table: pa.Table, per_language: bool = True) -> list[tuple[str | None, str | None]]:
    """Each row's (language, genre): what selects the thresholds that judge it. A table without a
    ``genre`` column (no stage writes one yet) has genre ``None`` in every row; without
    ``per_language`` (``filters.per_language_rules: false``) every row's language is ``None``, so
    every language is judged by the sections' own values, as English."""
    n = table.num_rows
    has_language = per_language and "language" in table.column_names
    languages = table.column("language").to_pylist() if has_language else [None] * n
    genres = table.column("genre").to_pylist() if "genre" in table.column_names else [None] * n
    return list(zip(languages, genres, strict=True))


def ratio(part: float, whole: float) -> float:
    """``part / whole`` that treats an empty whole as 'nothing of it' instead of raising."""
    return part / whole if whole else 0.0
