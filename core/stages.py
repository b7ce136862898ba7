"""The contract every crawlsieve stage keeps.

A stage is a callable over an Arrow table of *alive* documents (``Stage.__call__``)
that returns the same rows, in the same order, with columns added. It decides about a
row by setting one of two string columns; ``None`` means "goes on":

* ``REMOVED`` - the stable reason a filter removed the row (``"c4:javascript"``);
* ``FAILED`` - the kind of error that stopped the row (``"extract_timeout"``).

The orchestrator (``pipelines.extract_phase``) is the one place that does the bookkeeping:
after each stage it moves decided rows to the ledger, tagged with the stage name, and
passes the rest on without the two columns. So a stage never counts, never drops rows
itself, and never needs to know what ran before it beyond the columns it reads.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Mapping
from types import MappingProxyType
from typing import Literal

import pyarrow as pa
import pyarrow.compute as pc

REMOVED = "_removed"
FAILED = "_failed"
#: Free-text detail of a failure (exception message), kept in the ledger for the report.
ERROR = "_error"
#: Why decontamination matched a document: ``<benchmark>: <the n-gram it shares>``. The ledger,
#: the review samples and (when decontamination tags) the shards keep it, so a reviewer sees why.
DECONTAMINATION_MATCH = "decontamination_match"

#: The stage a decision is booked under when another stage made it: a stage that runs others
#: (``filters.stages.AllSignalsFilters``) books each decision under the inner stage that made it.
DECIDED_BY = "_decided_by"
#: Prefix of the counters ``language_settings:<language>=<settings>``: the documents of a language
#: that a settings table judged (``filters.stages.language_settings_counts``); stats.json
#: ``language_settings`` holds them per language.
LANGUAGE_SETTINGS = "language_settings"
#: The content domains the spam and safety signals give (``tagging`` assigns them, ``quality``
#: samples and reports the documents that carry them).
SAFETY_TAGS = ("adult", "gambling", "ads")
#: A page's genre (the ``genre`` column, set at extraction by ``ingest.genre``): forum is a
#: discussion thread or a Q&A page. Filters may judge each genre by its own thresholds.
Genre = Literal["article", "forum", "listing", "other"]


class Stage:
    """A named step over batches of alive documents (see module docstring); every stage inherits
    this class, whose optional hooks do nothing, so the run walks them for every stage
    (``check_stages``, ``prepare_stages``, ``stage_counters``, ``booked_names``)."""

    name: str
    #: Whether the ledger keeps this stage's decided rows whole (every column, the full text)
    #: rather than their summary: so a later `refilter` can keep a document it removed.
    ledger_whole_rows: bool = False
    #: CPU seconds the stage spent in child processes so far (extraction's), booked as its own.
    child_cpu_seconds: float = 0.0
    #: What the stage counted about its file (e.g. replacements made): a stage that counts sets a
    #: ``Counter``; it goes into the file's summary and the run's stats.json ``counters``.
    counters: Mapping[str, int] = MappingProxyType({})

    def __call__(self, batch: pa.Table) -> pa.Table:
        raise NotImplementedError

    def check(self) -> None:
        """Load what the stage needs (a model, a list, an installed extractor) and raise
        ``core.errors.ConfigError`` (one line) when it cannot: the run calls it for every stage
        that will run before any work starts, so the pre-run check follows the stages."""

    def prepare(self) -> None:
        """Build what the stage needs once per run (the decontamination index): the driver calls
        it before phase A."""

    @property
    def stage_names(self) -> list[str]:
        """The names its decisions are booked under: its own, or those of the stages it runs."""
        return [self.name]


def check_stages(stages: Iterable[Stage]) -> None:
    for stage in stages:
        stage.check()


def prepare_stages(stages: Iterable[Stage]) -> None:
    for stage in stages:
        stage.prepare()


def stage_counters(stages: Iterable[Stage]) -> Counter:
    """What the stages counted about the file, summed."""
    counters: Counter = Counter()
    for stage in stages:
        counters.update(stage.counters)
    return counters


def booked_names(stages: Iterable[Stage]) -> list[str]:
    """The names the stages' decisions are booked under, in order."""
    return [name for stage in stages for name in stage.stage_names]


def error_text(error: BaseException) -> str:
    """An exception as the ledger's `error` detail: its type and message, at most 500 characters."""
    return f"{type(error).__name__}: {error}"[:500]


def with_decisions(
    batch: pa.Table,
    removed: list[str | None] | pa.Array | None = None,
    failed: list[str | None] | pa.Array | None = None,
    error: list[str | None] | pa.Array | None = None,
) -> pa.Table:
    """Return ``batch`` with its decision columns set (merged with any already present).

    An earlier decision of the same kind wins over a later one, so a stage can call this
    several times (one rule after another) and the first reason that applied is kept.
    """
    for name, values in ((REMOVED, removed), (FAILED, failed), (ERROR, error)):
        if values is None:
            continue
        new = pa.array(values, type=pa.string()) if not isinstance(values, pa.Array) else values
        if name in batch.column_names:
            old = batch.column(name)
            merged = pc.coalesce(old, new)
            batch = batch.set_column(batch.schema.get_field_index(name), name, merged)
        else:
            batch = batch.append_column(name, new)
    return batch


def decided_mask(batch: pa.Table) -> pa.ChunkedArray | pa.Array:
    """True for rows that a stage removed or failed."""
    mask = pa.array([False] * batch.num_rows)
    for name in (REMOVED, FAILED):
        if name in batch.column_names:
            mask = pc.or_(mask, pc.is_valid(batch.column(name)))
    return mask
