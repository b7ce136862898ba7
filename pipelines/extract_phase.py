"""Phase A of a run: one WARC file through every per-document stage, in one task.

The stages' decisions are booked by `core.ledger.run_stages`: after each stage, decided rows go to
the file's ledger with the stage name, and alive rows go on. What survives is written for the
global dedup step. Outputs are written under temporary names and renamed, and the completion
marker is written last, so a
file is either completely done (and skipped by --resume) or redone from scratch. A file whose
reading the server cut off (an `unfinished_file` row) gets its outputs, so the run can finish the
others, but no marker: --resume reads it again.
"""

from __future__ import annotations

import time
from collections.abc import Iterable
from pathlib import Path

import pyarrow as pa
import pyarrow.compute as pc

from crawlsieve.core.io import write_atomically, write_json_atomically
from crawlsieve.core.layout import EXTRACT, RunLayout
from crawlsieve.core.ledger import UNFINISHED_FILE, CpuClock, run_stages
from crawlsieve.core.stages import Stage, booked_names, stage_counters
from crawlsieve.pipelines.config import Config
from crawlsieve.pipelines.ray_runtime import ray_node_id


def per_file_stages(config: Config, layout: RunLayout | None = None) -> list[Stage]:
    """The stages after reading, in the order they run: cheap checks first. ``layout``: the run's,
    where stages find what the run built for them (the decontamination index)."""
    from crawlsieve.dedup import stages as dedup_stages
    from crawlsieve.filters.encoding import encoding_stages
    from crawlsieve.filters.language_id import LanguageStage
    from crawlsieve.filters.stages import (
        decontamination_stages,
        pii_stages,
        post_language_stages,
        pre_extraction_stages,
    )
    from crawlsieve.ingest.extract import ExtractStage
    from crawlsieve.ingest.warc import HttpCheckStage

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


def stage_names(config: Config) -> list[str]:
    """The names decisions of phase A are booked under, in order (a stage running others has theirs)."""
    return ["read", *booked_names(per_file_stages(config))]


def _concat(tables: list[pa.Table]) -> pa.Table | None:
    return pa.concat_tables(tables, promote_options="permissive") if tables else None


def process_shard(location: str, shard: str, config: Config, output_dir: Path) -> dict:
    """Phase A for one input file; returns the completion record written to _state/ (for an
    unfinished file, the record it would have: no marker is written)."""
    from crawlsieve.filters.refilter import what_if_counts
    from crawlsieve.ingest.inputs import display_location
    from crawlsieve.ingest.warc import read_warc
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
        docs_path, ledger_path = layout.docs(shard), layout.ledger(shard, EXTRACT)
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
    write_summary(summary, review, layout.summary(shard, EXTRACT), layout.review_rows(shard, EXTRACT))
    record = {
        "shard": shard,
        "warc_path": display_location(location),
        "records_read": read_counter["records"],
        "documents_out": 0 if docs_table is None else docs_table.num_rows,
        "decided": 0 if ledger_table is None else ledger_table.num_rows,
        "seconds": round(time.monotonic() - started, 3),
        "cpu_seconds": summary.cpu_seconds,
        "node_id": ray_node_id(),
    }
    if not _unfinished(ledger_table):
        write_json_atomically(record, layout.marker(shard, EXTRACT))
    return record


def _unfinished(ledger: pa.Table | None) -> bool:
    return ledger is not None and pc.any(pc.equal(ledger.column("failed"), UNFINISHED_FILE)).as_py() is True


def worker_lost(location: str, shard: str, output_dir: Path, attempts: int) -> dict:
    """Phase A's record for a file whose worker died on every attempt: the file is one
    `worker_lost` row (how many records it holds is not known), so the run can end."""
    from crawlsieve.ingest.inputs import display_location

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
    write_atomically(row, layout.ledger(shard, EXTRACT))
    summary, review = extract_summary(shard, warc_path, 1, None, row, k=1)
    write_summary(summary, review, layout.summary(shard, EXTRACT), layout.review_rows(shard, EXTRACT))
    record = {
        "shard": shard,
        "warc_path": warc_path,
        "records_read": 1,
        "documents_out": 0,
        "decided": 1,
        "seconds": 0.0,
        "cpu_seconds": {},
        "node_id": ray_node_id(),
    }
    write_json_atomically(record, layout.marker(shard, EXTRACT))
    return record
