"""The ledger: one row per record decided (removed or failed) and where each decision was booked.

This module is the one home of the ledger's schema (``LEDGER_KEEP`` and the bookkeeping columns
``LEDGER_COLUMNS``), of the failure and reason vocabulary that readers of ledgers and stats share
(``DAMAGE_KINDS``, ``NOT_RESPONSE``, ``UNFINISHED_FILE``), of a record's id when its WARC-Record-ID
repeats (``unique_id``), and of the bookkeeping of the stage contract (`core.stages`): after each
stage, decided rows go to the ledger with the stage's name, alive rows go on (``run_stages``).
Phase A (`pipelines.extract_phase`), phase C (`pipelines.finalize`) and `refilter` all book through it.
"""

from __future__ import annotations

import contextlib
import time
from collections import defaultdict
from collections.abc import Iterable

import pyarrow as pa
import pyarrow.compute as pc

from crawlsieve.core.stages import (
    DECIDED_BY,
    DECONTAMINATION_MATCH,
    ERROR,
    FAILED,
    REMOVED,
    Stage,
    decided_mask,
    error_text,
    with_decisions,
)

#: A remote input the server stopped serving (past the retries): its file is not marked done.
UNFINISHED_FILE = "unfinished_file"
#: Failure kinds of a reader's damage row: a stretch of a file, not a record (so not a page either).
DAMAGE_KINDS = frozenset(
    {"corrupt_warc", "truncated_file", "not_warc", "empty_file", "open_error", UNFINISHED_FILE}
)
#: The HTTP check's reason for a record that is not an HTTP response (request, metadata, warcinfo).
NOT_RESPONSE = "not_response"
#: Characters of a decided document's text the ledger keeps (enough for review samples).
LEDGER_TEXT_CHARS = 2000
#: The columns of a decided row the ledger keeps (besides its signals, ``sig_*``).
LEDGER_KEEP = (
    "id",
    "warc_path",
    "record_offset",
    "url",
    "genre",
    "extractor",
    "language",
    "language_score",
    "script",
    "quality_score",
    DECONTAMINATION_MATCH,
)


#: The columns the bookkeeping adds to a ledger row: the input file, the stage it is booked under,
#: the removal reason, the failure kind and its detail, and the whole text's length.
LEDGER_COLUMNS = ("shard", "stage", "removed", "failed", "error", "text_chars")


def unique_id(record_id: str, shard: str, offset: int) -> str:
    """The id of a record whose WARC-Record-ID another record of the run already has.

    Real crawls repeat ids after re-fetches and merges; the file and offset make this one unique.
    """
    return f"{record_id}@{shard}:{offset}"


DECISION_COLUMNS = (REMOVED, FAILED, ERROR, DECIDED_BY)


def ledger_rows(decided: pa.Table, shard: str, stage: str, whole: bool = False) -> pa.Table:
    """The ledger's view of decided rows: who, where, why, the signals, and the start of the text;
    ``whole``: every column and the whole text (what `refilter` needs to keep the row after all)."""
    n = decided.num_rows
    columns: dict[str, pa.Array | pa.ChunkedArray] = {}
    for name in decided.column_names if whole else LEDGER_KEEP:
        if name in decided.column_names and name not in DECISION_COLUMNS:
            columns[name] = decided.column(name)
    columns["shard"] = pa.array([shard] * n, pa.string())
    booked = pa.array([stage] * n, pa.string())
    if DECIDED_BY in decided.column_names:
        booked = pc.coalesce(decided.column(DECIDED_BY), booked)
    columns["stage"] = booked
    for name, source in (("removed", REMOVED), ("failed", FAILED), ("error", ERROR)):  # LEDGER_COLUMNS
        columns[name] = decided.column(source) if source in decided.column_names else pa.nulls(n, pa.string())
    if "text" in decided.column_names:
        columns["text_chars"] = pc.utf8_length(decided.column("text")).cast(pa.int64())
        if not whole:
            columns["text"] = pc.utf8_slice_codeunits(decided.column("text"), 0, LEDGER_TEXT_CHARS)
    for name in decided.column_names:
        if name.startswith("sig_"):
            columns[name] = decided.column(name)
    return pa.table(columns)


def _split(batch: pa.Table, shard: str, stage: Stage | str, ledger: list[pa.Table]) -> pa.Table:
    decided = decided_mask(batch)
    if pc.any(decided).as_py():
        name, whole = (stage, False) if isinstance(stage, str) else (stage.name, stage.ledger_whole_rows)
        ledger.append(ledger_rows(batch.filter(decided), shard, name, whole))
        batch = batch.filter(pc.invert(decided))
    return batch.drop_columns([c for c in DECISION_COLUMNS if c in batch.column_names])


def _run_stage(stage: Stage, batch: pa.Table) -> pa.Table:
    """Run a stage; if it raises, isolate the rows that make it raise and fail only those."""
    try:
        return stage(batch)
    except Exception:
        if batch.num_rows == 1:
            raise
    parts = []
    for i in range(batch.num_rows):
        row = batch.slice(i, 1)
        try:
            parts.append(stage(row))
        except Exception as error:
            kind = f"{stage.name}_error"
            parts.append(with_decisions(row, failed=[kind], error=[error_text(error)]))
    return pa.concat_tables(parts, promote_options="permissive")


class CpuClock:
    """CPU seconds of this process booked by part (stage names, ``read``, ``write``, ...).

    What a dump costs is CPU time: ``time.process_time`` counts this worker's own, and a stage that
    works in a child process (extraction) adds the child's through ``child_cpu_seconds``.
    """

    def __init__(self) -> None:
        self.seconds: dict[str, float] = defaultdict(float)

    @contextlib.contextmanager
    def part(self, name: str, stage: Stage | None = None):
        started = time.process_time()
        child = stage.child_cpu_seconds if stage else 0.0
        try:
            yield
        finally:
            self.seconds[name] += time.process_time() - started
            self.seconds[name] += (stage.child_cpu_seconds if stage else 0.0) - child

    def timed(self, name: str, batches: Iterable[pa.Table]) -> Iterable[pa.Table]:
        """``batches``, with the time spent producing each booked under ``name``."""
        iterator = iter(batches)
        while True:
            with self.part(name):
                batch = next(iterator, None)
            if batch is None:
                return
            yield batch

    def rounded(self) -> dict[str, float]:
        return {name: round(seconds, 4) for name, seconds in self.seconds.items()}


def run_stages(
    batches: Iterable[pa.Table],
    stages: list[Stage],
    shard: str,
    source: str = "read",
    clock: CpuClock | None = None,
) -> tuple[list, list]:
    """Push batches through the stages; returns (surviving batches, ledger batches).

    Decisions already on the incoming batches are booked under ``source``. With a ``clock``, each
    stage's CPU seconds are booked under its name, and moving rows to the ledger under ``ledger``.
    """
    clock = clock or CpuClock()
    docs: list[pa.Table] = []
    ledger: list[pa.Table] = []
    for batch in batches:
        with clock.part("ledger"):
            batch = _split(batch, shard, source, ledger)
        for stage in stages:
            if batch.num_rows == 0:
                break
            with clock.part(stage.name, stage):
                try:
                    batch = _run_stage(stage, batch)
                except Exception as error:
                    batch = with_decisions(batch, failed=[f"{stage.name}_error"], error=[error_text(error)])
            with clock.part("ledger"):
                batch = _split(batch, shard, stage, ledger)
        if batch.num_rows:
            docs.append(batch)
    return docs, ledger
