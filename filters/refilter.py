"""The filters' decisions re-made from stored signals (`crawlsieve refilter`), and what-if counts.

A filter measures (signals) and then decides (thresholds): every decision of the heuristic and
classifier filters is a function of a document's ``sig_*`` columns (``quality_score`` for the
quality classifier) and the config's thresholds and modes. So a run's decisions can be re-made
for new thresholds from what it stored, without reading a WARC again, as long as

* the new config computes the same signals (``check_refilter``: only thresholds and modes may
  change, and no filter may be switched on that the run had off), and
* every signal a decision needs was computed: a run that stops at a document's first failing
  filter (the default) has no signals of later filters for it, nor its whole text; one with
  ``filters.compute_all_signals`` has both (``redecide`` refuses a document it cannot decide).

``threshold_rules`` and ``what_if_counts`` give, per threshold, how many documents it would
remove on its own at the current value and a few steps either side (per file, summed by the run).

All of it is derived from the filters' declared rules (``filters.base``) and stages
(``filters.stages.judges``), never from a copy of them.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass

import pyarrow as pa
import pyarrow.compute as pc

from crawlsieve.core.errors import ConfigError
from crawlsieve.filters.base import Judge, Rule, threshold_keys
from crawlsieve.filters.config import FiltersConfig, FilterSection
from crawlsieve.filters.language_table import tabled_languages
from crawlsieve.filters.stages import HeuristicFilterStage, filter_stages, judges
from crawlsieve.filters.stages import language_settings_counts as table_settings_counts

#: Multiples of a threshold the what-if counts are taken at.
WHAT_IF_STEPS = (0.5, 0.75, 1.0, 1.25, 1.5)


def filter_stage_names(filters: FiltersConfig) -> list[str]:
    """The stage names the filters book their decisions under, in order."""
    return [stage.name for stage in filter_stages(filters)]


def signal_columns(filters: FiltersConfig) -> list[str]:
    """Every signal column a run with ``filters`` writes."""
    return [judge.signal_column(s) for _, judge in judges(filters) for s in judge.signal_names()]


def _differs(key: str, why: str) -> ConfigError:
    return ConfigError(f"{key} {why}; refilter can change only thresholds and modes (run the pipeline again)")


def check_refilter(old: FiltersConfig, new: FiltersConfig) -> None:
    """Refuse (one line, naming the filter) a new filters config whose signals the run lacks."""
    if new.compute_all_signals and not old.compute_all_signals:
        raise _differs("filters.compute_all_signals", "is true but the run did not compute all signals")
    if old.per_language_rules != new.per_language_rules:
        raise _differs("filters.per_language_rules", "differs from the run's")
    if old.url != new.url:
        raise _differs("filters.url", "differs from the run's (it runs before extraction)")
    if old.encoding != new.encoding:
        raise _differs(
            "filters.encoding", "differs from the run's (it decides before language identification)"
        )
    if old.decontamination != new.decontamination:
        raise _differs("filters.decontamination", "differs from the run's (it decides before the filters)")
    if old.pii != new.pii:
        raise _differs("filters.pii", "differs from the run's (it rewrote the kept texts)")
    if (old.c4.mode == "drop") != (new.c4.mode == "drop"):
        raise _differs("filters.c4.mode", "changes whether C4 cleans the kept texts")
    ran = {judge.config_key: judge for _, judge in judges(old)}
    for _, judge in judges(new):
        before = ran.get(judge.config_key)
        if before is None:
            raise _differs(judge.config_key, "was off or absent in the run, so its signals were not computed")
        for field in judge.signal_fields:
            if getattr(before.config, field) != getattr(judge.config, field):
                why = "differs from the run's (it shapes the signals)"
                raise _differs(f"{judge.config_key}.{field}", why)
        if missing := sorted(set(judge.signal_names()) - set(before.signal_names())):
            raise _differs(judge.config_key, f"needs signals the run did not compute ({', '.join(missing)})")
        for rule in judge.rules:
            if rule.measured_up_to_threshold and _raised(rule, before.config, judge.config):
                raise _differs(
                    f"{judge.config_key}.{rule.key}",
                    "is above the run's, which measured its signal only up to its own value",
                )
        for language in _languages_with_layers(before.config, judge.config) if new.per_language_rules else ():
            was_off = before.config.thresholds_for(language, None).mode == "off"
            if was_off and judge.config.thresholds_for(language, None).mode != "off":
                raise _differs(
                    f"{judge.config_key}.languages.{language}.mode",
                    f"turns the filter on for {language}, which the run did not measure with it",
                )


def _languages_with_layers(*sections: FilterSection) -> list[str]:
    """Every language some layer of the sections names (the language table's, the config's)."""
    return sorted({*tabled_languages(), *(language for s in sections for language in s.languages)})


def _raised(rule: Rule, before: FilterSection, after: FilterSection) -> bool:
    """Whether the rule's highest threshold in ``after`` (of any language or genre) is on and above
    (or on where it was off in) ``before``'s, up to which the run measured."""
    new, old = rule.highest(after), rule.highest(before)
    return new is not None and (old is None or new > old)


def computed_filters(old: FiltersConfig) -> Callable[[str, str | None], set[str] | None]:
    """For a document the run's filters removed (by stage and reason): the filters whose signals
    the run computed for it (``None``: all of them). A run without ``compute_all_signals`` stops
    at the filter that removed it."""
    names = [judge.name for _, judge in judges(old)]

    def computed(stage: str, reason: str | None) -> set[str] | None:
        if old.compute_all_signals:
            return None
        last = (reason or "").partition(":")[0] if stage == HeuristicFilterStage.name else stage
        return set(names[: names.index(last) + 1]) if last in names else set()

    return computed


def redecide(
    rows: pa.Table, new: FiltersConfig, computed: list[set[str] | None], whole: list[bool]
) -> tuple[list[str | None], list[str | None]]:
    """Each row's removal reason and the stage it is booked under (``None``: kept) under ``new``.

    ``computed``: per row, the filters whose signals were computed (``None``: all); ``whole``:
    whether the row's whole text is stored (a document can be kept only then). Raises
    ``ConfigError`` naming the first filter a decision needs and the run did not compute.
    """
    reasons: list[str | None] = [None] * rows.num_rows
    stages: list[str | None] = [None] * rows.num_rows
    plan = [
        (stage, judge, {s: judge.signal_column(s) for s in judge.signal_names()})
        for stage, judge in judges(new)
        if judge.removes
    ]
    values = {
        c: rows.column(c).to_pylist() if c in rows.column_names else [None] * rows.num_rows
        for _, _, columns in plan
        for c in columns.values()
    }
    keys = threshold_keys(rows, new.per_language_rules)
    sections = {
        (judge.config_key, key): judge.config.thresholds_for(*key)
        for _, judge, _ in plan
        for key in dict.fromkeys(keys)
    }
    for row in range(rows.num_rows):
        for stage, judge, columns in plan:
            if computed[row] is not None and judge.name not in computed[row]:
                raise ConfigError(
                    f"filter {judge.name}: the run did not compute its signals for documents an earlier "
                    "filter removed; run with filters.compute_all_signals: true to refilter them"
                )
            section = sections[(judge.config_key, keys[row])]
            reason = judge.reason({s: values[c][row] for s, c in columns.items()}, section)
            if reason:
                reasons[row], stages[row] = reason, stage
                break
        else:
            if not whole[row]:
                raise ConfigError(
                    "the run did not keep the whole text of documents it removed; run with "
                    "filters.compute_all_signals: true to refilter them"
                )
    return reasons, stages


# --- what-if counts -----------------------------------------------------------------------------


@dataclass(frozen=True)
class ThresholdRule:
    """A threshold of a filter the run has: ``rule`` of ``judge``, at ``value`` (its section's own
    value, before any language's or genre's)."""

    judge: Judge
    rule: Rule
    value: float

    @property
    def key(self) -> str:
        """The threshold's config key below ``filters`` (``gopher_quality.min_doc_words``)."""
        return f"{self.judge.config_key.removeprefix('filters.')}.{self.rule.key}"

    @property
    def columns(self) -> list[str]:
        return [self.judge.signal_column(s) for s in self.rule.signals]

    def counter_key(self, step: float) -> str:
        return f"{self.key} x{step!r}"

    def known(self, step: float) -> bool:
        """Whether the signals tell what the threshold removes at ``step`` times its value."""
        return step <= 1 or not self.rule.measured_up_to_threshold


def threshold_rules(filters: FiltersConfig) -> list[ThresholdRule]:
    """Every threshold of every filter the run has (those that are off left out, as the filters
    skip them), from the filters' declared rules."""
    return [
        ThresholdRule(judge, rule, float(value))
        for _, judge in judges(filters)
        for rule in judge.rules
        if rule.field is not None and (value := rule.threshold(judge.config)) is not None
    ]


def what_if_counts(docs: pa.Table | None, ledger: pa.Table | None, filters: FiltersConfig) -> Counter:
    """Per threshold and step, how many of a file's documents that reached the filters (its
    ``docs``, and its ``ledger`` rows the filters removed) the threshold alone would remove, each
    at the thresholds for its language and genre, as the filter decides it (``Rule.broken``);
    documents without the signal are not counted."""
    counts: Counter = Counter()
    rules = threshold_rules(filters)
    for table in _reached_filters(docs, ledger, filters):
        groups, group_of_row = _groups(table, filters.per_language_rules)
        sections: dict[str, list] = {}
        for rule in rules:
            if not all(c in table.column_names for c in rule.columns):
                continue
            judge = rule.judge
            if judge.config_key not in sections:
                sections[judge.config_key] = [judge.config.thresholds_for(*key) for key in groups]
            resolved = sections[judge.config_key]
            limits = pa.array([rule.rule.threshold(s) for s in resolved], pa.float64()).take(group_of_row)
            spare = None
            if rule.rule.spare_zero is not None:
                spare = pa.array([rule.rule.spares_zero(s) for s in resolved], pa.bool_()).take(group_of_row)
            exempt = None
            if rule.rule.unless_above is not None:
                signal = judge.signal_column(rule.rule.unless_above[0])
                if signal not in table.column_names:
                    continue
                spared_above = pa.array([rule.rule.exemption(s) for s in resolved], pa.float64())
                column = table.column(signal).cast(pa.float64())
                exempt = pc.fill_null(pc.greater(column, spared_above.take(group_of_row)), False)
            values = [table.column(c).cast(pa.float64()) for c in rule.columns]
            for step in WHAT_IF_STEPS:
                if rule.known(step):
                    broken = rule.rule.broken(values, pc.multiply(limits, step), spare, exempt)
                    counts[rule.counter_key(step)] += pc.sum(broken).as_py() or 0
    return counts


def _reached_filters(
    docs: pa.Table | None, ledger: pa.Table | None, filters: FiltersConfig
) -> list[pa.Table]:
    """A file's documents that reached the filters: its ``docs``, and its ``ledger`` rows the
    filters removed."""
    population = [] if docs is None else [docs]
    if ledger is not None and ledger.num_rows:
        stages = pa.array(filter_stage_names(filters), pa.string())
        population.append(ledger.filter(pc.is_in(ledger.column("stage"), value_set=stages)))
    return population


def language_settings_counts(
    docs: pa.Table | None, ledger: pa.Table | None, filters: FiltersConfig
) -> Counter:
    """The heuristic stage's counts of the documents each language's settings judged
    (``filters.stages.language_settings_counts``), over a file's documents that reached the filters."""
    counts: Counter = Counter()
    for table in _reached_filters(docs, ledger, filters):
        counts.update(table_settings_counts(table, filters))
    return counts


def _groups(table: pa.Table, per_language: bool) -> tuple[list[tuple[str | None, str | None]], pa.Array]:
    """The distinct (language, genre) of a table's rows, and each row's index among them."""
    index: dict[tuple[str | None, str | None], int] = {}
    rows = [index.setdefault(key, len(index)) for key in threshold_keys(table, per_language)]
    return list(index), pa.array(rows, pa.int32())


def what_if_section(filters: FiltersConfig, counts: Counter) -> list[dict]:
    """stats.json ``what_if``: per threshold, the documents removed at each step (from the run's
    summed counts; exact for every threshold when the run computed all signals; ``None`` where the
    signal was measured only up to the threshold)."""
    return [
        {
            "threshold": rule.key,
            "signal": " or ".join(rule.columns),
            "removes": rule.rule.removes,
            "current": rule.value,
            "removed_at": [
                {
                    "value": rule.value * step,
                    "step": step,
                    "documents": int(counts.get(rule.counter_key(step), 0)) if rule.known(step) else None,
                }
                for step in WHAT_IF_STEPS
            ],
        }
        for rule in threshold_rules(filters)
    ]
