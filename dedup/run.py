"""The global dedup step (phase B): one pass over the surviving documents of every shard.

    docs/*.parquet ──► nodes (priority key, text hash, bands)       signatures stay in the files
      └─► bucket members (one row per band hash and text hash, plus earlier runs' index)
            └─ shuffle by bucket ─► candidate pairs (u, v): a star from each bucket's smallest key
      candidate pairs ─ shuffle by v's shard ─► + v's signature  (read from docs/<v's shard>)
                      ─ shuffle by u's shard ─► + u's signature ─► verified edges (u, v, same_text)
      verified edges ─► connected components (Large/Small-Star, keys only) ─► (root, member)
      members + edges ─ shuffle by member ─► verified where (root, member) is itself an edge
      the others (few) ─ two signature lookups, as above ─► verified against the root, or not
      members ─ shuffle by root ─► one decision per document (failed members split off)
      decisions + renames ─ shuffle by shard ─► per shard: every id's decision, kept bands
    then, with dedup.subdoc on, the lines repeated across the documents kept (dedup/subdoc.py)
    writes  dedup/decisions/<shard>.parquet (id, _removed, dup_cluster_size, new_id)
            dedup/clusters/           (cluster_id, id, kept) of clusters with 2+ documents
            dedup/duplicates.json     cluster size counts and the largest clusters (cluster_facts)
            OUTPUT/dedup_index/       band hashes of the kept documents + metadata.json

Why pairs are verified before the components: the shuffles of the components and of the
labels then carry keys only (a signature is 4 x num_perm bytes, more than all the keys of a
pair), and components over verified edges stay small where unverified band collisions would
chain boilerplate pages into giant ones. Verified edges alone would still chain: A~B and B~C
verified put C in A's cluster though J(A, C) may be far below the threshold. So the survivor
guarantee is kept by a second check after the components: a member whose pair with its root is
itself a verified edge (most members: the root is the smallest key of the component, hence the
star centre of the buckets it shares) needs nothing more; only the others have their and
their root's signatures looked up, and ``ClusterDecider`` splits off those that fail. A
document is removed only if it verifies against the document kept in its place.

Memory: every shuffle gets as many partitions as keep one task's share under
``dedup.max_worker_memory_gb`` (from the bytes of its input), and Ray Data's map tasks and
blocks are sized from the same budget, so a worker's peak does not grow with the run. What one
task must hold whole is one bucket, one component or one shard (see docs/ARCHITECTURE.md).

Everything runs in Ray Data tasks; the driver sees only per-block counts. The result is a
function of the set of documents: the survivor of a cluster is its smallest priority key,
whatever the partitioning. Runs with fewer than ``dedup.shuffle_min_docs`` documents skip the
shuffles (about a minute of fixed cost) and call the very same functions once, in a single Ray
task, over all rows.
"""

from __future__ import annotations

import functools
import math
import shutil
import time
from collections.abc import Callable
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Protocol

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq
import ray.data

from crawlsieve.core.io import write_atomically
from crawlsieve.core.layout import RunLayout
from crawlsieve.core.ledger import unique_id
from crawlsieve.core.stages import REMOVED
from crawlsieve.dedup.cluster_facts import run_facts, write_facts
from crawlsieve.dedup.config import DedupConfig
from crawlsieve.dedup.graph import (
    EDGE_SCHEMA,
    CpuLog,
    bucket_edges,
    connected_components,
    connected_components_in_memory,
    in_one_task,
    per_key,
)
from crawlsieve.dedup.index import (
    BANDS_SCHEMA,
    INDEX_PARQUET,
    bands_file,
    index_files,
    index_root,
    write_metadata,
)
from crawlsieve.dedup.keys import priority_keys, shard_of_paths
from crawlsieve.dedup.minhash import MinHasher
from crawlsieve.dedup.stages import BANDS, SIGNATURE, TEXT_HASH, DedupSignatures, minhasher, verify_threshold
from crawlsieve.dedup.subdoc import deduplicate_units
from crawlsieve.dedup.verify import (
    DECIDED_SCHEMA,
    EXACT,
    INDEX,
    INDEX_KEY_PREFIX,
    NEAR,
    CheckedMembers,
    ClusterDecider,
    ShardReader,
    SignatureLookup,
    VerifiedEdges,
    groups,
    key_shards,
    mark_direct,
    unique_pairs,
)

DECISION_SCHEMA = pa.schema(
    [("id", pa.string()), (REMOVED, pa.string()), ("dup_cluster_size", pa.int64()), ("new_id", pa.string())]
)
#: A rename row of a shard's decisions: the id another file's record already has, and this one's.
RENAME_SCHEMA = pa.schema([("id", pa.string()), ("shard", pa.string()), ("new_id", pa.string())])
CLUSTER_SCHEMA = pa.schema([("cluster_id", pa.string()), ("id", pa.string()), ("kept", pa.bool_())])
#: What the per-shard writer gets: decided rows (size set), renames (size null) and one marker
#: per shard (id null), so that every shard gets its decisions file.
SHARD_ROW_SCHEMA = pa.schema(
    [
        ("shard", pa.string()),
        ("id", pa.string()),
        (REMOVED, pa.string()),
        ("dup_cluster_size", pa.int64()),
        ("new_id", pa.string()),
    ]
)
NODE_HASHES = (TEXT_HASH, BANDS, SIGNATURE)
#: A task's peak memory per byte of the partition it gets: Ray's reduce concatenates the
#: partition's pieces, the partition function's group-bys, joins and sorts copy it, and Arrow's
#: allocator keeps freed buffers for reuse. Measured with benchmarks/dedup_scale.py.
TASK_BYTES_PER_INPUT_BYTE = 8


def _stored_hashes(files: list[Path]) -> bool:
    """Whether every docs file has the phase-A hash columns (else they are computed from ``text``)."""
    return all(set(NODE_HASHES) <= set(pq.read_schema(f).names) for f in files)


def _common_columns(files: list[Path]) -> set[str]:
    return set.intersection(*(set(pq.read_schema(f).names) for f in files))


def _node_columns(files: list[Path], stored: bool) -> list[str]:
    common = _common_columns(files)
    wanted = ["id", "quality_score", "fetch_time", *((TEXT_HASH, BANDS) if stored else ("text", "language"))]
    return [c for c in wanted if c in common]


def _nodes(batch: pa.Table, hasher: MinHasher, near: bool) -> pa.Table:
    """Docs batch (with ``path``) -> ``key, dedup_text_hash, dedup_bands`` (the hashes computed
    from ``text`` when the phase-A columns are absent)."""
    if TEXT_HASH not in batch.column_names:
        batch = DedupSignatures(hasher, near=near)(batch)
    batch = batch.append_column("shard", shard_of_paths(batch["path"]))
    return pa.table({"key": priority_keys(batch), TEXT_HASH: batch[TEXT_HASH], BANDS: batch[BANDS]})


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


class _CandidateSide:
    """Candidate pairs partitioned by ``v``'s shard -> unique pairs with ``v``'s signature."""

    def __init__(self, reader: ShardReader):
        self.lookup = SignatureLookup(reader, "v")

    def __call__(self, pairs: pa.Table) -> pa.Table:
        return self.lookup(unique_pairs(pairs))


def _with_part(batch: pa.Table, side: str) -> pa.Table:
    """Adds (or replaces) ``part``, the shard named by the ``side`` key, to shuffle pairs by."""
    if "part" in batch.column_names:
        batch = batch.drop_columns(["part"])
    return batch.append_column("part", key_shards(batch[side]))


def _as_checked_rows(batch: pa.Table, member: bool) -> pa.Table:
    """Components' ``(root, member)`` rows or verified edges, as rows for ``mark_direct``."""
    same_text = (
        batch["same_text"] if "same_text" in batch.column_names else pa.nulls(batch.num_rows, pa.bool_())
    )
    return pa.table(
        {
            "u": batch["u"],
            "v": batch["v"],
            "same_text": same_text,
            "member": pa.array(np.full(batch.num_rows, member)),
        }
    )


def _verified_members(members: pa.Table) -> pa.Table:
    return members.filter(members["verified"])


def _pending_pairs(members: pa.Table) -> pa.Table:
    return members.filter(pc.invert(members["verified"])).select(["u", "v"])


def _decided_shard_rows(decided: pa.Table) -> pa.Table:
    return pa.table(
        {
            "shard": decided["shard"],
            "id": decided["id"],
            REMOVED: decided[REMOVED],
            "dup_cluster_size": decided["dup_cluster_size"],
            "new_id": pa.nulls(decided.num_rows, pa.string()),
        },
        schema=SHARD_ROW_SCHEMA,
    )


def _rename_shard_rows(renames: pa.Table) -> pa.Table:
    n = renames.num_rows
    return pa.table(
        {
            "shard": renames["shard"],
            "id": renames["id"],
            REMOVED: pa.nulls(n, pa.string()),
            "dup_cluster_size": pa.nulls(n, pa.int64()),
            "new_id": renames["new_id"],
        },
        schema=SHARD_ROW_SCHEMA,
    )


def _shard_markers(files: list[Path]) -> pa.Table:
    n = len(files)
    return pa.table(
        {
            "shard": [f.stem for f in files],
            "id": pa.nulls(n, pa.string()),
            REMOVED: pa.nulls(n, pa.string()),
            "dup_cluster_size": pa.nulls(n, pa.int64()),
            "new_id": pa.nulls(n, pa.string()),
        },
        schema=SHARD_ROW_SCHEMA,
    )


def _id_rows(batch: pa.Table) -> pa.Table:
    """Docs batch (with ``path``) -> ``id, shard, record_offset`` for ``renamed_ids``."""
    offsets = (
        batch["record_offset"]
        if "record_offset" in batch.column_names
        else pa.nulls(batch.num_rows, pa.int64())
    )
    return pa.table({"id": batch["id"], "shard": shard_of_paths(batch["path"]), "record_offset": offsets})


def _lookup(keys: pa.ChunkedArray, table_keys: pa.ChunkedArray, values: pa.ChunkedArray) -> pa.Array:
    """``values`` at the position of each of ``keys`` in the unique ``table_keys`` (null if absent).

    A hash lookup rather than ``Table.join``: Acero's join cannot carry list columns.
    """
    positions = pc.index_in(keys, value_set=_combined(table_keys))
    return _combined(values).take(positions)


def _combined(values: pa.Array | pa.ChunkedArray) -> pa.Array:
    return values.combine_chunks() if isinstance(values, pa.ChunkedArray) else values


def renamed_ids(rows: pa.Table) -> pa.Table:
    """``id, shard, record_offset`` rows -> a rename (``RENAME_SCHEMA``) for each record whose id a
    record of a smaller shard has too: its id becomes ``unique_id(id, shard, record_offset)``.

    Ids are unique within a file (the reader makes them so), so the smallest shard of an id holds
    its one occurrence that keeps the plain id. All rows of an id must be in ``rows``.
    """
    if rows.num_rows == 0:
        return RENAME_SCHEMA.empty_table()
    # Ids repeat rarely: find the repeated ones with NumPy (an Arrow group-by over all ids
    # needs ~7x their bytes), then group only those.
    codes = pc.dictionary_encode(_combined(rows["id"])).indices.to_numpy()
    repeats = np.bincount(codes)[codes] > 1
    if not repeats.any():
        return RENAME_SCHEMA.empty_table()
    rows = rows.filter(pa.array(repeats))
    firsts = rows.group_by("id", use_threads=False).aggregate([("shard", "min")])
    first = _lookup(rows["id"], firsts["id"], firsts["shard_min"])
    later = rows.filter(pc.fill_null(pc.not_equal(rows["shard"], first), False))
    new_ids = [
        unique_id(i, s, o)
        for i, s, o in zip(*(later[c].to_pylist() for c in ("id", "shard", "record_offset")), strict=True)
    ]
    return pa.table({"id": later["id"], "shard": later["shard"], "new_id": new_ids}, schema=RENAME_SCHEMA)


class ShardDecisions:
    """Rows of whole shards (``SHARD_ROW_SCHEMA``) -> each shard's decisions file (every id of the
    shard, sorted: a document no cluster holds is kept with size 1) and, when ``index`` is set,
    the band hashes of its kept documents as the shard's file of the run's dedup index.

    The bands are read here from the shard's own file rather than carried through the shuffles.
    """

    def __init__(self, reader: ShardReader, index: bool):
        self.reader, self.index = reader, index

    def __call__(self, rows: pa.Table) -> pa.Table:
        written = [(shard, self._write(shard, part)) for shard, part in groups(rows, rows["shard"])]
        return pa.table(
            {"shard": [s for s, _ in written], "rows": pa.array([n for _, n in written], pa.int64())}
        )

    def _write(self, shard: str, rows: pa.Table) -> int:
        docs = self.reader.read(shard, [TEXT_HASH, BANDS] if self.index else [])
        has_id = pc.is_valid(rows["id"])
        decided = rows.filter(pc.and_(has_id, pc.is_valid(rows["dup_cluster_size"])))
        renames = rows.filter(pc.and_(has_id, pc.is_null(rows["dup_cluster_size"])))
        removed = _lookup(docs["id"], decided["id"], decided[REMOVED])
        table = pa.table(
            {
                "id": docs["id"],
                REMOVED: removed,
                "dup_cluster_size": pc.fill_null(
                    _lookup(docs["id"], decided["id"], decided["dup_cluster_size"]), 1
                ),
                "new_id": _lookup(docs["id"], renames["id"], renames["new_id"]),
            },
            schema=DECISION_SCHEMA,
        ).sort_by("id")
        layout = self.reader.layout
        write_atomically(table, layout.decisions(shard))
        if self.index:
            kept = docs.filter(pc.is_null(removed)).select(BANDS_SCHEMA.names)
            write_atomically(kept, bands_file(layout.dedup_index, shard), **INDEX_PARQUET)
        return table.num_rows


def _summary_counts(decided: pa.Table) -> pa.Table:
    """Per-block counts of decided rows; ``first`` marks one row per cluster, so blocks may split
    clusters."""
    counts = {
        reason: [pc.sum(pc.equal(decided[REMOVED], reason)).as_py() or 0] for reason in (EXACT, NEAR, INDEX)
    }
    heads = pc.and_(decided["first"], pc.greater(decided["dup_cluster_size"], 1))
    return pa.table({"clusters": [pc.sum(heads).as_py() or 0], **counts})


def _summarize(parts: list[dict], documents: int) -> dict:
    """Per-block counts -> run totals."""
    removed = {reason: sum(p[reason] for p in parts) for reason in (EXACT, NEAR, INDEX)}
    return {
        "documents": documents,
        "kept": documents - sum(removed.values()),
        "removed": {reason: n for reason, n in removed.items() if n},
        "clusters": sum(p["clusters"] for p in parts),
    }


def _reset(path: Path) -> Path:
    if path.is_dir():
        shutil.rmtree(path)
    elif path.exists():
        path.unlink()
    return path


def _clusters(decided: pa.Table) -> pa.Table:
    return decided.filter(pc.greater(decided["dup_cluster_size"], 1)).select(CLUSTER_SCHEMA.names)


def _write_clusters(clustered: pa.Table | ray.data.Dataset, directory: Path) -> None:
    """The clustered rows as a Parquet directory, written by the tasks that hold them (never
    through the driver), beside an empty file that fixes the schema when there are none."""
    write_atomically(CLUSTER_SCHEMA.empty_table(), directory / "schema.parquet")
    if isinstance(clustered, pa.Table):
        write_atomically(clustered.cast(CLUSTER_SCHEMA), directory / "part-0.parquet")
    else:
        clustered.write_parquet(str(directory))


def deduplicate(layout: RunLayout, dedup: DedupConfig, shown: tuple[int, int] = (4, 4)) -> dict:
    """Decide exact, near and index duplicates over all of the run's ``docs`` files (module doc).

    Needs Ray initialized. Returns ``{documents, kept, removed: {reason: n}, clusters, seconds,
    path, ...}`` where ``path`` is ``"single-task"`` or ``"shuffle"``. ``shown``: the largest
    clusters the report shows and the members shown of each (``cluster_facts``).
    """
    started = time.monotonic()
    hasher = minhasher(dedup)
    # Checked (``index.validate_against``) by the run or refilter before their phase A.
    index_roots = [index_root(d) for d in dedup.against] if dedup.enabled else []
    for folder in (layout.decisions_dir, layout.clusters, layout.dedup_index, layout.dedup_cpu):
        _reset(folder)
    for folder in (layout.decisions_dir, bands_file(layout.dedup_index, "any").parent, layout.dedup_cpu):
        folder.mkdir(parents=True)
    _reset(layout.subdoc_decisions_dir)
    _reset(layout.subdoc_units)
    files = layout.docs_files()
    rows = sum(pq.read_metadata(f).num_rows for f in files)
    if rows == 0:
        shutil.rmtree(layout.dedup_cpu)
        if dedup.enabled:
            write_metadata(layout.root, hasher, 0)
        _write_clusters(CLUSTER_SCHEMA.empty_table(), layout.clusters)
        write_facts(layout, run_facts(DECIDED_SCHEMA.empty_table(), *shown))
        return {"documents": 0, "kept": 0, "removed": {}, "clusters": 0, "seconds": 0.0}

    index_paths = [p for root in index_roots for p in index_files(root)]
    if rows < dedup.shuffle_min_docs:
        summary = ray.get(_deduplicate_in_one_task.remote(layout, files, index_paths, dedup, rows, shown))
        summary["path"] = "single-task"
    else:
        summary = _deduplicate_by_shuffles(layout, files, index_paths, dedup, rows, shown)
        summary["path"] = "shuffle"
    if dedup.subdoc.enabled:
        columns = [c for c in ("id", "quality_score", "fetch_time") if c in _common_columns(files)]
        partitions = summary.get("partitions")
        cut = deduplicate_units(layout, dedup.subdoc, files, [*columns, "text"], partitions, index_roots)
        summary.update({f"subdoc_{name}": n for name, n in cut.items()})
        if summary["path"] == "shuffle":  # the unit shuffle's functions log beside the others
            summary["cpu_seconds"] = CpuLog(str(layout.dedup_cpu)).total()
    summary["seconds"] = round(time.monotonic() - started, 3)
    shutil.rmtree(layout.dedup_cpu)
    if not dedup.enabled:  # only the ids were made unique
        shutil.rmtree(layout.dedup_index, ignore_errors=True)
        return summary
    write_metadata(layout.root, hasher, summary["kept"])
    summary.update(bands=hasher.bands, rows=hasher.rows, against=[str(r) for r in index_roots])
    return summary


def _members(dedup: DedupConfig, current: bool) -> _Members:
    return _Members(dedup.enabled and dedup.exact, dedup.enabled and dedup.near, current)


def _deduplicates(dedup: DedupConfig) -> bool:
    return dedup.enabled and (dedup.exact or dedup.near)


def _reader(layout: RunLayout, files: list[Path], dedup: DedupConfig) -> ShardReader:
    return ShardReader(layout, _stored_hashes(files), minhasher(dedup), dedup.near)


@dataclass(frozen=True)
class _Partitions:
    """How many partitions keep one task's share of a shuffle's input under the memory budget:
    one (no shuffle, see ``in_one_task``) when the whole input fits, else at least one per CPU.
    Remembers each step's input bytes (``shuffled``), reported as ``shuffled_bytes``, and its
    partitions (``chosen``: the buckets' are reported as ``partitions``)."""

    budget: int
    fixed: int | None
    minimum: int
    shuffled: dict[str, int] = field(default_factory=dict)
    chosen: dict[str, int] = field(default_factory=dict)

    @classmethod
    def of(cls, dedup: DedupConfig) -> _Partitions:
        cpus = int(ray.cluster_resources().get("CPU", 1))
        budget = int(dedup.max_worker_memory_gb * 2**30)
        return cls(budget, dedup.shuffle_partitions, max(1, cpus))

    def __call__(self, step: str, nbytes: float) -> int:
        self.shuffled[step] = int(nbytes)
        needed = math.ceil(nbytes * TASK_BYTES_PER_INPUT_BYTE / self.budget)
        self.chosen[step] = self.fixed or (1 if needed <= 1 else max(self.minimum, needed))
        return self.chosen[step]


@contextmanager
def _blocks_within(budget: int):
    """Ray Data's blocks and shuffle map tasks sized so that a task's input stays within ``budget``
    (datasets made inside take this context; the caller's is restored after)."""
    context = ray.data.DataContext.get_current().copy()
    share = budget // TASK_BYTES_PER_INPUT_BYTE
    context.target_max_block_size = min(context.target_max_block_size, share // 2)
    context.shuffle_input_batch_bytes = min(context.shuffle_input_batch_bytes, share)
    with ray.data.DataContext.current(context):
        yield


def _key_bytes(files: list[Path]) -> float:
    """Mean bytes of a priority key: 32 hex digits, the id, a NUL and the shard name."""
    ids = pq.read_table(files[0], columns=["id"])["id"]
    id_bytes = pc.mean(pc.binary_length(ids)).as_py() or 0
    return 33 + id_bytes + sum(len(f.stem) for f in files) / len(files)


#: What the dedup plan's steps pass each other: a Ray Dataset (``_Shuffles``) or a table (``_InMemory``).
Data = ray.data.Dataset | pa.Table


class _Steps(Protocol):
    """Where the dedup plan (``_plan``) runs. ``step`` names a shuffle and ``nbytes`` is its input's
    size, from which the shuffle backend picks its partitions; the in-memory one ignores both."""

    def read(self, files: list[Path], columns: list[str]) -> Data:
        """The docs files' ``columns`` with ``path``, the file each row came from."""

    def read_index(self, paths: list[str]) -> Data:
        """Earlier runs' index rows (``BANDS_SCHEMA``)."""

    def table(self, table: pa.Table) -> Data: ...

    def map(self, data: Data, fn: Callable[..., pa.Table], **kwargs) -> Data:
        """``fn`` over the rows, batch by batch (row-wise functions only)."""

    def per_key(
        self, data: Data, key: str, fn: Callable[[pa.Table], pa.Table], step: str, nbytes: float
    ) -> Data:
        """``fn`` over groups of rows holding all rows of each value of ``key``."""

    def by_shard(
        self, data: Data, side: str, fn: Callable[[pa.Table], pa.Table], step: str, nbytes: float
    ) -> Data:
        """``fn`` over pair rows grouped by the shard of their ``side`` key (one read per shard)."""

    def components(self, edges: Data, step: str, nbytes: float, max_rounds: int) -> Data:
        """``connected_components`` of the ``(u, v)`` edges."""

    def union(self, *parts: Data) -> Data: ...

    def done(self, data: Data) -> Data:
        """``data`` computed (a Dataset materialized), for a step read more than once."""

    def rows(self, data: Data) -> int: ...

    def size(self, data: Data) -> int: ...

    def collect(self, data: Data) -> list[dict]: ...

    def report(self) -> dict:
        """What the backend adds to the step's summary (partitions, bytes shuffled, CPU seconds)."""


class _Shuffles:
    """The scalable backend: every step a Ray Data shuffle, or one Ray task where the step's input
    fits one task's memory budget (``_Partitions``)."""

    def __init__(self, partitions: _Partitions, cpu: CpuLog):
        self.partitions, self.cpu = partitions, cpu

    def read(self, files: list[Path], columns: list[str]) -> ray.data.Dataset:
        return ray.data.read_parquet([str(f) for f in files], include_paths=True).select_columns(
            [*columns, "path"]
        )

    def read_index(self, paths: list[str]) -> ray.data.Dataset:
        return ray.data.read_parquet(paths).select_columns(BANDS_SCHEMA.names)

    def table(self, table: pa.Table) -> ray.data.Dataset:
        return ray.data.from_arrow(table)

    def map(self, data: ray.data.Dataset, fn: Callable[..., pa.Table], **kwargs) -> ray.data.Dataset:
        return data.map_batches(self.cpu.timed(functools.partial(fn, **kwargs)), batch_format="pyarrow")

    def per_key(self, data, key, fn, step, nbytes) -> ray.data.Dataset:
        return per_key(data, key, fn, self.partitions(step, nbytes), self.cpu)

    def by_shard(self, data, side, fn, step, nbytes) -> ray.data.Dataset:
        partitions = self.partitions(step, nbytes)
        if partitions == 1:
            return in_one_task(data, fn, self.cpu)
        return per_key(self.map(data, _with_part, side=side), "part", fn, partitions, self.cpu)

    def components(self, edges, step, nbytes, max_rounds) -> ray.data.Dataset:
        pairs = edges.select_columns(["u", "v"])
        return connected_components(pairs, self.partitions(step, nbytes), max_rounds, self.cpu)

    def union(self, *parts: ray.data.Dataset) -> ray.data.Dataset:
        return parts[0].union(*parts[1:])

    def done(self, data: ray.data.Dataset) -> ray.data.Dataset:
        return data.materialize()

    def rows(self, data: ray.data.Dataset) -> int:
        return data.count()

    def size(self, data: ray.data.Dataset) -> int:
        return data.size_bytes()

    def collect(self, data: ray.data.Dataset) -> list[dict]:
        return data.take_all()

    def report(self) -> dict:
        buckets = self.partitions.chosen.get("buckets")
        return {
            **({"partitions": buckets} if buckets else {}),
            "shuffled_bytes": self.partitions.shuffled,
            "cpu_seconds": self.cpu.total(),
        }


class _InMemory:
    """The small-run backend, inside one Ray task: each step one call over all rows."""

    def __init__(self) -> None:
        self.started = time.process_time()

    def read(self, files: list[Path], columns: list[str]) -> pa.Table:
        tables = [_with_path(pq.read_table(f, columns=columns), f) for f in files]
        return pa.concat_tables(tables, promote_options="permissive")

    def read_index(self, paths: list[str]) -> pa.Table:
        return pa.concat_tables([pq.read_table(p, columns=BANDS_SCHEMA.names) for p in paths])

    def table(self, table: pa.Table) -> pa.Table:
        return table

    def map(self, data: pa.Table, fn: Callable[..., pa.Table], **kwargs) -> pa.Table:
        return fn(data, **kwargs)

    def per_key(self, data, key, fn, step, nbytes) -> pa.Table:
        return fn(data)

    def by_shard(self, data, side, fn, step, nbytes) -> pa.Table:
        return fn(data)

    def components(self, edges, step, nbytes, max_rounds) -> pa.Table:
        return connected_components_in_memory(edges.select(["u", "v"]).cast(EDGE_SCHEMA), max_rounds)

    def union(self, *parts: pa.Table) -> pa.Table:
        return pa.concat_tables(parts)

    def done(self, data: pa.Table) -> pa.Table:
        return data

    def rows(self, data: pa.Table) -> int:
        return data.num_rows

    def size(self, data: pa.Table) -> int:
        return data.nbytes

    def collect(self, data: pa.Table) -> list[dict]:
        return data.to_pylist()

    def report(self) -> dict:
        return {"cpu_seconds": time.process_time() - self.started}


def _deduplicate_by_shuffles(
    layout: RunLayout,
    files: list[Path],
    index_paths: list[str],
    dedup: DedupConfig,
    rows: int,
    shown: tuple[int, int],
) -> dict:
    """The scalable path: the plan over Ray Data, its blocks sized for the memory budget."""
    partitions = _Partitions.of(dedup)
    with _blocks_within(partitions.budget):
        steps = _Shuffles(partitions, CpuLog(str(layout.dedup_cpu)))
        return _plan(steps, layout, files, index_paths, dedup, rows, shown)


@ray.remote
def _deduplicate_in_one_task(
    layout: RunLayout,
    files: list[Path],
    index_paths: list[str],
    dedup: DedupConfig,
    rows: int,
    shown: tuple[int, int],
) -> dict:
    """The small-run path: the same plan, each step called once over all rows."""
    return _plan(_InMemory(), layout, files, index_paths, dedup, rows, shown)


def _plan(
    steps: _Steps,
    layout: RunLayout,
    files: list[Path],
    index_paths: list[str],
    dedup: DedupConfig,
    rows: int,
    shown: tuple[int, int],
) -> dict:
    """Decide, then write each shard's decisions (and index bands), the clusters and their facts."""
    reader = _reader(layout, files, dedup)
    stats: dict = {}
    if _deduplicates(dedup):
        decided = _decide(steps, files, index_paths, dedup, reader, stats)
    else:
        decided = steps.table(DECIDED_SCHEMA.empty_table())
    common = _common_columns(files)
    id_rows = steps.map(steps.read(files, [c for c in ("id", "record_offset") if c in common]), _id_rows)
    renames = steps.per_key(id_rows, "id", renamed_ids, "renames", rows * 2 * _key_bytes(files))
    shard_rows = steps.union(
        steps.map(decided, _decided_shard_rows),
        steps.map(renames, _rename_shard_rows),
        steps.table(_shard_markers(files)),
    )
    writer = ShardDecisions(reader, index=dedup.enabled)
    steps.done(steps.per_key(shard_rows, "shard", writer, "shard_decisions", steps.size(decided)))
    _write_clusters(steps.map(decided, _clusters), layout.clusters)
    counted = steps.collect(steps.map(decided, _summary_counts))
    write_facts(layout, run_facts(decided, *shown))
    return {**_summarize(counted, rows), **stats, **steps.report()}


def _decide(
    steps: _Steps,
    files: list[Path],
    index_paths: list[str],
    dedup: DedupConfig,
    reader: ShardReader,
    stats: dict,
) -> Data:
    """Candidate pairs, verified edges, components, checked members -> decided rows (computed)."""
    hasher = minhasher(dedup)
    threshold = verify_threshold(dedup)
    signature_bytes = 4 * hasher.num_perm + 16
    docs = steps.read(files, _node_columns(files, reader.stored))
    members = steps.map(steps.map(docs, _nodes, hasher=hasher, near=dedup.near), _members(dedup, True))
    member_rows = sum(pq.read_metadata(f).num_rows for f in files)
    if index_paths:
        earlier = steps.map(steps.read_index(index_paths), _index_nodes)
        members = steps.union(members, steps.map(earlier, _members(dedup, False)))
        member_rows += sum(pq.read_metadata(p).num_rows for p in index_paths)
    member_bytes = member_rows * (hasher.bands + 1) * (_key_bytes(files) + 13)
    candidates = steps.done(steps.per_key(members, "bucket", bucket_edges, "buckets", member_bytes))
    candidate_bytes = steps.size(candidates) + steps.rows(candidates) * signature_bytes
    with_v = steps.done(
        steps.by_shard(candidates, "v", _CandidateSide(reader), "candidates_v", candidate_bytes)
    )
    verify = VerifiedEdges(reader, hasher.num_perm, threshold)
    edges = steps.done(steps.by_shard(with_v, "u", verify, "candidates_u", steps.size(with_v)))
    stats.update(candidate_pairs=steps.rows(with_v), verified_pairs=steps.rows(edges))

    components = steps.done(
        steps.components(edges, "components_round", 2 * steps.size(edges), dedup.max_rounds)
    )
    checked = steps.done(
        steps.per_key(
            steps.union(
                steps.map(components, _as_checked_rows, member=True),
                steps.map(edges, _as_checked_rows, member=False),
            ),
            "v",
            mark_direct,
            "members",
            steps.size(components) + steps.size(edges),
        )
    )
    pending = steps.done(steps.map(checked, _pending_pairs))
    pending_bytes = steps.size(pending) + steps.rows(pending) * signature_bytes
    judged = steps.by_shard(
        steps.by_shard(pending, "v", SignatureLookup(reader, "v"), "pending_v", steps.size(pending)),
        "u",
        CheckedMembers(reader, hasher.num_perm, threshold),
        "pending_u",
        pending_bytes,
    )
    decided = steps.done(
        steps.per_key(
            steps.union(steps.map(checked, _verified_members), judged),
            "u",
            ClusterDecider(hasher.num_perm, threshold),
            "clusters",
            steps.size(checked) + pending_bytes,
        )
    )
    stats.update(members=steps.rows(checked), members_checked=steps.rows(pending))
    return decided


def _with_path(table: pa.Table, path: Path) -> pa.Table:
    return table.append_column("path", pa.array([str(path)] * table.num_rows, pa.string()))
