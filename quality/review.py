"""DIR/review/: a bounded, reproducible sample of removed documents per reason, and of kept ones.

Bottom-k sampling: each document's key is a hash of its id, and a reason keeps the k
documents with the smallest keys. The sample does not depend on the order or the number of
workers, and the union of per-file samples contains the global one, so it scales.
"""

from __future__ import annotations

import heapq
import itertools
import json
import re
from collections import defaultdict
from pathlib import Path

import pyarrow.compute as pc
import pyarrow.dataset as ds
import pyarrow.parquet as pq
import xxhash

from crawlsieve.quality.mixture import data_files

TEXT_CHARS = 2000
FIELDS = ("id", "url", "language", "language_score", "quality_score")


def sample_key(doc_id: str, place: str = "") -> int:
    """The bottom-k key of a record: the hash of its id, then of its place (file and offset), so
    two records that share an id (re-fetches, merged crawls) are still two distinct keys."""
    id_hash = xxhash.xxh64_intdigest(doc_id.encode("utf-8", "surrogateescape"), seed=0)
    return id_hash << 64 | xxhash.xxh64_intdigest(place.encode("utf-8", "surrogateescape"), seed=0)


def _place(record: dict) -> str:
    return f"{record.get('warc_path')}\x00{record.get('record_offset')}"


def reason_file_name(reason: str) -> str:
    """`gopher_quality:word_count` -> `gopher_quality__word_count.jsonl`, safe as a file name."""
    return re.sub(r"[^A-Za-z0-9_.-]+", "_", reason.replace(":", "__")) + ".jsonl"


class _BottomK:
    """The k rows of smallest key per group. Heap entries carry an arrival number after the key,
    so two equal keys never fall through to comparing the rows themselves."""

    def __init__(self, k: int):
        self.k = k
        self.heaps: dict[str, list] = defaultdict(list)
        self._arrivals = itertools.count()

    def offer(self, group: str, key: int, make_row) -> None:
        heap = self.heaps[group]
        if len(heap) < self.k:
            heapq.heappush(heap, (-key, -next(self._arrivals), make_row()))
        elif -heap[0][0] > key:
            heapq.heapreplace(heap, (-key, -next(self._arrivals), make_row()))

    def rows(self, group: str) -> list[dict]:
        return [row for _, _, row in sorted(self.heaps[group], key=lambda item: (-item[0], -item[1]))]


def _row(record: dict, reason: str | None, stage: str | None) -> dict:
    row = {name: record.get(name) for name in FIELDS}
    row.update(reason=reason, stage=stage, text=(record.get("text") or "")[:TEXT_CHARS])
    row["signals"] = {k: v for k, v in record.items() if k.startswith("sig_") and v is not None}
    return row


def _sample_kept(data_dir: Path, sampler: _BottomK) -> None:
    """Kept documents: pick the bottom-k ids from the id column alone, then read just those rows."""
    files = data_files(data_dir)
    if not files:
        return
    dataset = ds.dataset(files, format="parquet", partitioning="hive")
    ids = _BottomK(sampler.k)
    for batch in dataset.to_batches(columns=["id"]):
        for doc_id in batch.column("id").to_pylist():
            ids.offer("kept", sample_key(doc_id), lambda d=doc_id: d)
    chosen = ids.rows("kept")
    for record in dataset.to_table(filter=pc.field("id").isin(chosen)).to_pylist():
        sampler.offer("kept", sample_key(record["id"]), lambda r=record: _row(r, None, None))


def build_review(output_dir: Path, per_reason: int = 20) -> dict[str, int]:
    """Write the samples; returns reason -> number of examples written."""
    sampler = _BottomK(per_reason)
    for path in sorted((output_dir / "_work" / "ledger").glob("*.parquet")):
        for record in pq.read_table(path).to_pylist():
            reason = (
                (record.get("failed") and f"failed:{record['failed']}") or record.get("removed") or "unknown"
            )
            sampler.offer(
                reason,
                sample_key(record["id"], _place(record)),
                lambda r=record, g=reason: _row(r, g, r.get("stage")),
            )
    _sample_kept(output_dir / "data", sampler)
    review = output_dir / "review"
    removed_dir = review / "removed"
    removed_dir.mkdir(parents=True, exist_ok=True)
    for old in removed_dir.glob("*.jsonl"):
        old.unlink()
    written = {}
    for group in sorted(sampler.heaps):
        target = review / "kept.jsonl" if group == "kept" else removed_dir / reason_file_name(group)
        rows = sampler.rows(group)
        with open(target, "w", encoding="utf-8") as handle:
            for row in rows:
                handle.write(json.dumps(row, ensure_ascii=False, default=str) + "\n")
        written[group] = len(rows)
    return written
