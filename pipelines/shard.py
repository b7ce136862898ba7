"""Phase A of a run: one WARC file through every per-document stage, in one task.

This module is the one place that does the bookkeeping of the stage contract
(`pipelines.stages`): after each stage, decided rows go to the file's ledger with the stage
name, and alive rows go on. What survives is written for the global dedup step. Outputs are
written under temporary names and renamed, and the completion marker is written last, so a
file is either completely done (and skipped by --resume) or redone from scratch. A file whose
reading the server cut off (an `unfinished_file` row) gets its outputs, so the run can finish the
others, but no marker: --resume reads it again.
"""

from __future__ import annotations

import contextlib
import time
from collections import Counter, defaultdict
from collections.abc import Iterable
from pathlib import Path

import pyarrow as pa
import pyarrow.compute as pc

from crawlsieve.core.io import write_atomically, write_json_atomically
from crawlsieve.core.layout import RunLayout
from crawlsieve.core.stages import (
    DECIDED_BY,
    DECONTAMINATION_MATCH,
    ERROR,
    FAILED,
    REMOVED,
    UNFINISHED_FILE,
    Stage,
    decided_mask,
    error_text,
    whole_rows_in_ledger,
    with_decisions,
)
from crawlsieve.pipelines.config import Config

LEDGER_TEXT_CHARS = 2000
LEDGER_KEEP = (
    "id",
    "warc_path",
    "record_offset",
    "url",
    "language",
    "language_score",
    "script",
    "quality_score",
    DECONTAMINATION_MATCH,
)


def per_file_stages(config: Config, layout: RunLayout | None = None) -> list[Stage]:
    """The stages after reading, in the order they run: cheap checks first. ``layout``: the run's,
    where stages find what the run built for them (the decontamination index)."""
    from crawlsieve.dedup import stages as dedup_stages
    from crawlsieve.filters.encoding import encoding_stages
    from crawlsieve.filters.language import LanguageStage
    from crawlsieve.filters.stages import (
        decontamination_stages,
        pii_stages,
        post_language_stages,
        pre_extraction_stages,
    )
    from crawlsieve.pipelines.extract import ExtractStage
    from crawlsieve.pipelines.warc import HttpCheckStage

    return [
        HttpCheckStage(config.read),
        *pre_extraction_stages(config.filters),
        *dedup_stages.payload_stages(config.dedup),
        ExtractStage(config.extract),
        *encoding_stages(config.filters.encoding),
        LanguageStage(config.language),
        *decontamination_stages(
            config.filters.decontamination, layout.decontamination_index if layout else None
        ),
        *post_language_stages(config.filters),
        # PII replacement changes the text: it runs after every filter has judged the page's own
        # text, and before the dedup signatures, which hash the text the shards will hold (two
        # pages that differ only in an address become exact duplicates).
        *pii_stages(config.filters.pii),
        *dedup_stages.signature_stages(config.dedup),
    ]


def stage_counters(stages: list[Stage]) -> Counter:
    """What the stages counted about the file (a stage may keep a ``counters`` Counter, e.g.
    replacements made): it goes into the file's summary and the run's stats.json ``counters``."""
    counters: Counter = Counter()
    for stage in stages:
        counters.update(getattr(stage, "counters", None) or {})
    return counters


def stage_names(config: Config) -> list[str]:
    """The names decisions of phase A are booked under, in order (a stage running others has theirs)."""
    names = ["read"]
    for stage in per_file_stages(config):
        names += getattr(stage, "stage_names", [stage.name])
    return names


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
    for name, source in (("removed", REMOVED), ("failed", FAILED), ("error", ERROR)):
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
        name = stage if isinstance(stage, str) else stage.name
        ledger.append(ledger_rows(batch.filter(decided), shard, name, whole_rows_in_ledger(stage)))
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
    def part(self, name: str, stage: object = None):
        started = time.process_time()
        child = getattr(stage, "child_cpu_seconds", 0.0)
        try:
            yield
        finally:
            self.seconds[name] += time.process_time() - started
            self.seconds[name] += getattr(stage, "child_cpu_seconds", 0.0) - child

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


def _concat(tables: list[pa.Table]) -> pa.Table | None:
    return pa.concat_tables(tables, promote_options="permissive") if tables else None


def _ray_node_id() -> str | None:
    """The Ray node running this task, recorded so a run shows where each file was processed."""
    import ray

    return ray.get_runtime_context().get_node_id() if ray.is_initialized() else None


def process_shard(location: str, shard: str, config: Config, output_dir: Path) -> dict:
    """Phase A for one input file; returns the completion record written to _state/ (for an
    unfinished file, the record it would have: no marker is written)."""
    from crawlsieve.filters.refilter import what_if_counts
    from crawlsieve.pipelines.inputs import display_location
    from crawlsieve.pipelines.warc import read_warc
    from crawlsieve.quality.summaries import extract_summary, write_summary

    started = time.monotonic()
    clock = CpuClock()
    read_counter = {"records": 0}

    def counted(batches: Iterable[pa.Table]) -> Iterable[pa.Table]:
        for batch in batches:
            read_counter["records"] += batch.num_rows
            yield batch

    batches = counted(clock.timed("read", read_warc(location, shard, config.read)))
    layout = RunLayout(output_dir)
    stages = per_file_stages(config, layout)
    docs, ledger = run_stages(batches, stages, shard, clock=clock)
    with clock.part("write"):
        docs_table = _concat(docs)
        if docs_table is not None:
            docs_table = docs_table.append_column(
                "shard", pa.array([shard] * docs_table.num_rows, pa.string())
            )
        ledger_table = _concat(ledger)
        docs_path, ledger_path = layout.docs(shard), layout.ledger(shard, "extract")
        for table, path in ((docs_table, docs_path), (ledger_table, ledger_path)):
            if table is not None:
                write_atomically(table, path)
            else:
                path.unlink(missing_ok=True)
    with clock.part("summary"):
        summary, review = extract_summary(
            shard,
            display_location(location),
            read_counter["records"],
            docs_table,
            ledger_table,
            config.report.review_per_reason,
        )
        summary.what_if = what_if_counts(docs_table, ledger_table, config.filters)
    summary.cpu_seconds = clock.rounded()
    summary.counters.update(stage_counters(stages))
    write_summary(summary, review, layout.summary(shard, "extract"), layout.review_rows(shard, "extract"))
    record = {
        "shard": shard,
        "warc_path": display_location(location),
        "records_read": read_counter["records"],
        "documents_out": 0 if docs_table is None else docs_table.num_rows,
        "decided": 0 if ledger_table is None else ledger_table.num_rows,
        "seconds": round(time.monotonic() - started, 3),
        "cpu_seconds": summary.cpu_seconds,
        "node_id": _ray_node_id(),
    }
    if not _unfinished(ledger_table):
        write_json_atomically(record, layout.marker("extract", shard))
    return record


def _unfinished(ledger: pa.Table | None) -> bool:
    return ledger is not None and pc.any(pc.equal(ledger.column("failed"), UNFINISHED_FILE)).as_py() is True


def worker_lost(location: str, shard: str, output_dir: Path, attempts: int) -> dict:
    """Phase A's record for a file whose worker died on every attempt: the file is one
    `worker_lost` row (how many records it holds is not known), so the run can end."""
    from crawlsieve.pipelines.inputs import display_location

    warc_path = display_location(location)
    row = pa.table(
        {
            "id": [f"{shard}@lost"],
            "warc_path": [warc_path],
            "record_offset": pa.array([0], pa.int64()),
            "shard": [shard],
            "stage": ["read"],
            "removed": pa.array([None], pa.string()),
            "failed": ["worker_lost"],
            "error": [f"the worker died on this file {attempts} times (ray.max_task_retries)"],
        }
    )
    from crawlsieve.quality.summaries import extract_summary, write_summary

    layout = RunLayout(output_dir)
    layout.docs(shard).unlink(missing_ok=True)
    write_atomically(row, layout.ledger(shard, "extract"))
    summary, review = extract_summary(shard, warc_path, 1, None, row, k=1)
    write_summary(summary, review, layout.summary(shard, "extract"), layout.review_rows(shard, "extract"))
    record = {
        "shard": shard,
        "warc_path": warc_path,
        "records_read": 1,
        "documents_out": 0,
        "decided": 1,
        "seconds": 0.0,
        "cpu_seconds": {},
        "node_id": _ray_node_id(),
    }
    write_json_atomically(record, layout.marker("extract", shard))
    return record
