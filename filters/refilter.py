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
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass

import pyarrow as pa
import pyarrow.compute as pc

from crawlsieve.core.errors import ConfigError
from crawlsieve.filters.classifier import (
    QUALITY_SCORE,
    FastTextClassifierStage,
    KenlmPerplexityStage,
    QualityClassifierStage,
    classifier_column,
)
from crawlsieve.filters.config import SIGNAL_FIELDS, FiltersConfig
from crawlsieve.filters.stages import EMPTY_TEXT, HeuristicFilterStage, signal_column, text_filters

#: Multiples of a threshold the what-if counts are taken at.
WHAT_IF_STEPS = (0.5, 0.75, 1.0, 1.25, 1.5)


def filter_stage_names(filters: FiltersConfig) -> list[str]:
    """The stage names the filters book their decisions under, in order."""
    names = ["heuristic_filters"] if text_filters(filters) else []
    names += ["quality_classifier", *(f"classifier:{entry.name}" for entry in filters.classifiers)]
    if filters.kenlm.model_path and filters.kenlm.mode != "off":
        names.append("kenlm")
    return names


def signal_columns(filters: FiltersConfig) -> list[str]:
    """Every signal column a run with ``filters`` writes."""
    columns = [signal_column(f.name, s) for f in text_filters(filters) for s in f.signal_names()]
    columns += [QUALITY_SCORE, *(classifier_column(entry.name) for entry in filters.classifiers)]
    if filters.kenlm.model_path and filters.kenlm.mode != "off":
        columns.append(KenlmPerplexityStage.column)
    return columns


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
    if old.decontamination != new.decontamination:
        raise _differs("filters.decontamination", "differs from the run's (it decides before the filters)")
    if old.pii != new.pii:
        raise _differs("filters.pii", "differs from the run's (it rewrote the kept texts)")
    for name, fields in SIGNAL_FIELDS.items():
        before, after = getattr(old, name), getattr(new, name)
        if before.mode == "off" and after.mode != "off":
            raise _differs(f"filters.{name}", "was off in the run, so its signals were not computed")
        if after.mode == "off":
            continue
        for field in fields:
            if getattr(before, field) != getattr(after, field):
                raise _differs(f"filters.{name}.{field}", "differs from the run's (it shapes the signals)")
    if old.gopher_repetition.mode != "off":
        for field in ("top_n_grams", "dup_n_grams"):
            if set(getattr(old.gopher_repetition, field)) != set(getattr(new.gopher_repetition, field)):
                raise _differs(f"filters.gopher_repetition.{field}", "has other n than the run's")
    if (old.c4.mode == "drop") != (new.c4.mode == "drop"):
        raise _differs("filters.c4.mode", "changes whether C4 cleans the kept texts")
    before, after = old.quality_classifier, new.quality_classifier
    for field in ("model_path", "positive_label", "max_chars"):
        if getattr(before, field) != getattr(after, field):
            raise _differs(f"filters.quality_classifier.{field}", "differs from the run's")
    entries = {entry.name: entry for entry in old.classifiers}
    for entry in new.classifiers:
        known = entries.get(entry.name)
        if known is None:
            raise _differs(
                f"filters.classifiers[{entry.name}]", "was not in the run, so its score is missing"
            )
        for field in ("model_path", "label", "max_chars"):
            if getattr(known, field) != getattr(entry, field):
                raise _differs(f"filters.classifiers[{entry.name}].{field}", "differs from the run's")
    kenlm_on = new.kenlm.model_path and new.kenlm.mode != "off"
    if kenlm_on and (old.kenlm.model_path != new.kenlm.model_path or old.kenlm.mode == "off"):
        raise _differs("filters.kenlm", "was off or had another model in the run")


@dataclass(frozen=True)
class Decider:
    """One filter's decision over stored signals: ``name`` as the run's stages order them."""

    name: str
    stage: str
    columns: tuple[str, ...]
    #: (values of ``columns`` for one row) -> reason or None
    decide: Callable[[list], str | None]
    #: False for a filter in tag mode: it needs no signal to decide nothing
    removes: bool


def deciders(filters: FiltersConfig) -> list[Decider]:
    """Every filter that can remove a document, in the order the run applies them."""
    out = []
    for text_filter in text_filters(filters):
        signals = text_filter.signal_names()
        columns = tuple(signal_column(text_filter.name, s) for s in signals)

        def decide(values, f=text_filter, signals=signals):
            rule = f.reason(dict(zip(signals, values, strict=True)))
            return f"{f.name}:{rule}" if rule else None

        removes = text_filter.mode == "drop"
        out.append(Decider(text_filter.name, HeuristicFilterStage.name, columns, decide, removes))
    classifiers = [
        QualityClassifierStage(filters.quality_classifier),
        *(FastTextClassifierStage.from_entry(entry) for entry in filters.classifiers),
    ]
    if filters.kenlm.model_path and filters.kenlm.mode != "off":
        classifiers.append(KenlmPerplexityStage(filters.kenlm))
    for stage in classifiers:
        removes = any(stage.decide([-1e300, 1e300]))  # a stage in tag mode decides nothing
        out.append(
            Decider(stage.name, stage.name, (stage.column,), lambda v, s=stage: s.decide(v)[0], removes)
        )
    return out


def computed_filters(old: FiltersConfig) -> Callable[[str, str | None], set[str] | None]:
    """For a document the run's filters removed (by stage and reason): the filters whose signals
    the run computed for it (``None``: all of them). A run without ``compute_all_signals`` stops
    at the filter that removed it."""
    names = [d.name for d in deciders(old)]

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
    whether the row's whole text is stored (a document can be kept only then). A row of a genre
    with its own thresholds is decided by them. Raises ``ConfigError`` naming the first filter a
    decision needs and the run did not compute.
    """
    reasons: list[str | None] = [None] * rows.num_rows
    stages: list[str | None] = [None] * rows.num_rows
    plan = [decider for decider in deciders(new) if decider.removes]
    by_genre = {
        genre: [decider for decider in deciders(new.for_genre(genre)) if decider.removes]
        for genre in new.genre_thresholds
    }
    values = {
        c: rows.column(c).to_pylist() if c in rows.column_names else [None] * rows.num_rows
        for decider in plan
        for c in decider.columns
    }
    genres = rows.column("genre").to_pylist() if "genre" in rows.column_names else [None] * rows.num_rows
    for row in range(rows.num_rows):
        for decider in by_genre.get(genres[row], plan):
            if computed[row] is not None and decider.name not in computed[row]:
                raise ConfigError(
                    f"filter {decider.name}: the run did not compute its signals for documents an earlier "
                    "filter removed; run with filters.compute_all_signals: true to refilter them"
                )
            reason = decider.decide([values[c][row] for c in decider.columns])
            if reason:
                reasons[row], stages[row] = reason, decider.stage
                break
        else:
            if not whole[row]:
                raise ConfigError(
                    "the run did not keep the whole text of documents it removed; run with "
                    "filters.compute_all_signals: true to refilter them"
                )
    return reasons, stages


def fixed_decision(stage: str, removed: str | None, filters: FiltersConfig) -> bool:
    """Whether a ledger row's decision stands whatever the thresholds (not a filter's, a failure,
    or a text no filter can judge)."""
    return removed is None or removed == EMPTY_TEXT or stage not in filter_stage_names(filters)


# --- what-if counts -----------------------------------------------------------------------------


@dataclass(frozen=True)
class ThresholdRule:
    """A threshold that removes documents whose ``column`` is ``direction`` (below/above) it."""

    key: str
    column: str
    direction: str
    value: float

    def counter_key(self, step: float) -> str:
        return f"{self.column} {'<' if self.direction == 'below' else '>'} {self.value * step!r}"


def threshold_rules(filters: FiltersConfig) -> list[ThresholdRule]:
    """The thresholds of every enabled filter with the signal each one compares (zero or unset
    thresholds are off, as in the filters)."""
    candidates: list[tuple[str, str, str, float | None]] = []

    def add(section: str, field: str, signal: str, direction: str, value) -> None:
        candidates.append((f"{section}.{field}", signal_column(section, signal), direction, value))

    f = filters
    if f.repetition.mode != "off":
        add("repetition", "max_char_run", "char_run", "above", f.repetition.max_char_run)
        add("repetition", "max_token_repeat_line_frac", "token_repeat_line_frac", "above",
            f.repetition.max_token_repeat_line_frac)  # fmt: skip
    if f.compression.mode != "off":
        add("compression", "max_ratio", "ratio", "above", f.compression.max_ratio)
    if f.fineweb_quality.mode != "off":
        c = f.fineweb_quality
        add("fineweb_quality", "line_punct_thr", "line_punct_ratio", "below", c.line_punct_thr)
        add("fineweb_quality", "short_line_thr", "short_line_ratio", "above", c.short_line_thr)
        add("fineweb_quality", "char_duplicates_ratio", "char_dup_ratio", "above", c.char_duplicates_ratio)
        add("fineweb_quality", "new_line_ratio", "list_ratio", "above", c.new_line_ratio)
    if f.gopher_repetition.mode != "off":
        c = f.gopher_repetition
        for field in ("dup_para_frac", "dup_para_char_frac", "dup_line_frac", "dup_line_char_frac"):
            add("gopher_repetition", field, field, "above", getattr(c, field))
        for n, limit in sorted(c.top_n_grams.items()):
            add("gopher_repetition", f"top_n_grams.{n}", f"top_{n}_gram", "above", limit)
        for n, limit in sorted(c.dup_n_grams.items()):
            add("gopher_repetition", f"dup_n_grams.{n}", f"dup_{n}_gram", "above", limit)
    if f.gopher_quality.mode != "off":
        c = f.gopher_quality
        add("gopher_quality", "min_doc_words", "word_count", "below", c.min_doc_words)
        add("gopher_quality", "max_doc_words", "word_count", "above", c.max_doc_words)
        add("gopher_quality", "min_avg_word_length", "mean_word_length", "below", c.min_avg_word_length)
        add("gopher_quality", "max_avg_word_length", "mean_word_length", "above", c.max_avg_word_length)
        add("gopher_quality", "max_symbol_word_ratio", "hash_ratio", "above", c.max_symbol_word_ratio)
        add(
            "gopher_quality", "max_bullet_lines_ratio", "bullet_lines_frac", "above", c.max_bullet_lines_ratio
        )
        add("gopher_quality", "max_ellipsis_lines_ratio", "ellipsis_lines_frac", "above",
            c.max_ellipsis_lines_ratio)  # fmt: skip
        add("gopher_quality", "min_alpha_words_ratio", "alpha_words_frac", "below", c.min_alpha_words_ratio)
        add("gopher_quality", "min_stop_words", "stop_words", "below", c.min_stop_words)
    if f.c4.mode != "off" and f.c4.min_num_sentences != -1:
        add("c4", "min_num_sentences", "sentences", "below", f.c4.min_num_sentences)
    rules = [ThresholdRule(key, column, direction, float(v)) for key, column, direction, v in candidates if v]
    rules.append(
        ThresholdRule("quality_classifier.min_score", QUALITY_SCORE, "below", f.quality_classifier.min_score)
    )
    for entry in f.classifiers:
        rules.append(ThresholdRule(f"classifiers[{entry.name}].threshold", f"sig_{entry.name}", "below",
                                   entry.threshold))  # fmt: skip
    if f.kenlm.model_path and f.kenlm.mode != "off":
        rules.append(ThresholdRule("kenlm.max_perplexity", KenlmPerplexityStage.column, "above",
                                   f.kenlm.max_perplexity))  # fmt: skip
    return rules


def what_if_counts(docs: pa.Table | None, ledger: pa.Table | None, filters: FiltersConfig) -> Counter:
    """Per threshold and step, how many of a file's documents that reached the filters (its
    ``docs``, and its ``ledger`` rows the filters removed) the threshold alone would remove;
    documents without the signal are not counted. The thresholds are the filter sections' own
    (``filters.genre_thresholds`` is not counted here)."""
    population = [] if docs is None else [docs]
    if ledger is not None and ledger.num_rows:
        stages = pa.array(filter_stage_names(filters), pa.string())
        population.append(ledger.filter(pc.is_in(ledger.column("stage"), value_set=stages)))
    counts: Counter = Counter()
    for rule in threshold_rules(filters):
        for table in population:
            if rule.column not in table.column_names:
                continue
            values = table.column(rule.column).cast(pa.float64())
            compare = pc.less if rule.direction == "below" else pc.greater
            for step in WHAT_IF_STEPS:
                counts[rule.counter_key(step)] += pc.sum(compare(values, rule.value * step)).as_py() or 0
    return counts


def what_if_section(filters: FiltersConfig, counts: Counter) -> list[dict]:
    """stats.json ``what_if``: per threshold, the documents removed at each step (from the run's
    summed counts; exact for every threshold when the run computed all signals)."""
    return [
        {
            "threshold": rule.key,
            "signal": rule.column,
            "removes": rule.direction,
            "current": rule.value,
            "removed_at": [
                {
                    "value": rule.value * step,
                    "step": step,
                    "documents": int(counts.get(rule.counter_key(step), 0)),
                }
                for step in WHAT_IF_STEPS
            ],
        }
        for rule in threshold_rules(filters)
    ]
