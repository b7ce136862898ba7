"""DIR/review/: a bounded, reproducible sample of removed documents per reason, and of kept ones
(all of them, and per spam and safety tag: ``review/tagged/<tag>.jsonl``).

Bottom-k sampling: each document's key is a hash of its id (and, for removed records, of its
place), and a reason keeps the k documents with the smallest keys. The sample does not depend on
the order or the number of workers, and the union of per-file samples contains the global one:
each task keeps its file's k candidates per reason (``quality.summaries``), the driver picks the
run's k among them and reads just those rows.
"""

from __future__ import annotations

from pathlib import Path

import xxhash

from crawlsieve.core.io import write_bytes_atomically
from crawlsieve.core.layout import RunLayout
from crawlsieve.core.stages import DECONTAMINATION_MATCH

TEXT_CHARS = 2000
FIELDS = ("id", "url", "language", "language_score", "quality_score")
#: Prefix of the review group of kept documents with a spam and safety tag (``tagged:adult``).
TAGGED = "tagged:"


def sample_key(doc_id: str, place: str = "") -> int:
    """The bottom-k key of a record: the hash of its id, then of its place (file and offset), so
    two records that share an id (re-fetches, merged crawls) are still two distinct keys."""
    id_hash = xxhash.xxh64_intdigest(doc_id.encode("utf-8", "surrogateescape"), seed=0)
    return id_hash << 64 | xxhash.xxh64_intdigest(place.encode("utf-8", "surrogateescape"), seed=0)


def review_row(record: dict, reason: str | None, stage: str | None) -> dict:
    """A review sample: who, why, the start of the text and the signals."""
    row = {name: record.get(name) for name in FIELDS}
    row.update(reason=reason, stage=stage, text=(record.get("text") or "")[:TEXT_CHARS])
    if record.get(DECONTAMINATION_MATCH):
        row["match"] = record[DECONTAMINATION_MATCH]
    row["signals"] = {k: v for k, v in record.items() if k.startswith("sig_") and v is not None}
    return row


def build_review(output_dir: Path, per_reason: int = 20, run=None) -> dict[str, int]:
    """Write the samples from the run's per-file candidates; returns group -> examples written."""
    from crawlsieve.quality.summaries import merge_run, review_rows

    run = run or merge_run(output_dir, per_reason)
    layout = RunLayout(output_dir)
    for directory in (layout.review_removed_dir, layout.review_tagged_dir):
        directory.mkdir(parents=True, exist_ok=True)
        for old in directory.glob("*.jsonl"):
            old.unlink()
    written = {}
    for group in sorted(run.review):
        if group == "kept":
            target = layout.review_kept
        elif group.startswith(TAGGED):
            target = layout.review_tagged(group.removeprefix(TAGGED))
        else:
            target = layout.review_removed(group)
        rows = review_rows(output_dir, run.review[group][:per_reason])
        write_bytes_atomically("".join(row + "\n" for row in rows).encode("utf-8"), target)
        written[group] = len(rows)
    return written
