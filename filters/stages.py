"""Which filter stages a run has, in the order they run (cheap first).

Before extraction: the URL blocklist (needs only the URL). After language identification:
benchmark decontamination when benchmarks are configured, then one heuristic stage that builds
each document's text statistics once and runs the text filters over them cheapest first (a
document removed by a cheap filter never pays for the expensive ones, whose signals then stay
empty), then the fastText quality classifier, the other fastText classifiers
(``filters.classifiers``), then KenLM when a model is given. With ``filters.compute_all_signals``
those filters run as one stage over every document (``AllSignalsFilters``). Last, when enabled,
PII replacement (``pii_stages``), which changes the text and removes nothing.
"""

from __future__ import annotations

from collections import Counter
from pathlib import Path

import pyarrow as pa

from crawlsieve.core.stages import (
    DECIDED_BY,
    ERROR,
    FAILED,
    LANGUAGE_SETTINGS,
    REMOVED,
    Stage,
    booked_names,
    check_stages,
    error_text,
    prepare_stages,
    stage_counters,
    with_decisions,
)
from crawlsieve.filters.base import Judge, TextFilter, threshold_keys
from crawlsieve.filters.c4 import C4
from crawlsieve.filters.chinese import Chinese
from crawlsieve.filters.cjk import to_simplified
from crawlsieve.filters.classifier import (
    FastTextClassifierStage,
    KenlmPerplexityStage,
    QualityClassifierStage,
)
from crawlsieve.filters.compression import Compression
from crawlsieve.filters.config import (
    DecontaminationConfig,
    FiltersConfig,
    FilterSection,
    PiiConfig,
    layer_rank,
)
from crawlsieve.filters.decontamination import DecontaminationStage
from crawlsieve.filters.fineweb_quality import FineWebQuality
from crawlsieve.filters.gopher_quality import GopherQuality
from crawlsieve.filters.gopher_repetition import GopherRepetition
from crawlsieve.filters.language_table import DEFAULT_SETTINGS
from crawlsieve.filters.languages import rules_for
from crawlsieve.filters.pii import PiiStage
from crawlsieve.filters.repetition import Repetition
from crawlsieve.filters.spam import Spam
from crawlsieve.filters.text_stats import DocStats
from crawlsieve.filters.url_blocklist import UrlBlocklistStage

#: Reason for a text with nothing but whitespace: no filter can judge it.
EMPTY_TEXT = "filters:empty_text"


#: The text filters with their config sections, cheapest first; spam before the line and word
#: rules, so a spam page is removed (or its signals kept) as spam even where a generic rule would
#: also remove it.
TEXT_FILTERS: tuple[tuple[str, type[TextFilter]], ...] = (
    ("repetition", Repetition),
    ("compression", Compression),
    ("spam", Spam),
    ("chinese", Chinese),
    ("fineweb_quality", FineWebQuality),
    ("gopher_repetition", GopherRepetition),
    ("gopher_quality", GopherQuality),
    ("c4", C4),
)


def text_filters(config: FiltersConfig) -> list[TextFilter]:
    """The enabled text filters, in ``TEXT_FILTERS``' order."""
    candidates = [kind(getattr(config, name)) for name, kind in TEXT_FILTERS]
    return [f for f in candidates if f.mode != "off"]


class HeuristicFilterStage(Stage):
    """Runs the text filters over shared per-document statistics (see module docstring).

    Adds one float64 column per signal of every enabled filter (empty where not computed, as for
    a filter that is off for the document's language), sets ``_removed`` to ``<filter>:<rule>``
    for the first drop-mode filter a document breaks (at the thresholds for its language and
    genre, resolved once per batch), and replaces a kept document's text by C4's cleaned lines when
    C4 drops for it and without the Chinese boilerplate lines when that filter drops. A Traditional
    Chinese page (``script`` ``Hant``) is measured on its Simplified conversion. Counts the
    documents each language's settings judged (``counters``).
    """

    name = "heuristic_filters"

    def __init__(self, config: FiltersConfig):
        self.config = config
        self.filters = text_filters(config)
        self.compute_all = config.compute_all_signals
        self.counters: Counter = Counter()

    def __call__(self, batch: pa.Table) -> pa.Table:
        # Each filter's signals with their columns, worked out once per batch, not per document.
        plan = [(f, [(s, [None] * batch.num_rows) for s in f.signal_names()]) for f in self.filters]
        removed: list[str | None] = [None] * batch.num_rows
        failed: list[str | None] = [None] * batch.num_rows
        errors: list[str | None] = [None] * batch.num_rows
        texts = batch.column("text").to_pylist()
        scripts = _column(batch, "script")
        pages = [_column(batch, name) for name in ("url", "title", "anchors")]
        keys = threshold_keys(batch, self.config.per_language_rules)
        sections = {key: [f.config.thresholds_for(*key) for f in self.filters] for key in dict.fromkeys(keys)}
        self.counters.update(language_settings_counts(batch, self.config))
        for row, (text, script, key, *page) in enumerate(zip(texts, scripts, keys, *pages, strict=True)):
            try:
                removed[row], texts[row] = self._judge(
                    text or "", script, key[0], sections[key], page, plan, row
                )
            except Exception as error:  # bad input becomes a decision, never an exception
                failed[row], errors[row] = "filter_error", error_text(error)
        for text_filter, signals in plan:
            for signal, values in signals:
                batch = batch.append_column(
                    text_filter.signal_column(signal), pa.array(values, type=pa.float64())
                )
        text_index = batch.schema.get_field_index("text")
        batch = batch.set_column(text_index, "text", pa.array(texts, type=batch.schema.field("text").type))
        return with_decisions(batch, removed=removed, failed=failed, error=errors)

    def _judge(
        self,
        text: str,
        script: str | None,
        language: str | None,
        sections: list[FilterSection],
        page: list,
        plan: list,
        row: int,
    ) -> tuple[str | None, str]:
        if not text.strip():
            return EMPTY_TEXT, text
        rules = rules_for(language, self.config.per_language_rules)
        url, title, anchors = page
        # A Traditional Chinese page is judged on its Simplified conversion, published as written.
        judged, published = (to_simplified(text), text) if script == "Hant" else (text, None)
        stats = DocStats(judged, rules, published, url=url, title=title, anchors=anchors)
        reason, cleaner, cut = None, None, set()
        for (text_filter, columns), section in zip(plan, sections, strict=True):
            if section.mode == "off":  # off for the document's language: not measured
                continue
            signals = text_filter.signals(stats)
            for signal, values in columns:
                value = signals[signal]
                values[row] = None if value is None else float(value)
            if isinstance(text_filter, C4) and text_filter.removes:
                cleaner = text_filter
            if isinstance(text_filter, Chinese) and text_filter.cleans and signals["boilerplate_lines"]:
                cut = text_filter.boilerplate_lines(stats)
            if reason is None and text_filter.removes:
                reason = text_filter.reason(signals, section)
                if reason and not self.compute_all:
                    return reason, text
        # With compute_all_signals every document gets the text it would be kept with: the
        # classifiers score it, and `refilter` keeps it from the ledger if the thresholds change.
        if cleaner:
            return reason, cleaner.cleaned_text(stats, cut)
        if cut:
            return reason, "\n".join(line for i, line in enumerate(stats.published_lines) if i not in cut)
        return reason, text


def settings_label(filters: FiltersConfig, key: tuple[str | None, str | None]) -> str:
    """The settings that judge documents of (language, genre) ``key``, as stats.json names them:
    the layers over the sections' own values (``FilterSection.layers``: ``fineweb2:cmn_Hani``,
    ``genre:forum``, ``config``) joined by ``+`` in the order they apply, or ``crawlsieve default``."""
    names = [name for section in filters.filter_sections() for name, _ in section.layers(*key)]
    return " + ".join(sorted(dict.fromkeys(names), key=layer_rank)) or DEFAULT_SETTINGS


def language_settings_counts(table: pa.Table, filters: FiltersConfig) -> Counter:
    """Per language, the documents of ``table`` each settings label judged: the summaries' counts
    ``language_settings:<language>=<label>`` that stats.json ``language_settings`` merges."""
    keys = threshold_keys(table, filters.per_language_rules)
    languages = (
        table.column("language").to_pylist() if "language" in table.column_names else [None] * len(keys)
    )
    labels = {key: settings_label(filters, key) for key in dict.fromkeys(keys)}
    return Counter(
        f"{LANGUAGE_SETTINGS}:{language or 'und'}={labels[key]}"
        for language, key in zip(languages, keys, strict=True)
    )


def _column(batch: pa.Table, name: str) -> list:
    """A column's values, or ``None`` for each row of a batch without it (an older run's documents,
    a batch built by hand)."""
    return batch.column(name).to_pylist() if name in batch.column_names else [None] * batch.num_rows


class AllSignalsFilters(Stage):
    """The filter stages with ``filters.compute_all_signals``: every stage sees every document that
    reaches the filters, so every signal is computed for every document, and a document's
    decision is the first stage's that decided it, booked under that stage's name (``DECIDED_BY``).
    Its decided rows go to the ledger whole, so `crawlsieve refilter` can keep them."""

    name = "filters"
    ledger_whole_rows = True

    def __init__(self, stages: list[Stage]):
        self.stages = stages

    @property
    def stage_names(self) -> list[str]:
        return booked_names(self.stages)

    @property
    def counters(self) -> Counter:
        return stage_counters(self.stages)

    def check(self) -> None:
        check_stages(self.stages)

    def prepare(self) -> None:
        prepare_stages(self.stages)

    def __call__(self, batch: pa.Table) -> pa.Table:
        n = batch.num_rows
        decisions: dict[str, list[str | None]] = {name: [None] * n for name in (REMOVED, FAILED, ERROR)}
        decided_by: list[str | None] = [None] * n
        for stage in self.stages:
            batch = stage(batch)
            made = {name: batch.column(name).to_pylist() for name in decisions if name in batch.column_names}
            removed, failed = made.get(REMOVED, [None] * n), made.get(FAILED, [None] * n)
            for row in range(n):
                if decided_by[row] is None and (removed[row] or failed[row]):
                    decided_by[row] = stage.name
                    for name, values in made.items():
                        decisions[name][row] = values[row]
            batch = batch.drop_columns(list(made))
        batch = with_decisions(
            batch, removed=decisions[REMOVED], failed=decisions[FAILED], error=decisions[ERROR]
        )
        return batch.append_column(DECIDED_BY, pa.array(decided_by, pa.string()))


def pre_extraction_stages(filters: FiltersConfig) -> list[Stage]:
    """Stages over the raw record (url, http headers) that run before extraction."""
    if filters.url.mode == "off":
        return []
    return [UrlBlocklistStage(filters.url)]


def filter_stages(filters: FiltersConfig) -> list[Stage]:
    """The stages that decide by thresholds over the extracted text, in order.

    The quality classifier always runs (``mode: off`` is read as ``tag``) because every
    output row carries ``quality_score``; without ``model_path`` it uses the project's
    default model. KenLM runs when a model is given.
    """
    stages: list[Stage] = []
    if text_filters(filters):
        stages.append(HeuristicFilterStage(filters))
    stages.append(QualityClassifierStage(filters.quality_classifier))
    stages += [FastTextClassifierStage(entry) for entry in filters.classifiers]
    if filters.kenlm.model_path and filters.kenlm.mode != "off":
        stages.append(KenlmPerplexityStage(filters.kenlm))
    for stage in stages:
        for judge in stage.filters if isinstance(stage, HeuristicFilterStage) else [stage]:
            judge.check_languages()
    return stages


def judges(filters: FiltersConfig) -> list[tuple[str, Judge]]:
    """Every filter that decides by thresholds, with the stage that books its decisions, in the
    order the run applies them: what `refilter` and the what-if counts are derived from."""
    out: list[tuple[str, Judge]] = []
    for stage in filter_stages(filters):
        judged = stage.filters if isinstance(stage, HeuristicFilterStage) else [stage]
        out += [(stage.name, judge) for judge in judged]
    return out


def post_language_stages(filters: FiltersConfig) -> list[Stage]:
    """Heuristic and classifier filters over the extracted text, after language id (``filter_stages``;
    one ``AllSignalsFilters`` stage with ``filters.compute_all_signals``)."""
    stages = filter_stages(filters)
    return [AllSignalsFilters(stages)] if filters.compute_all_signals else stages


def decontamination_stages(config: DecontaminationConfig, index_path: Path | None = None) -> list[Stage]:
    """Benchmark decontamination, when benchmarks are configured. It runs before the heuristic
    filters, so a contaminated page is removed for that reason, whatever else is wrong with it.
    ``index_path``: where the run keeps the n-gram index (``RunLayout.decontamination_index``)."""
    return [DecontaminationStage(config, index_path)] if config.benchmarks else []


def pii_stages(config: PiiConfig) -> list[Stage]:
    """PII replacement, when enabled."""
    return [PiiStage(config)] if config.enabled else []
