"""Dedup stages that run inside the per-file tasks (phase A), before the global step.

* ``payload_stages``: before extraction, a record whose ``WARC-Payload-Digest`` already
  appeared earlier in the same WARC file is removed as ``dedup:payload`` (it would extract to
  the same text). Repeats *across* files are left to the global step, where identical
  payloads give identical normalized text and so fall out as ``dedup:exact`` by the survivor
  rule. Deciding cross-file repeats here would make the result depend on which task ran first.
* ``signature_stages``: the columns the global step reads, ``dedup_text_hash`` (xxh3-64 of the
  normalized text), ``dedup_bands`` (the MinHash-LSH band hashes) and ``dedup_signature`` (the
  whole MinHash signature, little-endian uint32s as bytes, to verify candidates by estimated
  Jaccard before a document is removed). Shingles are of each document's language's units
  (``minhash.shingle_units``), so the stage reads ``language`` where the batch has it.
"""

from __future__ import annotations

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from crawlsieve.core.stages import Stage, with_decisions
from crawlsieve.dedup.config import DedupConfig
from crawlsieve.dedup.minhash import (
    MinHasher,
    lsh_params,
    normalized_text_hash,
    normalized_texts,
    shingle_hashes,
    shingle_units,
    split_words,
)

TEXT_HASH = "dedup_text_hash"
BANDS = "dedup_bands"
SIGNATURE = "dedup_signature"
PAYLOAD_REASON = "dedup:payload"


def verify_threshold(dedup: DedupConfig) -> float:
    """The estimated Jaccard a pair must reach to count as near-duplicates (0: no check)."""
    if dedup.verify_threshold is None:
        return max(0.0, dedup.threshold - 0.05)
    return dedup.verify_threshold


def lsh_threshold(dedup: DedupConfig) -> float:
    """The Jaccard bands x rows are chosen for: candidates are verified, so bands are tuned for the
    verify threshold and weighted against misses (see ``DedupConfig``)."""
    if dedup.lsh_threshold is not None:
        return dedup.lsh_threshold
    return verify_threshold(dedup) or dedup.threshold


def minhasher(d: DedupConfig) -> MinHasher:
    """The MinHash settings of a config (bands x rows by datasketch's optimal-parameter routine)."""
    bands, rows = lsh_params(lsh_threshold(d), d.num_perm, d.false_positive_weight, d.false_negative_weight)
    return MinHasher(num_perm=d.num_perm, seed=d.seed, ngram=d.ngram_size, bands=bands, rows=rows)


class DedupSignatures(Stage):
    """Adds ``dedup_text_hash``, ``dedup_bands`` and ``dedup_signature`` from each ``text``.

    A text without words gets a null hash and no bands; a text shorter than one shingle gets
    a hash but no bands, so short or empty pages are never near-duplicates of each other.
    The signature is null when near-dedup is off or the text has no shingles. The text hash is of
    the normalized words in every language; the shingles are of the language's units (a batch
    without ``language`` is shingled by words).
    """

    name = "dedup_signatures"

    def __init__(self, hasher: MinHasher, near: bool = True):
        self.hasher = hasher
        self.near = near

    def __call__(self, batch: pa.Table) -> pa.Table:
        normalized = normalized_texts(batch.column("text"))
        words = split_words(normalized)
        batch = batch.append_column(TEXT_HASH, normalized_text_hash(words))
        languages = batch["language"].to_pylist() if "language" in batch.column_names else [None] * len(words)
        bands, signatures = self._bands_and_signatures(normalized, words, languages)
        return batch.append_column(BANDS, bands).append_column(SIGNATURE, signatures)

    def _bands_and_signatures(
        self, normalized: pa.Array, words: pa.ListArray, languages: list[str | None]
    ) -> tuple[pa.Array, pa.Array]:
        list_type = pa.list_(pa.uint64())
        if not self.near:
            return pa.array([[]] * len(words), type=list_type), pa.nulls(len(words), pa.binary())
        shingles, counts = shingle_hashes(shingle_units(normalized, words, languages), self.hasher.ngram)
        signatures = self.hasher.signatures(shingles, counts)
        bands = self.hasher.band_hashes(signatures)
        has_shingles = counts > 0
        lengths = np.where(has_shingles, self.hasher.bands, 0)
        values = bands[has_shingles].reshape(-1)
        offsets = np.concatenate(([0], np.cumsum(lengths))).astype(np.int32)
        band_lists = pa.ListArray.from_arrays(
            pa.array(offsets), pa.array(values, type=pa.uint64()), type=list_type
        )
        return band_lists, signature_column(signatures, has_shingles)


def signature_column(signatures: np.ndarray, valid: np.ndarray) -> pa.Array:
    """(documents x num_perm) uint32 -> binary of ``4 * num_perm`` bytes each, null where not ``valid``."""
    width = signatures.shape[1] * 4
    data = np.ascontiguousarray(signatures.astype("<u4")).view(np.uint8).reshape(-1)
    offsets = np.arange(signatures.shape[0] + 1, dtype=np.int32) * width
    full = pa.Array.from_buffers(
        pa.binary(), signatures.shape[0], [None, pa.py_buffer(offsets), pa.py_buffer(data)]
    )
    return pc.if_else(pa.array(valid), full, pa.scalar(None, pa.binary()))


def signature_matrix(column: pa.Array | pa.ChunkedArray, num_perm: int) -> tuple[np.ndarray, np.ndarray]:
    """Binary signatures -> (documents x num_perm) uint32 and a validity mask (nulls are zeros)."""
    if isinstance(column, pa.ChunkedArray):
        column = column.combine_chunks() if column.num_chunks else pa.array([], pa.binary())
    width = 4 * num_perm
    valid = pc.is_valid(column).to_numpy(zero_copy_only=False)
    filled = pc.fill_null(column.cast(pa.binary()), pa.scalar(b"\x00" * width, pa.binary()))
    n = len(filled)
    if n == 0:
        return np.empty((0, num_perm), dtype=np.uint32), valid
    offsets = np.frombuffer(filled.buffers()[1], dtype=np.int32)[filled.offset : filled.offset + n + 1]
    if not (np.diff(offsets) == width).all():
        raise ValueError(f"{SIGNATURE}: every signature must have {width} bytes (num_perm={num_perm})")
    data = np.frombuffer(filled.buffers()[2], dtype=np.uint8)[offsets[0] : offsets[-1]]
    return data.view("<u4").reshape(n, num_perm).astype(np.uint32), valid


def signature_stages(dedup: DedupConfig) -> list[Stage]:
    """Stages that add the columns the global dedup step needs (hashes, MinHash bands)."""
    if not dedup.enabled:
        return []
    return [DedupSignatures(minhasher(dedup), near=dedup.near)]


class PayloadDigestDedup(Stage):
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


def payload_stages(dedup: DedupConfig) -> list[Stage]:
    """Pre-extraction stages over rows with ``payload_digest`` (see module docstring)."""
    if not (dedup.enabled and dedup.payload):
        return []
    return [PayloadDigestDedup()]
