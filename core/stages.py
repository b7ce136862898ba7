"""The contract every crawlsieve stage keeps.

A stage is a callable over an Arrow table of *alive* documents (``Stage.__call__``)
that returns the same rows, in the same order, with columns added. It decides about a
row by setting one of two string columns; ``None`` means "goes on":

* ``REMOVED`` - the stable reason a filter removed the row (``"c4:javascript"``);
* ``FAILED`` - the kind of error that stopped the row (``"extract_timeout"``).

The orchestrator (``pipelines.shard``) is the one place that does the bookkeeping:
after each stage it moves decided rows to the ledger, tagged with the stage name, and
passes the rest on without the two columns. So a stage never counts, never drops rows
itself, and never needs to know what ran before it beyond the columns it reads.
"""

from __future__ import annotations

from typing import Protocol

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
#: A remote input the server stopped serving (past the retries): its file is not marked done.
UNFINISHED_FILE = "unfinished_file"
#: Failure kinds of a reader's damage row: a stretch of a file, not a record (so not a page either).
DAMAGE_KINDS = frozenset(
    {"corrupt_warc", "truncated_file", "not_warc", "empty_file", "open_error", UNFINISHED_FILE}
)
#: Prefix of the counters ``language_settings:<language>=<settings>``: the documents of a language
#: that a settings table judged (``filters.stages.language_settings_counts``); stats.json
#: ``language_settings`` holds them per language.
LANGUAGE_SETTINGS = "language_settings"
#: The HTTP check's reason for a record that is not an HTTP response (request, metadata, warcinfo).
NOT_RESPONSE = "not_response"
#: The content domains the spam and safety signals give (``tagging`` assigns them, ``quality``
#: samples and reports the documents that carry them).
SAFETY_TAGS = ("adult", "gambling", "ads")


def unique_id(record_id: str, shard: str, offset: int) -> str:
    """The id of a record whose WARC-Record-ID another record of the run already has.

    Real crawls repeat ids after re-fetches and merges; the file and offset make this one unique.
    """
    return f"{record_id}@{shard}:{offset}"


class Stage(Protocol):
    """A named step over batches of alive documents (see module docstring).

    A stage that needs something loaded (a model, a list) also has ``check()``, which loads it
    and raises ``core.errors.ConfigError`` (one line) when it cannot: the run calls it for every
    stage that will run before any work starts, so the pre-run check follows the stages. A stage
    that needs something built once per run (the decontamination index) also has ``prepare()``,
    which the driver calls before phase A.
    """

    name: str

    def __call__(self, batch: pa.Table) -> pa.Table: ...


def whole_rows_in_ledger(stage: object) -> bool:
    """Whether the ledger keeps a stage's decided rows whole (every column, the full text) rather
    than their summary: so a later `refilter` can keep a document this stage removed."""
    return bool(getattr(stage, "ledger_whole_rows", False))


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
