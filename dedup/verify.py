"""Pairs of documents checked against their MinHash signatures, read where phase A stored them.

A pair is two priority keys ``u < v`` (see ``dedup.keys.priority_keys``). A key names its
document's shard (after the NUL) and id, and ids are unique within a shard, so a key is also
the document's address in the run's docs (``RunLayout.docs``). :class:`SignatureLookup` uses that: it
takes pair rows partitioned by the shard of one side, reads that shard's ``id``,
``dedup_signature`` and ``dedup_text_hash`` columns once, and attaches them to the rows. Two
lookups (one per side) put both signatures of a pair in one task without ever shuffling the
corpus' signatures: only the pairs move, each carrying at most one signature, and only between
the two lookups. Earlier runs' indexed documents (keys starting with ``!``) have no signature
in any shard: their pairs are accepted unverified, as the index holds band hashes only.

:func:`judge_pairs` is the test itself: the two texts' hashes are equal, or the signatures'
estimated Jaccard (share of equal MinHash values) is at least the verify threshold.

:class:`ClusterDecider` turns a component's verified members into decisions; it splits off
members that do not verify against the component's survivor (see its docstring).
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from crawlsieve.core.layout import RunLayout
from crawlsieve.core.stages import REMOVED
from crawlsieve.dedup.graph import EDGE_SCHEMA
from crawlsieve.dedup.minhash import MinHasher
from crawlsieve.dedup.stages import SIGNATURE, TEXT_HASH, DedupSignatures, signature_matrix

EXACT, NEAR, INDEX = "dedup:exact", "dedup:near", "dedup:index"
#: Prefix of earlier runs' indexed documents: sorts before every priority key, so they survive.
INDEX_KEY_PREFIX = "!"
#: A verified pair: ``same_text`` when the two normalized texts hash equal (an exact duplicate).
VERIFIED_SCHEMA = pa.schema([("u", pa.string()), ("v", pa.string()), ("same_text", pa.bool_())])
#: A component member ``v`` with its root ``u``, checked: ``v_signature``/``v_hash`` are kept
#: only for members that did not verify against the root, for the split.
MEMBER_SCHEMA = pa.schema(
    [
        ("u", pa.string()),
        ("v", pa.string()),
        ("verified", pa.bool_()),
        ("same_text", pa.bool_()),
        ("v_signature", pa.binary()),
        ("v_hash", pa.uint64()),
    ]
)
DECIDED_SCHEMA = pa.schema(
    [
        ("id", pa.string()),
        ("shard", pa.string()),
        (REMOVED, pa.string()),
        ("dup_cluster_size", pa.int64()),
        ("cluster_id", pa.string()),
        ("kept", pa.bool_()),
        ("first", pa.bool_()),
    ]
)
#: A component's members that fail its survivor are regrouped under at most this many new
#: survivors (each member is compared with each new survivor: linear per member, not quadratic
#: in the component); members left after that are kept on their own.
MAX_SPLIT_SURVIVORS = 64


def key_shards(keys: pa.Array | pa.ChunkedArray) -> pa.Array:
    """The shard named in each priority key; null for an earlier run's indexed document."""
    return pc.struct_field(pc.extract_regex(keys, r"\x00(?P<shard>.*)$"), [0])


def key_ids(keys: pa.Array | pa.ChunkedArray) -> pa.Array:
    """The document id in each priority key; ``index:<id>`` for an earlier run's indexed one."""
    current = pc.struct_field(pc.extract_regex(keys, r"(?s)^.{32}(?P<id>[^\x00]*)\x00"), [0])
    indexed = pc.binary_join_element_wise("index:", pc.utf8_slice_codeunits(keys, 1), "")
    return pc.if_else(pc.starts_with(keys, INDEX_KEY_PREFIX), indexed, current)


def from_index(keys: pa.Array | pa.ChunkedArray) -> pa.Array:
    return pc.starts_with(keys, INDEX_KEY_PREFIX)


@dataclass(frozen=True)
class ShardReader:
    """A docs shard's ``id`` and dedup hash columns: as phase A stored them, or (for docs written
    without the dedup stage) computed from ``text`` with the run's hasher."""

    layout: RunLayout
    stored: bool
    hasher: MinHasher
    near: bool

    def read(self, shard: str, columns: list[str]) -> pa.Table:
        path = self.layout.docs(shard)
        if self.stored or not columns:
            return pq.read_table(path, columns=["id", *columns])
        language = ["language"] if "language" in pq.read_schema(path).names else []  # shingle units
        table = pq.read_table(path, columns=["id", "text", *language])
        return DedupSignatures(self.hasher, near=self.near)(table).select(["id", *columns])


def groups(table: pa.Table, values: pa.Array | pa.ChunkedArray) -> list[tuple[object, pa.Table]]:
    """``table``'s rows split by ``values`` (one per row): ``(value, rows)`` per distinct value."""
    if isinstance(values, pa.ChunkedArray):
        values = values.combine_chunks() if values.num_chunks else pa.array([], values.type)
    encoded = pc.dictionary_encode(values)
    codes = pc.fill_null(encoded.indices, -1).to_numpy(zero_copy_only=False)
    if codes.size == 0:
        return []
    order = np.argsort(codes, kind="stable")
    starts = np.flatnonzero(np.diff(codes[order], prepend=-2))
    ends = [*starts[1:], order.size]
    return [
        (
            None if codes[order[lo]] < 0 else encoded.dictionary[codes[order[lo]]].as_py(),
            table.take(order[lo:hi]),
        )
        for lo, hi in zip(starts, ends, strict=True)
    ]


class SignatureLookup:
    """Adds ``<side>_signature`` and ``<side>_hash`` to pair rows, from the shard named by the
    ``side`` key (``u`` or ``v``); null for indexed documents. Rows come out grouped by shard.
    """

    def __init__(self, reader: ShardReader, side: str):
        self.reader, self.side = reader, side

    def __call__(self, pairs: pa.Table) -> pa.Table:
        pieces = [self._attach(pairs.slice(0, 0), pa.array([], pa.binary()), None)]
        for shard, rows in groups(pairs, key_shards(pairs[self.side])):
            if shard is None:
                pieces.append(self._attach(rows, pa.nulls(rows.num_rows, pa.binary()), None))
                continue
            stored = self.reader.read(shard, [SIGNATURE, TEXT_HASH])
            at = pc.index_in(key_ids(rows[self.side]), value_set=stored["id"].combine_chunks())
            signatures = stored[SIGNATURE].combine_chunks().take(at)
            pieces.append(self._attach(rows, signatures, stored[TEXT_HASH].combine_chunks().take(at)))
        return pa.concat_tables(pieces)

    def _attach(self, rows: pa.Table, signatures: pa.Array, hashes: pa.Array | None) -> pa.Table:
        hashes = pa.nulls(rows.num_rows, pa.uint64()) if hashes is None else hashes
        return rows.append_column(f"{self.side}_signature", signatures.cast(pa.binary())).append_column(
            f"{self.side}_hash", pc.cast(hashes, pa.uint64())
        )


def agreement_at_least(
    first: pa.Array | pa.ChunkedArray, second: pa.Array | pa.ChunkedArray, num_perm: int, threshold: float
) -> np.ndarray:
    """Per row: both signatures present and their share of equal MinHash values >= ``threshold``."""
    a, a_valid = signature_matrix(first, num_perm)
    b, b_valid = signature_matrix(second, num_perm)
    if a.shape[0] == 0:
        return np.zeros(0, dtype=bool)
    return a_valid & b_valid & ((a == b).mean(axis=1) >= threshold)


def same_hash(first: pa.Array | pa.ChunkedArray, second: pa.Array | pa.ChunkedArray) -> np.ndarray:
    return pc.fill_null(pc.equal(first, second), False).to_numpy(zero_copy_only=False)


def judge_pairs(pairs: pa.Table, num_perm: int, threshold: float) -> pa.Table:
    """Pairs with both sides' signatures and hashes -> the same rows with ``verified`` and
    ``same_text``. A threshold of 0 accepts every pair (verification off); pairs with an indexed
    ``u`` are always accepted (the index keeps no signatures)."""
    same_text = same_hash(pairs["u_hash"], pairs["v_hash"])
    verified = same_text | from_index(pairs["u"]).to_numpy(zero_copy_only=False)
    if threshold <= 0:
        verified = np.ones(pairs.num_rows, dtype=bool)
    elif pairs.num_rows:
        verified |= agreement_at_least(pairs["u_signature"], pairs["v_signature"], num_perm, threshold)
    return pairs.append_column("verified", pa.array(verified)).append_column("same_text", pa.array(same_text))


def unique_pairs(pairs: pa.Table) -> pa.Table:
    """Candidate pairs without repeats (several bands of one pair) and without pairs of two
    indexed documents (nothing of this run to decide)."""
    pairs = pairs.filter(pc.invert(from_index(pairs["v"])))
    if pairs.num_rows == 0:
        return EDGE_SCHEMA.empty_table()
    return pairs.group_by(["u", "v"], use_threads=False).aggregate([]).select(["u", "v"]).cast(EDGE_SCHEMA)


class VerifiedEdges:
    """Pairs with ``v``'s signature attached, partitioned by ``u``'s shard -> verified edges."""

    def __init__(self, reader: ShardReader, num_perm: int, threshold: float):
        self.lookup = SignatureLookup(reader, "u")
        self.num_perm, self.threshold = num_perm, threshold

    def __call__(self, pairs: pa.Table) -> pa.Table:
        judged = judge_pairs(self.lookup(pairs), self.num_perm, self.threshold)
        return judged.filter(judged["verified"]).select(VERIFIED_SCHEMA.names).cast(VERIFIED_SCHEMA)


def mark_direct(rows: pa.Table) -> pa.Table:
    """Members ``(u=root, v)`` and verified edges ``(u, v)``, all rows of one ``v`` together ->
    members (``MEMBER_SCHEMA``), ``verified`` where the member-root pair is itself a verified
    edge or the root is indexed, else left for a signature check.

    ``rows``: ``u, v, same_text, member`` (``member`` false for an edge row).
    """
    rows = rows.filter(pc.invert(from_index(rows["v"])))
    if rows.num_rows == 0:
        return MEMBER_SCHEMA.empty_table()
    grouped = rows.group_by(["u", "v"], use_threads=False).aggregate(
        [("member", "max"), ("member", "count"), ("same_text", "max")]
    )
    members = grouped.filter(grouped["member_max"])
    edge = pc.greater(members["member_count"], 1)
    verified = pc.or_(edge, from_index(members["u"]))
    n = members.num_rows
    return pa.table(
        {
            "u": members["u"],
            "v": members["v"],
            "verified": verified,
            "same_text": pc.fill_null(pc.and_(edge, members["same_text_max"]), False),
            "v_signature": pa.nulls(n, pa.binary()),
            "v_hash": pa.nulls(n, pa.uint64()),
        },
        schema=MEMBER_SCHEMA,
    )


class CheckedMembers:
    """Unverified members with ``v``'s signature, partitioned by the root's shard -> members
    (``MEMBER_SCHEMA``) judged against their root; the signature kept only where they failed."""

    def __init__(self, reader: ShardReader, num_perm: int, threshold: float):
        self.lookup = SignatureLookup(reader, "u")
        self.num_perm, self.threshold = num_perm, threshold

    def __call__(self, members: pa.Table) -> pa.Table:
        judged = judge_pairs(self.lookup(members), self.num_perm, self.threshold)
        keep = judged["verified"]
        return pa.table(
            {
                "u": judged["u"],
                "v": judged["v"],
                "verified": keep,
                "same_text": judged["same_text"],
                "v_signature": pc.if_else(keep, pa.scalar(None, pa.binary()), judged["v_signature"]),
                "v_hash": judged["v_hash"],
            },
            schema=MEMBER_SCHEMA,
        )


class ClusterDecider:
    """One decision per document of whole components (member rows grouped by their root ``u``).

    Every member that verified against the root (a verified edge to it, or a signature check)
    is the root's duplicate: ``dedup:exact`` if its text hash equals the root's, else
    ``dedup:near``; ``dedup:index`` if the root is an earlier run's document. Components chain
    (A~B and B~C put C with A even when C and A share less than the threshold), so the members
    that failed are regrouped greedily in priority order: the first one left becomes a new
    survivor and takes every member left that verifies against it, up to
    ``MAX_SPLIT_SURVIVORS`` new survivors per component; members left after that are kept.
    A removed document therefore always verifies against the document kept in its place.
    """

    def __init__(self, num_perm: int, threshold: float):
        self.num_perm, self.threshold = num_perm, threshold

    def __call__(self, members: pa.Table) -> pa.Table:
        if members.num_rows == 0:
            return DECIDED_SCHEMA.empty_table()
        members = members.sort_by([("u", "ascending"), ("v", "ascending")])
        labels = members["u"].combine_chunks()
        same_text = members["same_text"].combine_chunks()
        rejected = np.flatnonzero(pc.invert(members["verified"]).to_numpy(zero_copy_only=False))
        if rejected.size:
            labels, same_text = self._split(members, rejected)
        roots = pc.unique(members["u"].combine_chunks())
        roots = roots.filter(pc.invert(from_index(roots)))
        rows = pa.table(
            {
                "key": pa.concat_arrays([members["v"].combine_chunks(), roots]),
                "label": pa.concat_arrays([labels, roots]),
                "same_text": pa.concat_arrays([same_text, pa.array(np.zeros(len(roots), bool))]),
            }
        )
        return _decisions(rows)

    def _split(self, members: pa.Table, rejected: np.ndarray) -> tuple[pa.Array, pa.Array]:
        """New ``label`` and ``same_text`` of each member (sorted by root, then key)."""
        failed = members.take(rejected)
        signatures, valid = signature_matrix(failed["v_signature"], self.num_perm)
        hashes = pc.fill_null(failed["v_hash"], 0).to_numpy(zero_copy_only=False)
        has_hash = pc.is_valid(failed["v_hash"]).to_numpy(zero_copy_only=False)
        keys = np.array(failed["v"].to_pylist(), dtype=object)
        new_labels = keys.copy()
        new_same = np.zeros(rejected.size, dtype=bool)
        roots = failed["u"].combine_chunks().dictionary_encode().indices.to_numpy(zero_copy_only=False)
        bounds = np.flatnonzero(np.diff(roots, prepend=-1, append=-1))
        for start, end in itertools.pairwise(bounds):
            left = np.arange(start, end)
            for _ in range(MAX_SPLIT_SURVIVORS):
                if left.size == 0:
                    break
                leader = left[0]
                exact = has_hash[left] & has_hash[leader] & (hashes[left] == hashes[leader])
                agree = (signatures[left] == signatures[leader]).mean(axis=1) >= self.threshold
                joins = exact | (valid[left] & valid[leader] & agree)
                joins[0] = True
                new_labels[left[joins]] = keys[leader]
                new_same[left[joins]] = exact[joins] & (left[joins] != leader)
                left = left[~joins]
        labels = members["u"].combine_chunks().to_numpy(zero_copy_only=False).copy()
        labels[rejected] = new_labels
        same = members["same_text"].combine_chunks().to_numpy(zero_copy_only=False).copy()
        same[rejected] = new_same
        return pa.array(labels, pa.string()), pa.array(same)


def _decisions(rows: pa.Table) -> pa.Table:
    """``key, label, same_text`` of whole clusters -> ``DECIDED_SCHEMA`` rows."""
    groups = rows.group_by("label", use_threads=False).aggregate([("key", "count"), ("key", "min")])
    at = pc.index_in(rows["label"], value_set=groups["label"].combine_chunks())
    size = groups["key_count"].combine_chunks().take(at)
    first = pc.equal(rows["key"], groups["key_min"].combine_chunks().take(at))
    kept = pc.equal(rows["key"], rows["label"])
    indexed = from_index(rows["label"])
    reason = pc.case_when(
        pc.make_struct(indexed, kept, rows["same_text"]),
        pa.scalar(INDEX),
        pa.scalar(None, pa.string()),
        pa.scalar(EXACT),
        pa.scalar(NEAR),
    )
    return pa.table(
        {
            "id": key_ids(rows["key"]),
            "shard": key_shards(rows["key"]),
            REMOVED: reason,
            "dup_cluster_size": pc.cast(size, pa.int64()),
            "cluster_id": key_ids(rows["label"]),
            "kept": pc.and_(kept, pc.invert(indexed)),
            "first": first,
        },
        schema=DECIDED_SCHEMA,
    )
