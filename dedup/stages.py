"""Dedup stages that run inside the per-file tasks (phase A), before the global step.

* ``payload_stages``: before extraction, a record whose ``WARC-Payload-Digest`` already
  appeared earlier in the same WARC file is removed as ``dedup:payload`` (it would extract to
  the same text). Repeats *across* files are left to the global step, where identical
  payloads give identical normalized text and so fall out as ``dedup:exact`` by the survivor
  rule. Deciding cross-file repeats here would make the result depend on which task ran first.
* ``signature_stages``: the columns the global step reads, ``dedup_text_hash`` (xxh3-64 of the
  normalized text) and ``dedup_bands`` (the MinHash-LSH band hashes).
"""

from __future__ import annotations

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from crawlsieve.dedup.minhash import (
    MinHasher,
    lsh_params,
    normalized_text_hash,
    normalized_words,
    shingle_hashes,
)
from crawlsieve.pipelines.config import Config
from crawlsieve.pipelines.stages import Stage, with_decisions

TEXT_HASH = "dedup_text_hash"
BANDS = "dedup_bands"
PAYLOAD_REASON = "dedup:payload"


def minhasher(config: Config) -> MinHasher:
    """The MinHash settings of a config (bands x rows by datasketch's optimal-parameter routine)."""
    d = config.dedup
    bands, rows = lsh_params(d.threshold, d.num_perm, d.false_positive_weight, d.false_negative_weight)
    return MinHasher(num_perm=d.num_perm, seed=d.seed, ngram=d.ngram_size, bands=bands, rows=rows)


class DedupSignatures:
    """Adds ``dedup_text_hash`` and ``dedup_bands`` to each document from its ``text``.

    A text without words gets a null hash and no bands; a text shorter than one shingle gets
    a hash but no bands, so short or empty pages are never near-duplicates of each other.
    """

    name = "dedup_signatures"

    def __init__(self, hasher: MinHasher, near: bool = True):
        self.hasher = hasher
        self.near = near

    def __call__(self, batch: pa.Table) -> pa.Table:
        words = normalized_words(batch.column("text"))
        batch = batch.append_column(TEXT_HASH, normalized_text_hash(words))
        return batch.append_column(BANDS, self._bands(words))

    def _bands(self, words: pa.ListArray) -> pa.Array:
        list_type = pa.list_(pa.uint64())
        if not self.near:
            return pa.array([[]] * len(words), type=list_type)
        shingles, counts = shingle_hashes(words, self.hasher.ngram)
        bands = self.hasher.band_hashes(self.hasher.signatures(shingles, counts))
        lengths = np.where(counts > 0, self.hasher.bands, 0)
        values = bands[counts > 0].reshape(-1)
        offsets = np.concatenate(([0], np.cumsum(lengths))).astype(np.int32)
        return pa.ListArray.from_arrays(pa.array(offsets), pa.array(values, type=pa.uint64()), type=list_type)


def signature_stages(config: Config) -> list[Stage]:
    """Stages that add the columns the global dedup step needs (hashes, MinHash bands)."""
    if not config.dedup.enabled:
        return []
    return [DedupSignatures(minhasher(config), near=config.dedup.near)]


class PayloadDigestDedup:
    """Marks a record ``dedup:payload`` when its payload digest appeared earlier in its WARC file.

    A task reads one file in record order over several batches, so the stage remembers, for
    the file it is on, each digest's first ``record_offset``. A row is a repeat only if its
    digest was first seen at a *smaller* offset, which keeps a retried task (same process, same
    file from the start) from mistaking first copies for repeats. The memory is dropped when a
    new file starts. Without ``warc_path``/``record_offset`` it falls back to the batch alone.
    """

    name = "dedup_payload"

    def __init__(self) -> None:
        self._path: object = None
        self._first_offset: dict[str, int] = {}

    def __call__(self, batch: pa.Table) -> pa.Table:
        if "payload_digest" not in batch.column_names or batch.num_rows == 0:
            return batch
        digests = batch.column("payload_digest").to_pylist()
        offsets, paths = self._positions(batch)
        removed: list[str | None] = []
        for digest, offset, path in zip(digests, offsets, paths, strict=True):
            if path != self._path:
                self._path, self._first_offset = path, {}
            if not digest:
                removed.append(None)
                continue
            first = self._first_offset.setdefault(digest, offset)
            if offset < first:
                self._first_offset[digest] = offset
            removed.append(PAYLOAD_REASON if first < offset else None)
        return with_decisions(batch, removed=removed)

    @staticmethod
    def _positions(batch: pa.Table) -> tuple[list[int], list[object]]:
        if {"record_offset", "warc_path"} <= set(batch.column_names):
            offsets = pc.fill_null(batch.column("record_offset"), -1).to_pylist()
            return offsets, batch.column("warc_path").to_pylist()
        # No file position: each batch is its own scope (a fresh token), ordered by row.
        return list(range(batch.num_rows)), [object()] * batch.num_rows


def payload_stages(config: Config) -> list[Stage]:
    """Pre-extraction stages over rows with ``payload_digest`` (see module docstring)."""
    if not (config.dedup.enabled and config.dedup.payload):
        return []
    return [PayloadDigestDedup()]
