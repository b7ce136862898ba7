"""The global dedup step (phase B): one pass over the surviving documents of every shard.

    docs/*.parquet ──► nodes (priority key, id, text hash, bands)   only these columns are read
        ├─► bucket members (one row per band hash and text hash, plus earlier runs' index)
        │      └─ shuffle by bucket ─► star edges ─► connected components (Large/Small-Star)
        └─ join by key with (root, node) ─► shuffle by root ─► one decision per document
              (each removed member verified against its survivor by estimated Jaccard)
    then, with dedup.subdoc on, the lines repeated across the documents kept (dedup/subdoc.py)
    writes  dedup/decisions/<shard>.parquet (id, _removed, dup_cluster_size of that shard's docs)
            dedup/clusters.parquet    (cluster_id, id, kept) of clusters with 2+ documents
            OUTPUT/dedup_index/       band hashes of the kept documents + metadata.json

Everything runs in Ray Data tasks; the driver sees only per-block counts, so memory on the
driver does not grow with the corpus. The result is a function of the set of documents:
the survivor of a cluster is its smallest priority key, whatever the partitioning.

Runs with fewer than ``dedup.shuffle_min_docs`` documents skip the shuffles (about a minute
of fixed cost) and call the very same functions once, in a single Ray task, over all rows.
"""

from __future__ import annotations

import shutil
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq
import ray.data
from ray.data.expressions import col

from crawlsieve.core.layout import RunLayout
from crawlsieve.core.stages import REMOVED, unique_id
from crawlsieve.dedup.config import DedupConfig
from crawlsieve.dedup.graph import (
    bucket_edges,
    connected_components,
    connected_components_in_memory,
    per_key,
)
from crawlsieve.dedup.index import BANDS_DIR, index_files, validate_against, write_metadata
from crawlsieve.dedup.keys import priority_keys, shard_of_paths
from crawlsieve.dedup.minhash import MinHasher
from crawlsieve.dedup.stages import BANDS, SIGNATURE, TEXT_HASH, DedupSignatures, minhasher, signature_matrix
from crawlsieve.dedup.subdoc import deduplicate_units

EXACT, NEAR, INDEX = "dedup:exact", "dedup:near", "dedup:index"
#: Prefix of earlier runs' indexed documents: sorts before every priority key, so they survive.
INDEX_KEY_PREFIX = "!"
DECISION_SCHEMA = pa.schema(
    [("id", pa.string()), (REMOVED, pa.string()), ("dup_cluster_size", pa.int64()), ("new_id", pa.string())]
)
#: A rename row of a shard's decisions: the id another file's record already has, and this one's.
RENAME_SCHEMA = pa.schema([("id", pa.string()), ("shard", pa.string()), ("new_id", pa.string())])
CLUSTER_SCHEMA = pa.schema([("cluster_id", pa.string()), ("id", pa.string()), ("kept", pa.bool_())])
_HEX = 16  # characters of each of the two numeric fields of a priority key
NODE_HASHES = (TEXT_HASH, BANDS, SIGNATURE)


def _id_of(key: str) -> str:
    if key.startswith(INDEX_KEY_PREFIX):
        return "index:" + key[len(INDEX_KEY_PREFIX) :]
    return key[2 * _HEX :].partition("\x00")[0]


def _nodes(batch: pa.Table, hasher: MinHasher, near: bool) -> pa.Table:
    """Docs batch (with ``path``) -> ``key, id, shard, record_offset, dedup_text_hash, dedup_bands,
    dedup_signature`` (signatures computed from ``text`` when the phase-A columns are absent, and
    left empty when there is no ``text`` either: dedup is off, only ids are made unique).
    """
    if "record_offset" not in batch.column_names:
        batch = batch.append_column("record_offset", pa.nulls(batch.num_rows, pa.int64()))
    if SIGNATURE not in batch.column_names and "text" not in batch.column_names:
        n = batch.num_rows
        batch = batch.append_column(TEXT_HASH, pa.nulls(n, pa.uint64()))
        batch = batch.append_column(BANDS, pa.nulls(n, pa.list_(pa.uint64())))
        batch = batch.append_column(SIGNATURE, pa.nulls(n, pa.binary()))
    elif SIGNATURE not in batch.column_names:
        batch = DedupSignatures(hasher, near=near)(
            batch.drop_columns([c for c in NODE_HASHES if c in batch.column_names])
        )
    batch = batch.append_column("shard", shard_of_paths(batch["path"]))
    return pa.table(
        {
            "key": priority_keys(batch),
            "id": batch["id"],
            "shard": batch["shard"],
            "record_offset": batch["record_offset"],
            TEXT_HASH: batch[TEXT_HASH],
            BANDS: batch[BANDS],
            SIGNATURE: batch[SIGNATURE],
        }
    )


class _Members:
    """Nodes -> one ``(bucket, key, current)`` row per band hash (and text hash, for exact dedup)."""

    def __init__(self, exact: bool, near: bool, current: bool):
        self.exact, self.near, self.current = exact, near, current

    def __call__(self, nodes: pa.Table) -> pa.Table:
        parts = []
        if self.near:
            bands = nodes[BANDS].combine_chunks()
            parents = pc.list_parent_indices(bands)
            parts.append(pa.table({"bucket": pc.list_flatten(bands), "key": nodes["key"].take(parents)}))
        if self.exact:
            has_text = nodes.filter(pc.is_valid(nodes[TEXT_HASH]))
            parts.append(pa.table({"bucket": has_text[TEXT_HASH], "key": has_text["key"]}))
        members = (
            pa.concat_tables(parts) if parts else pa.table({"bucket": pa.array([], pa.uint64()), "key": []})
        )
        return members.append_column("current", pa.array(np.full(members.num_rows, self.current)))


def _index_nodes(batch: pa.Table) -> pa.Table:
    keys = pc.binary_join_element_wise(INDEX_KEY_PREFIX, batch["id"], "")
    return pa.table({"key": keys, TEXT_HASH: batch[TEXT_HASH], BANDS: batch[BANDS]})


def _parents(edges: pa.Table) -> pa.Table:
    """Star edges -> rows shaped like nodes (``root`` set, the rest null), to union with them."""
    n = edges.num_rows
    return pa.table(
        {
            "key": edges["v"],
            "id": pa.nulls(n, pa.string()),
            "shard": pa.nulls(n, pa.string()),
            "record_offset": pa.nulls(n, pa.int64()),
            TEXT_HASH: pa.nulls(n, pa.uint64()),
            BANDS: pa.nulls(n, pa.list_(pa.uint64())),
            SIGNATURE: pa.nulls(n, pa.binary()),
            "root": edges["u"],
        }
    )


def _without_root(nodes: pa.Table) -> pa.Table:
    return nodes.append_column("root", pa.nulls(nodes.num_rows, pa.string()))


def label_nodes(rows: pa.Table) -> pa.Table:
    """Nodes and parent rows of the same keys -> nodes with ``label``: their root, else themselves.

    Why not ``Dataset.join``: Ray Data's join needs polars; this is the same hash join, by key.
    """
    is_node = pc.is_valid(rows["id"])
    nodes = rows.filter(is_node).drop_columns(["root"])
    roots = rows.filter(pc.invert(is_node)).group_by("key", use_threads=False).aggregate([("root", "min")])
    root = _lookup(nodes["key"], roots["key"], roots["root_min"])
    return nodes.append_column("label", pc.coalesce(root, nodes["key"]))


def _lookup(keys: pa.ChunkedArray, table_keys: pa.ChunkedArray, values: pa.ChunkedArray) -> pa.Array:
    """``values`` at the position of each of ``keys`` in the unique ``table_keys`` (null if absent).

    A hash lookup rather than ``Table.join``: Acero's join cannot carry list columns.
    """
    positions = pc.index_in(keys, value_set=table_keys.combine_chunks())
    return values.combine_chunks().take(positions)


DECIDED_SCHEMA = pa.schema(
    [
        ("id", pa.string()),
        (REMOVED, pa.string()),
        ("dup_cluster_size", pa.int64()),
        ("cluster_id", pa.string()),
        ("kept", pa.bool_()),
        ("shard", pa.string()),
        (TEXT_HASH, pa.uint64()),
        (BANDS, pa.list_(pa.uint64())),
    ]
)


class VerifiedLabels:
    """Splits each cluster so that every member is a verified near-duplicate of its survivor.

    Connected components chain: A~B and B~C put C in A's cluster even when C and A share far
    less than the threshold. A member stays with its root only if its text hash equals the
    root's or its signature's estimated Jaccard with the root's is at least ``threshold``; the
    rest of a cluster, in priority order, is split greedily: the first one left becomes a new
    survivor and takes every member left that verifies against it. Rows whose root is an
    earlier run's indexed document are not split (the index keeps no signatures).
    """

    def __init__(self, num_perm: int, threshold: float):
        self.num_perm, self.threshold = num_perm, threshold

    def __call__(self, rows: pa.Table) -> pa.Array:
        labels = rows["label"].combine_chunks()
        if self.threshold <= 0 or rows.num_rows == 0:
            return labels
        keys = rows["key"].combine_chunks()
        hashes = pc.fill_null(rows[TEXT_HASH], 0).to_numpy(zero_copy_only=False)
        has_hash = pc.is_valid(rows[TEXT_HASH]).to_numpy(zero_copy_only=False)
        self._signatures, self._valid = signature_matrix(rows[SIGNATURE], self.num_perm)
        self._hashes, self._has_hash = hashes, has_hash
        survivor = pc.index_in(labels, value_set=keys)
        pending = np.flatnonzero(pc.is_valid(survivor).to_numpy(zero_copy_only=False))
        roots = pc.fill_null(survivor, 0).to_numpy(zero_copy_only=False)[pending]
        rejected = pending[~self._verified(pending, roots)]
        if rejected.size == 0:
            return labels
        new_labels = np.array(labels.to_pylist(), dtype=object)
        key_list = keys.to_pylist()
        order = np.array(sorted(rejected.tolist(), key=lambda i: (new_labels[i], key_list[i])))
        for label in dict.fromkeys(new_labels[order].tolist()):
            left = order[new_labels[order] == label]
            while left.size:
                leader = left[0]
                joins = self._verified(left, np.full(left.size, leader))
                joins[0] = True
                new_labels[left[joins]] = key_list[leader]
                left = left[~joins]
        return pa.array(new_labels.tolist(), pa.string())

    def _verified(self, rows: np.ndarray, against: np.ndarray) -> np.ndarray:
        same_text = (
            self._has_hash[rows] & self._has_hash[against] & (self._hashes[rows] == self._hashes[against])
        )
        both = self._valid[rows] & self._valid[against]
        agreement = (self._signatures[rows] == self._signatures[against]).mean(axis=1)
        return (rows == against) | same_text | (both & (agreement >= self.threshold))


class ClusterDecider:
    """One decision per document of whole clusters (rows grouped by ``label``, the root key)."""

    def __init__(self, num_perm: int, verify_threshold: float):
        self.verify = VerifiedLabels(num_perm, verify_threshold)

    def __call__(self, batch: pa.Table) -> pa.Table:
        if batch.num_rows == 0:
            return DECIDED_SCHEMA.empty_table()
        batch = batch.set_column(batch.schema.get_field_index("label"), "label", self.verify(batch))
        sizes = batch.group_by("label", use_threads=False).aggregate([("key", "count")])
        survivors = batch.filter(pc.equal(batch["key"], batch["label"]))
        size = _lookup(batch["label"], sizes["label"], sizes["key_count"])
        survivor_hash = _lookup(batch["label"], survivors["label"], survivors[TEXT_HASH])
        kept = pc.equal(batch["key"], batch["label"])
        from_index = pc.starts_with(batch["label"], INDEX_KEY_PREFIX)
        same_text = pc.fill_null(pc.equal(batch[TEXT_HASH], survivor_hash), False)
        reason = pc.case_when(
            pc.make_struct(from_index, kept, same_text),
            pa.scalar(INDEX),
            pa.scalar(None, pa.string()),
            pa.scalar(EXACT),
            pa.scalar(NEAR),
        )
        return pa.table(
            {
                "id": batch["id"],
                REMOVED: reason,
                "dup_cluster_size": pc.cast(size, pa.int64()),
                "cluster_id": pa.array([_id_of(k) for k in batch["label"].to_pylist()], pa.string()),
                "kept": pc.and_(kept, pc.invert(from_index)),
                "shard": batch["shard"],
                TEXT_HASH: batch[TEXT_HASH],
                BANDS: batch[BANDS],
            },
            schema=DECIDED_SCHEMA,
        )


def cluster_decider(dedup: DedupConfig) -> ClusterDecider:
    verify = max(0.0, dedup.threshold - 0.05) if dedup.verify_threshold is None else dedup.verify_threshold
    return ClusterDecider(dedup.num_perm, verify if dedup.near else 0.0)


def _summary_counts(batch: pa.Table) -> pa.Table:
    clustered = batch.filter(pc.greater(batch["dup_cluster_size"], 1))
    counts = {
        reason: [pc.sum(pc.equal(batch[REMOVED], reason)).as_py() or 0] for reason in (EXACT, NEAR, INDEX)
    }
    return pa.table(
        {
            "documents": [batch.num_rows],
            "clusters": [pc.count_distinct(clustered["cluster_id"]).as_py()],
            **counts,
        }
    )


def _partitions(dedup: DedupConfig, rows: int, hasher: MinHasher) -> int:
    if dedup.shuffle_partitions:
        return dedup.shuffle_partitions
    bucket_rows = rows * (hasher.bands + 1)
    return int(min(200, max(2, bucket_rows // 2_000_000 + 2)))


def _doc_columns(files: list[Path], enabled: bool = True) -> list[str]:
    """Columns to read (those every file has): the phase-A signatures if there, else ``text``
    (neither when dedup is off)."""
    common = set.intersection(*(set(pq.read_schema(f).names) for f in files))
    has_signatures = set(NODE_HASHES) <= common
    wanted = ["id", "quality_score", "fetch_time", "record_offset"]
    if enabled:
        wanted += list(NODE_HASHES) if has_signatures else ["text"]
    return [c for c in wanted if c in common]


def _reset(path: Path) -> Path:
    if path.is_dir():
        shutil.rmtree(path)
    elif path.exists():
        path.unlink()
    return path


def _write_single_file(ds: ray.data.Dataset, path: Path, schema: pa.Schema) -> int:
    """Stream ``ds`` into one Parquet file (batch by batch: the driver holds one batch at a time)."""
    rows = 0
    with pq.ParquetWriter(path, schema, compression="zstd") as writer:
        for batch in ds.iter_batches(batch_format="pyarrow", batch_size=65_536):
            writer.write_table(batch.select(schema.names).cast(schema))
            rows += batch.num_rows
    return rows


def renamed_ids(rows: pa.Table) -> pa.Table:
    """``id, shard, record_offset`` rows -> a rename (``RENAME_SCHEMA``) for each record whose id a
    record of a smaller shard has too: its id becomes ``unique_id(id, shard, record_offset)``.

    Ids are unique within a file (the reader makes them so), so the smallest shard of an id holds
    its one occurrence that keeps the plain id. All rows of an id must be in ``rows``.
    """
    if rows.num_rows == 0:
        return RENAME_SCHEMA.empty_table()
    counts = rows.group_by("id", use_threads=False).aggregate([("shard", "min"), ("shard", "count")])
    repeated = counts.filter(pc.greater(counts["shard_count"], 1))
    if repeated.num_rows == 0:
        return RENAME_SCHEMA.empty_table()
    first = _lookup(rows["id"], repeated["id"], repeated["shard_min"])
    later = rows.filter(pc.fill_null(pc.not_equal(rows["shard"], first), False))
    new_ids = [
        unique_id(i, s, o)
        for i, s, o in zip(*(later[c].to_pylist() for c in ("id", "shard", "record_offset")), strict=True)
    ]
    return pa.table({"id": later["id"], "shard": later["shard"], "new_id": new_ids}, schema=RENAME_SCHEMA)


def _decision_rows(decided: pa.Table) -> pa.Table:
    """Decided rows, or renames, as rows of the table ``write_shard_decisions`` groups by shard."""
    n = decided.num_rows
    if "dup_cluster_size" not in decided.column_names:  # renames
        return pa.table(
            {
                "id": decided["id"],
                REMOVED: pa.nulls(n, pa.string()),
                "dup_cluster_size": pa.nulls(n, pa.int64()),
                "new_id": decided["new_id"],
                "shard": decided["shard"],
            }
        )
    return pa.table(
        {
            "id": decided["id"],
            REMOVED: decided[REMOVED],
            "dup_cluster_size": decided["dup_cluster_size"],
            "new_id": pa.nulls(n, pa.string()),
            "shard": decided["shard"],
        }
    )


def write_shard_decisions(decided: pa.Table, decisions_dir: str | Path) -> pa.Table:
    """Writes one shard's decisions as ``decisions/<shard>.parquet``, sorted by id, so phase C
    reads only its own file. Called once per whole shard (``groupby("shard").map_groups``) with
    the shard's ``_decision_rows``: one per document, and one per rename (null cluster size).
    """
    if decided.num_rows == 0:
        return pa.table({"shard": pa.array([], pa.string()), "rows": pa.array([], pa.int64())})
    shard = decided["shard"][0].as_py()
    is_rename = pc.is_null(decided["dup_cluster_size"])
    renames = decided.filter(is_rename)
    decided = decided.filter(pc.invert(is_rename))
    if renames.num_rows:
        decided = decided.set_column(
            decided.schema.get_field_index("new_id"),
            "new_id",
            _lookup(decided["id"], renames["id"], renames["new_id"]),
        )
    table = decided.select(DECISION_SCHEMA.names).cast(DECISION_SCHEMA).sort_by("id")
    tmp = Path(decisions_dir) / f".{shard}.parquet.tmp"
    pq.write_table(table, tmp, compression="zstd")
    tmp.replace(Path(decisions_dir) / f"{shard}.parquet")
    return pa.table({"shard": [shard], "rows": pa.array([decided.num_rows], pa.int64())})


@dataclass(frozen=True)
class _Outputs:
    decisions_dir: Path
    clusters_path: Path
    index_dir: Path


def deduplicate(layout: RunLayout, dedup: DedupConfig) -> dict:
    """Decide exact, near and index duplicates over all of the run's ``docs`` files (module doc).

    Needs Ray initialized. Returns ``{documents, kept, removed: {reason: n}, clusters, seconds,
    path, ...}`` where ``path`` is ``"single-task"`` or ``"shuffle"``.
    """
    started = time.monotonic()
    hasher = minhasher(dedup)
    index_roots = validate_against(dedup) if dedup.enabled else []
    layout.dedup.mkdir(parents=True, exist_ok=True)
    outputs = _Outputs(_reset(layout.decisions_dir), _reset(layout.clusters), _reset(layout.dedup_index))
    outputs.decisions_dir.mkdir(parents=True)
    _reset(layout.subdoc_decisions_dir)
    _reset(layout.subdoc_units)
    files = layout.docs_files()
    rows = sum(pq.read_metadata(f).num_rows for f in files)
    if rows == 0:
        if dedup.enabled:
            write_metadata(layout.root, hasher, 0)
        pq.write_table(CLUSTER_SCHEMA.empty_table(), outputs.clusters_path)
        return {"documents": 0, "kept": 0, "removed": {}, "clusters": 0, "seconds": 0.0}

    index_paths = [p for root in index_roots for p in index_files(root)]
    if rows < dedup.shuffle_min_docs:
        summary = ray.get(_deduplicate_in_one_task.remote(files, index_paths, dedup, outputs))
        summary["path"] = "single-task"
    else:
        summary = _deduplicate_by_shuffles(files, index_paths, dedup, outputs, rows)
        summary["path"] = "shuffle"
    if dedup.subdoc.enabled:
        columns = [c for c in _doc_columns(files, enabled=False) if c != "record_offset"]
        partitions = summary.get("partitions")
        cut = deduplicate_units(layout, dedup.subdoc, files, [*columns, "text"], partitions)
        summary.update({f"subdoc_{name}": n for name, n in cut.items()})
    summary["seconds"] = round(time.monotonic() - started, 3)
    if not dedup.enabled:  # only the ids were made unique
        shutil.rmtree(outputs.index_dir, ignore_errors=True)
        return summary
    write_metadata(layout.root, hasher, summary["kept"])
    summary.update(bands=hasher.bands, rows=hasher.rows, against=[str(r) for r in index_roots])
    return summary


def _members(dedup: DedupConfig, current: bool) -> _Members:
    return _Members(dedup.enabled and dedup.exact, dedup.enabled and dedup.near, current)


def _deduplicate_by_shuffles(
    files: list[Path], index_paths: list[str], dedup: DedupConfig, outputs: _Outputs, rows: int
) -> dict:
    """The scalable path: every step a Ray Data shuffle (see the module docstring)."""
    hasher = minhasher(dedup)
    partitions = _partitions(dedup, rows, hasher)
    nodes = (
        ray.data.read_parquet([str(f) for f in files], include_paths=True)
        .select_columns([*_doc_columns(files, dedup.enabled), "path"])
        .map_batches(_nodes, fn_kwargs={"hasher": hasher, "near": dedup.near}, batch_format="pyarrow")
        .materialize()
    )
    members = nodes.map_batches(_members(dedup, True), batch_format="pyarrow")
    if index_paths:
        earlier = (
            ray.data.read_parquet(index_paths)
            .select_columns(["id", TEXT_HASH, BANDS])
            .map_batches(_index_nodes, batch_format="pyarrow")
        )
        members = members.union(earlier.map_batches(_members(dedup, False), batch_format="pyarrow"))
    edges = per_key(members, "bucket", bucket_edges, partitions)
    components = connected_components(edges, partitions, dedup.max_rounds)
    parents = components.map_batches(_parents, batch_format="pyarrow")
    labelled = per_key(
        nodes.map_batches(_without_root, batch_format="pyarrow").union(parents),
        "key",
        label_nodes,
        partitions,
    )
    decided = per_key(labelled, "label", cluster_decider(dedup), partitions).materialize()

    renames = per_key(
        nodes.select_columns(["id", "shard", "record_offset"]), "id", renamed_ids, partitions
    ).map_batches(_decision_rows, batch_format="pyarrow")
    decided.map_batches(_decision_rows, batch_format="pyarrow").union(renames).groupby("shard").map_groups(
        write_shard_decisions, fn_kwargs={"decisions_dir": str(outputs.decisions_dir)}, batch_format="pyarrow"
    ).materialize()
    _write_single_file(
        decided.filter(expr=col("dup_cluster_size") > 1), outputs.clusters_path, CLUSTER_SCHEMA
    )
    kept = decided.filter(expr=col("kept")).select_columns(["id", TEXT_HASH, BANDS])
    kept.write_parquet(str(outputs.index_dir / BANDS_DIR))
    counted = decided.map_batches(_summary_counts, batch_size=None, batch_format="pyarrow").materialize()
    summary = _summarize(counted.take_all())
    # Ray Data's own account of its tasks' CPU time, over every operator up to the counts.
    cpu = counted.get_stats_summary().get_total_cpu_time()
    return {**summary, "partitions": partitions, "cpu_seconds": cpu}


@ray.remote
def _deduplicate_in_one_task(
    files: list[Path], index_paths: list[str], dedup: DedupConfig, outputs: _Outputs
) -> dict:
    """The small-run path: the shuffle path's functions, each called once over all rows."""
    started = time.process_time()
    hasher = minhasher(dedup)
    columns = _doc_columns(files, dedup.enabled)
    nodes = pa.concat_tables(
        [_nodes(_with_path(pq.read_table(f, columns=columns), f), hasher, dedup.near) for f in files]
    )
    members = [_members(dedup, True)(nodes)]
    for path in index_paths:
        earlier = _index_nodes(pq.read_table(path, columns=["id", TEXT_HASH, BANDS]))
        members.append(_members(dedup, False)(earlier))
    edges = bucket_edges(pa.concat_tables(members))
    components = connected_components_in_memory(edges, dedup.max_rounds)
    labelled = label_nodes(pa.concat_tables([_without_root(nodes), _parents(components)]))
    decided = cluster_decider(dedup)(labelled)

    rows = pa.concat_tables(
        [
            _decision_rows(decided),
            _decision_rows(renamed_ids(nodes.select(["id", "shard", "record_offset"]))),
        ]
    )
    for shard in pc.unique(rows["shard"]).to_pylist():
        write_shard_decisions(rows.filter(pc.equal(rows["shard"], shard)), outputs.decisions_dir)
    clustered = decided.filter(pc.greater(decided["dup_cluster_size"], 1))
    pq.write_table(clustered.select(CLUSTER_SCHEMA.names).cast(CLUSTER_SCHEMA), outputs.clusters_path)
    (outputs.index_dir / BANDS_DIR).mkdir(parents=True, exist_ok=True)
    kept = decided.filter(decided["kept"]).select(["id", TEXT_HASH, BANDS])
    pq.write_table(kept, outputs.index_dir / BANDS_DIR / "part-00000.parquet", compression="zstd")
    return {**_summarize(_summary_counts(decided).to_pylist()), "cpu_seconds": time.process_time() - started}


def _with_path(table: pa.Table, path: Path) -> pa.Table:
    return table.append_column("path", pa.array([str(path)] * table.num_rows, pa.string()))


def _summarize(parts: list[dict]) -> dict:
    """Per-block counts -> run totals (blocks hold whole clusters, partitioned by root)."""
    removed = {reason: sum(p[reason] for p in parts) for reason in (EXACT, NEAR, INDEX)}
    documents = sum(p["documents"] for p in parts)
    return {
        "documents": documents,
        "kept": documents - sum(removed.values()),
        "removed": {reason: n for reason, n in removed.items() if n},
        "clusters": sum(p["clusters"] for p in parts),
    }
