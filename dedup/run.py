"""The global dedup step (phase B): one pass over the surviving documents of every shard.

    docs/*.parquet ──► nodes (priority key, id, text hash, bands)   only these columns are read
        ├─► bucket members (one row per band hash and text hash, plus earlier runs' index)
        │      └─ shuffle by bucket ─► star edges ─► connected components (Large/Small-Star)
        └─ join by key with (root, node) ─► shuffle by root ─► one decision per document
    writes  dedup/decisions/*.parquet (id, _removed, dup_cluster_size)
            dedup/clusters.parquet    (cluster_id, id, kept) of clusters with 2+ documents
            OUTPUT/dedup_index/       band hashes of the kept documents + metadata.json

Everything runs in Ray Data tasks; the driver sees only per-block counts, so memory on the
driver does not grow with the corpus. The result is a function of the set of documents:
the survivor of a cluster is its smallest priority key, whatever the partitioning.
"""

from __future__ import annotations

import shutil
import time
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq
import ray.data
from ray.data.expressions import col

from crawlsieve.dedup.graph import bucket_edges, connected_components, per_key
from crawlsieve.dedup.index import INDEX_DIR, index_files, validate_against, write_metadata
from crawlsieve.dedup.minhash import MinHasher
from crawlsieve.dedup.stages import BANDS, TEXT_HASH, DedupSignatures, minhasher
from crawlsieve.pipelines.config import Config
from crawlsieve.pipelines.stages import REMOVED

EXACT, NEAR, INDEX = "dedup:exact", "dedup:near", "dedup:index"
#: Prefix of earlier runs' indexed documents: sorts before every priority key, so they survive.
INDEX_KEY_PREFIX = "!"
DECISION_SCHEMA = pa.schema([("id", pa.string()), (REMOVED, pa.string()), ("dup_cluster_size", pa.int64())])
CLUSTER_SCHEMA = pa.schema([("cluster_id", pa.string()), ("id", pa.string()), ("kept", pa.bool_())])
_HEX = 16  # characters of each of the two numeric fields of a priority key


def priority_keys(batch: pa.Table) -> pa.Array:
    """Strings whose byte order is the survivor rule: highest ``quality_score`` (absent or NaN
    counts as 0), then the most recent ``fetch_time`` (absent is oldest), then the smallest ``id``.
    """
    n = batch.num_rows
    if "quality_score" in batch.column_names:
        quality = pc.fill_null(pc.cast(batch["quality_score"], pa.float64()), 0.0).to_numpy(
            zero_copy_only=False
        )
    else:
        quality = np.zeros(n)
    quality = np.nan_to_num(quality, nan=0.0) + 0.0  # + 0.0 turns -0.0 into 0.0
    bits = quality.astype(np.float64).view(np.uint64)
    ascending = np.where(bits >> np.uint64(63), ~bits, bits | np.uint64(1 << 63))
    if "fetch_time" in batch.column_names:
        micros = pc.cast(batch["fetch_time"], pa.timestamp("us")).cast(pa.int64())
        micros = pc.fill_null(micros, np.iinfo(np.int64).min).to_numpy(zero_copy_only=False)
    else:
        micros = np.full(n, np.iinfo(np.int64).min)
    newest_first = ~(micros.astype(np.int64).view(np.uint64) ^ np.uint64(1 << 63))
    quality_first = ~ascending
    ids = batch["id"].to_pylist()
    return pa.array(
        [
            f"{q:016x}{t:016x}{i}"
            for q, t, i in zip(quality_first.tolist(), newest_first.tolist(), ids, strict=True)
        ],
        type=pa.string(),
    )


def _id_of(key: str) -> str:
    if key.startswith(INDEX_KEY_PREFIX):
        return "index:" + key[len(INDEX_KEY_PREFIX) :]
    return key[2 * _HEX :]


def _nodes(batch: pa.Table, hasher: MinHasher, near: bool) -> pa.Table:
    """Docs batch -> ``key, id, dedup_text_hash, dedup_bands`` (signatures computed if absent)."""
    if TEXT_HASH not in batch.column_names:
        batch = DedupSignatures(hasher, near=near)(batch)
    return pa.table(
        {"key": priority_keys(batch), "id": batch["id"], TEXT_HASH: batch[TEXT_HASH], BANDS: batch[BANDS]}
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
            TEXT_HASH: pa.nulls(n, pa.uint64()),
            BANDS: pa.nulls(n, pa.list_(pa.uint64())),
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


def decide_clusters(batch: pa.Table) -> pa.Table:
    """One decision per document of whole clusters (rows grouped by ``label``, the root key)."""
    if batch.num_rows == 0:
        return pa.table(
            {
                "id": pa.array([], pa.string()),
                REMOVED: pa.array([], pa.string()),
                "dup_cluster_size": pa.array([], pa.int64()),
                "cluster_id": pa.array([], pa.string()),
                "kept": pa.array([], pa.bool_()),
                TEXT_HASH: pa.array([], pa.uint64()),
                BANDS: pa.array([], pa.list_(pa.uint64())),
            }
        )
    sizes = batch.group_by("label", use_threads=False).aggregate([("key", "count")])
    survivors = batch.filter(pc.equal(batch["key"], batch["label"]))
    rows = batch
    size = _lookup(rows["label"], sizes["label"], sizes["key_count"])
    survivor_hash = _lookup(rows["label"], survivors["label"], survivors[TEXT_HASH])
    kept = pc.equal(rows["key"], rows["label"])
    from_index = pc.starts_with(rows["label"], INDEX_KEY_PREFIX)
    same_text = pc.fill_null(pc.equal(rows[TEXT_HASH], survivor_hash), False)
    reason = pc.case_when(
        pc.make_struct(from_index, kept, same_text),
        pa.scalar(INDEX),
        pa.scalar(None, pa.string()),
        pa.scalar(EXACT),
        pa.scalar(NEAR),
    )
    return pa.table(
        {
            "id": rows["id"],
            REMOVED: reason,
            "dup_cluster_size": pc.cast(size, pa.int64()),
            "cluster_id": pa.array([_id_of(k) for k in rows["label"].to_pylist()], pa.string()),
            "kept": pc.and_(kept, pc.invert(from_index)),
            TEXT_HASH: rows[TEXT_HASH],
            BANDS: rows[BANDS],
        }
    )


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


def _partitions(config: Config, rows: int, hasher: MinHasher) -> int:
    if config.dedup.shuffle_partitions:
        return config.dedup.shuffle_partitions
    bucket_rows = rows * (hasher.bands + 1)
    return int(min(200, max(2, bucket_rows // 2_000_000 + 2)))


def _doc_columns(files: list[Path]) -> tuple[list[str], bool]:
    """Columns to read (those every file has) and whether the signatures are already there."""
    schemas = [set(pq.read_schema(f).names) for f in files]
    common = set.intersection(*schemas)
    has_signatures = {TEXT_HASH, BANDS} <= common
    wanted = ["id", "quality_score", "fetch_time"] + ([TEXT_HASH, BANDS] if has_signatures else ["text"])
    return [c for c in wanted if c in common], has_signatures


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


def deduplicate(work_dir: Path, output_dir: Path, config: Config) -> dict:
    """Decide exact, near and index duplicates over all ``work_dir/docs/*.parquet`` (see module doc).

    Needs Ray initialized. Returns ``{documents, kept, removed: {reason: n}, clusters, seconds, ...}``.
    """
    started = time.monotonic()
    work_dir, output_dir = Path(work_dir), Path(output_dir)
    dedup = config.dedup
    hasher = minhasher(config)
    index_roots = validate_against(config) if dedup.enabled else []
    out = work_dir / "dedup"
    out.mkdir(parents=True, exist_ok=True)
    decisions_dir = _reset(out / "decisions")
    clusters_path = _reset(out / "clusters.parquet")
    index_dir = _reset(output_dir / INDEX_DIR)
    files = sorted((work_dir / "docs").glob("*.parquet"))
    rows = sum(pq.read_metadata(f).num_rows for f in files)
    if rows == 0 or not dedup.enabled:
        if dedup.enabled:
            write_metadata(output_dir, hasher, 0)
        return _without_dedup(files, rows, decisions_dir, clusters_path, started)

    columns, _ = _doc_columns(files)
    partitions = _partitions(config, rows, hasher)
    nodes = (
        ray.data.read_parquet([str(f) for f in files])
        .select_columns(columns)
        .map_batches(_nodes, fn_kwargs={"hasher": hasher, "near": dedup.near}, batch_format="pyarrow")
        .materialize()
    )
    members = nodes.map_batches(_Members(dedup.exact, dedup.near, True), batch_format="pyarrow")
    for root in index_roots:
        paths = index_files(root)
        if paths:
            earlier = (
                ray.data.read_parquet(paths)
                .select_columns(["id", TEXT_HASH, BANDS])
                .map_batches(_index_nodes, batch_format="pyarrow")
            )
            members = members.union(
                earlier.map_batches(_Members(dedup.exact, dedup.near, False), batch_format="pyarrow")
            )
    edges = per_key(members, "bucket", bucket_edges, partitions)
    components = connected_components(edges, partitions, dedup.max_rounds)
    parents = components.map_batches(_parents, batch_format="pyarrow")
    rows = nodes.map_batches(_without_root, batch_format="pyarrow").union(parents)
    labelled = per_key(rows, "key", label_nodes, partitions)
    decided = per_key(labelled, "label", decide_clusters, partitions).materialize()

    decided.select_columns(list(DECISION_SCHEMA.names)).write_parquet(str(decisions_dir))
    clustered = decided.filter(expr=col("dup_cluster_size") > 1)
    _write_single_file(clustered, clusters_path, CLUSTER_SCHEMA)
    kept = decided.filter(expr=col("kept")).select_columns(["id", TEXT_HASH, BANDS])
    kept.write_parquet(str(index_dir / "bands"))
    summary = _summarize(decided)
    write_metadata(output_dir, hasher, summary["kept"])
    summary.update(
        seconds=round(time.monotonic() - started, 3),
        bands=hasher.bands,
        rows=hasher.rows,
        partitions=partitions,
        against=[str(r) for r in index_roots],
    )
    return summary


def _summarize(decided: ray.data.Dataset) -> dict:
    parts = decided.map_batches(_summary_counts, batch_size=None, batch_format="pyarrow").take_all()
    removed = {reason: sum(p[reason] for p in parts) for reason in (EXACT, NEAR, INDEX)}
    documents = sum(p["documents"] for p in parts)
    return {
        "documents": documents,
        "kept": documents - sum(removed.values()),
        "removed": {reason: n for reason, n in removed.items() if n},
        # Blocks hold whole clusters (partitioned by root), so per-block counts add up.
        "clusters": sum(p["clusters"] for p in parts),
    }


def _without_dedup(
    files: list[Path], rows: int, decisions_dir: Path, clusters_path: Path, started: float
) -> dict:
    """Every document kept, cluster size 1 (dedup disabled or nothing to deduplicate)."""
    decisions_dir.mkdir(parents=True, exist_ok=True)
    if files:
        ray.data.read_parquet([str(f) for f in files]).select_columns(["id"]).map_batches(
            lambda b: pa.table(
                {
                    "id": b["id"],
                    REMOVED: pa.nulls(b.num_rows, pa.string()),
                    "dup_cluster_size": pa.array(np.ones(b.num_rows, dtype=np.int64)),
                }
            ),
            batch_format="pyarrow",
        ).write_parquet(str(decisions_dir))
    pq.write_table(CLUSTER_SCHEMA.empty_table(), clusters_path)
    return {
        "documents": rows,
        "kept": rows,
        "removed": {},
        "clusters": 0,
        "seconds": round(time.monotonic() - started, 3),
    }
