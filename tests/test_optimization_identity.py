"""Phase A gives the same rows on the fast path (Ray, batches) as on the reference path.

The fast path is what ``crawlsieve run`` does: one Ray task per WARC file, records in Arrow
batches of ``read.batch_records`` so every stage (extraction, language id, filters, MinHash)
works over many documents per call. The reference path runs the same stages in this process
over batches of a single record, the simplest order of work. Every optimization of phase A
(batch sizes, vectorized stages, Arrow instead of per-document objects) must keep the two
identical: same surviving documents with the same columns and values, same ledger rows.
"""

from __future__ import annotations

from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from crawlsieve.core.layout import RunLayout
from crawlsieve.ingest.inputs import location_bytes, shard_name
from crawlsieve.pipelines.config import Config
from crawlsieve.pipelines.extract_phase import process_shard
from crawlsieve.pipelines.ray_runtime import per_shard
from crawlsieve.pipelines.run import extract_batch

#: Two of the shared corpus's smaller files: boilerplate-heavy pages in a dozen languages.
FILES = ("webpages-02.warc.gz", "webpages-03.warc.gz")


def phase_a_outputs(output_dir: Path, shard: str) -> tuple[pa.Table, pa.Table]:
    """The shard's surviving documents and ledger rows, in a canonical row order."""
    layout = RunLayout(output_dir)
    docs = pq.read_table(layout.docs(shard))
    ledger = pq.read_table(layout.ledger(shard, "extract"))
    return docs.sort_by("id"), ledger.sort_by([("id", "ascending"), ("stage", "ascending")])


def assert_same_rows(fast: pa.Table, reference: pa.Table, what: str) -> None:
    assert fast.schema.names == reference.schema.names, what
    for name in fast.schema.names:
        fast_column, reference_column = fast.column(name), reference.column(name)
        if fast_column.type != reference_column.type:
            # a column that is null in every row of a one-record batch has type null
            assert reference_column.null_count == len(reference_column), (what, name)
            reference_column = reference_column.cast(fast_column.type)
        assert fast_column.combine_chunks().equals(reference_column.combine_chunks()), (what, name)


@pytest.mark.slow
def test_ray_batched_run_and_one_record_at_a_time_reference_give_identical_phase_a_rows(
    ray_local, shared_corpus, tmp_path
):
    files = [str(shared_corpus / "warc" / name) for name in FILES]
    fast_dir = tmp_path / "fast"
    # phase A exactly as `crawlsieve run` schedules it: one Ray Data task per file
    per_shard(
        extract_batch,
        [{"location": location_bytes(f), "shard": shard_name(f)} for f in files],
        Config(),
        fast_dir,
    )

    reference = Config()
    reference.read.batch_records = 1
    reference_dir = tmp_path / "reference"
    kept = 0
    for location in files:
        shard = shard_name(location)
        process_shard(location, shard, reference, reference_dir)
        fast_docs, fast_ledger = phase_a_outputs(fast_dir, shard)
        reference_docs, reference_ledger = phase_a_outputs(reference_dir, shard)
        assert_same_rows(fast_docs, reference_docs, f"{shard} docs")
        assert_same_rows(fast_ledger, reference_ledger, f"{shard} ledger")
        kept += fast_docs.num_rows
        # the comparison means something only if documents got through every stage
        assert fast_docs.num_rows > 10, shard
        assert fast_docs.column("text").null_count == 0
    assert kept > 40
