"""Candidate pairs from band buckets and connected components, as Ray Data shuffles.

Every step is "hash-partition the rows by one key, then run a vectorized pyarrow function over
each whole partition" (:func:`per_key`): Ray Data's own ``groupby().map_groups`` does the same
repartition, but then calls Python once per group, which is far too slow for millions of
tiny band buckets; ``pyarrow.Table.group_by`` inside the partition does all groups at once.

Nodes are *priority keys* (see ``dedup.run.priority_keys``): strings whose byte order is the
survivor rule, so "the smallest key of a component" is the document that survives.

Connected components use the alternating Large-Star / Small-Star algorithm (Kiveris et al.,
"Connected Components in MapReduce and Beyond", SoCC 2014): each round is two shuffles of
the edge list only, it converges in O(log² n) rounds, and it ends with every node linked
directly to the smallest node of its component.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import ray.data
import xxhash

EDGE_SCHEMA = pa.schema([("u", pa.string()), ("v", pa.string())])


def per_key(ds: ray.data.Dataset, key: str, fn: Callable[[pa.Table], pa.Table], partitions: int):
    """Apply ``fn`` to hash partitions of ``ds`` by ``key``: all rows of one key meet in one call."""
    return ds.repartition(partitions, keys=[key]).map_batches(
        fn, batch_size=None, batch_format="pyarrow", zero_copy_batch=True
    )


def _smaller(a: pa.Array, b: pa.Array) -> pa.Array:
    return pc.if_else(pc.less_equal(a, b), a, b)


def _unique_edges(edges: pa.Table) -> pa.Table:
    if edges.num_rows == 0:
        return EDGE_SCHEMA.empty_table()
    return edges.group_by(["u", "v"], use_threads=False).aggregate([]).select(["u", "v"]).cast(EDGE_SCHEMA)


def bucket_edges(members: pa.Table) -> pa.Table:
    """Star edges (smallest key of the bucket, other key) of buckets with a current document.

    ``members``: ``bucket`` (uint64), ``key`` (string), ``current`` (bool: of this run, not
    of an earlier run's index). Buckets of earlier-run documents only are ignored.
    """
    if members.num_rows == 0:
        return EDGE_SCHEMA.empty_table()
    groups = members.group_by("bucket", use_threads=False).aggregate(
        [("key", "min"), ("key", "count"), ("current", "max")]
    )
    shared = groups.filter(pc.and_(pc.greater(groups["key_count"], 1), groups["current_max"]))
    if shared.num_rows == 0:
        return EDGE_SCHEMA.empty_table()
    joined = members.select(["bucket", "key"]).join(shared.select(["bucket", "key_min"]), "bucket")
    edges = joined.filter(pc.not_equal(joined["key"], joined["key_min"]))
    return _unique_edges(pa.table({"u": edges["key_min"], "v": edges["key"]}))


def _both_directions(edges: pa.Table) -> pa.Table:
    return pa.concat_tables(
        [
            pa.table({"src": edges["u"], "dst": edges["v"]}),
            pa.table({"src": edges["v"], "dst": edges["u"]}),
        ]
    )


def large_star(directed: pa.Table) -> pa.Table:
    """Link every larger neighbour of a node to the smallest of the node's closed neighbourhood."""
    if directed.num_rows == 0:
        return EDGE_SCHEMA.empty_table()
    directed = directed.group_by(["src", "dst"], use_threads=False).aggregate([])
    smallest = directed.group_by("src", use_threads=False).aggregate([("dst", "min")])
    smallest = smallest.set_column(1, "m", _smaller(smallest["src"], smallest["dst_min"]))
    larger = directed.filter(pc.greater(directed["dst"], directed["src"])).join(smallest, "src")
    return _unique_edges(pa.table({"u": larger["m"], "v": larger["dst"]}))


def small_star(by_larger: pa.Table) -> pa.Table:
    """Link a node and its smaller neighbours to the smallest of them (input grouped by ``v``)."""
    if by_larger.num_rows == 0:
        return EDGE_SCHEMA.empty_table()
    edges = _unique_edges(by_larger)
    smallest = edges.group_by("v", use_threads=False).aggregate([("u", "min")])
    joined = edges.join(smallest, "v")
    others = joined.filter(pc.not_equal(joined["u"], joined["u_min"]))
    return _unique_edges(
        pa.concat_tables(
            [
                pa.table({"u": smallest["u_min"], "v": smallest["v"]}),
                pa.table({"u": others["u_min"], "v": others["u"]}),
            ]
        )
    )


def _fingerprint(edges: pa.Table) -> pa.Table:
    """Count and wrapping sum of edge hashes of a block: equal sums mean an unchanged edge set."""
    hashes = np.fromiter(
        (
            xxhash.xxh3_64_intdigest(f"{u}\x00{v}".encode())
            for u, v in zip(edges["u"].to_pylist(), edges["v"].to_pylist(), strict=True)
        ),
        dtype=np.uint64,
        count=edges.num_rows,
    )
    return pa.table({"n": [edges.num_rows], "h": pa.array([int(hashes.sum(dtype=np.uint64))], pa.uint64())})


def edge_set_fingerprint(edges: ray.data.Dataset) -> tuple[int, int]:
    rows = edges.map_batches(_fingerprint, batch_size=None, batch_format="pyarrow").take_all()
    return sum(r["n"] for r in rows), sum(r["h"] for r in rows) % (1 << 64)


class ComponentsDidNotConverge(RuntimeError):
    """More rounds than ``dedup.max_rounds``: a sign of a bug, never of the data."""


def connected_components_in_memory(edges: pa.Table, max_rounds: int) -> pa.Table:
    """:func:`connected_components` over one in-memory edge table: the same Large-Star and
    Small-Star rounds with a single partition, for runs too small to be worth a shuffle.
    """
    previous = _fingerprint(edges).to_pylist()
    if edges.num_rows == 0:
        return EDGE_SCHEMA.empty_table()
    for _ in range(max_rounds):
        edges = small_star(large_star(_both_directions(edges)))
        current = _fingerprint(edges).to_pylist()
        if current == previous:
            return edges
        previous = current
    raise ComponentsDidNotConverge(f"connected components did not converge in {max_rounds} rounds")


def connected_components(edges: ray.data.Dataset, partitions: int, max_rounds: int) -> ray.data.Dataset:
    """Edges ``(u, v)`` with ``u < v`` -> edges ``(root, node)``: each non-root node once, to its
    component's smallest node. Runs Large-Star + Small-Star rounds until the edge set is stable.
    """
    edges = edges.materialize()
    previous = edge_set_fingerprint(edges)
    if previous[0] == 0:
        return edges
    for _ in range(max_rounds):
        directed = edges.map_batches(_both_directions, batch_size=None, batch_format="pyarrow")
        edges = per_key(directed, "src", large_star, partitions)
        edges = per_key(edges, "v", small_star, partitions).materialize()
        current = edge_set_fingerprint(edges)
        if current == previous:
            return edges
        previous = current
    raise ComponentsDidNotConverge(f"connected components did not converge in {max_rounds} rounds")
