"""Candidate pairs from band buckets and connected components, as Ray Data shuffles.

Every step is "hash-partition the rows by one key, then run a vectorized pyarrow function over
each whole partition" (:func:`per_key`): Ray Data's own ``groupby().map_groups`` does the same
repartition, but then calls Python once per group, which is far too slow for millions of
tiny band buckets; ``pyarrow.Table.group_by`` inside the partition does all groups at once.

Nodes are *priority keys* (see ``dedup.keys.priority_keys``): strings whose byte order is the
survivor rule, so "the smallest key of a component" is the document that survives.

Connected components use the alternating Large-Star / Small-Star algorithm (Kiveris et al.,
"Connected Components in MapReduce and Beyond", SoCC 2014): each round is two shuffles of
the edge list only, it converges in O(log² n) rounds, and it ends with every node linked
directly to the smallest node of its component.
"""

from __future__ import annotations

import functools
import os
import socket
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import ray.data
import xxhash

EDGE_SCHEMA = pa.schema([("u", pa.string()), ("v", pa.string())])


@dataclass(frozen=True)
class CpuLog:
    """CPU seconds of partition functions, appended to one small file per worker process under
    ``directory`` (in the run's work directory, which every node of a cluster reads anyway).

    Why not Ray Data's own account: Ray 2.60 reports (almost) no CPU time for a function fused
    into a shuffle's reduce tasks, which is where most of the dedup's work runs.
    """

    directory: str

    def timed(self, fn: Callable[[pa.Table], pa.Table]) -> _Timed:
        return _Timed(fn, self.directory)

    def total(self) -> float:
        return sum(
            float(line) for path in Path(self.directory).glob("*.cpu") for line in path.read_text().split()
        )


class _Timed:
    def __init__(self, fn: Callable[[pa.Table], pa.Table], directory: str):
        self.fn, self.directory = fn, directory

    def __call__(self, table: pa.Table) -> pa.Table:
        started = time.process_time()
        out = self.fn(table)
        path = Path(self.directory) / f"{socket.gethostname()}-{os.getpid()}.cpu"
        with path.open("a", encoding="utf-8") as log:
            log.write(f"{time.process_time() - started:.6f}\n")
        return out


def per_key(
    ds: ray.data.Dataset, key: str, fn: Callable[[pa.Table], pa.Table], partitions: int, cpu: CpuLog
) -> ray.data.Dataset:
    """Apply ``fn`` to hash partitions of ``ds`` by ``key``: all rows of one key meet in one call.

    With one partition, ``fn`` runs once over all rows in a plain Ray task (:func:`in_one_task`).
    """
    if partitions == 1:
        return in_one_task(ds, fn, cpu)
    return ds.repartition(partitions, keys=[key]).map_batches(
        cpu.timed(fn), batch_size=None, batch_format="pyarrow", zero_copy_batch=True
    )


def in_one_task(ds: ray.data.Dataset, fn: Callable[[pa.Table], pa.Table], cpu: CpuLog) -> ray.data.Dataset:
    """``fn`` over all rows of ``ds`` in one Ray task, for inputs that fit one task's memory.

    Why not a one-partition shuffle: each Ray Data shuffle starts its own pools of map and reduce
    workers, ~5-15 s on a busy node, which for the small steps after the band buckets (a few
    pairs per document) was most of a run's time.
    """
    blocks = [ref for bundle in ds.iter_internal_ref_bundles() for ref in bundle.block_refs]
    return ray.data.from_arrow_refs([_call.remote(cpu.timed(fn), *blocks)])


@ray.remote
def _call(fn: Callable[[pa.Table], pa.Table], *blocks: pa.Table) -> pa.Table:
    return fn(pa.concat_tables(blocks, promote_options="permissive"))


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

    The keys are replaced by their rank among the partition's distinct keys and the rows sorted
    by bucket with NumPy; a bucket's centre is its smallest rank. Grouping and joining the
    string keys with Arrow instead needed ~7x the partition's bytes; this needs about 1x.
    """
    if members.num_rows == 0:
        return EDGE_SCHEMA.empty_table()
    encoded = pc.dictionary_encode(members["key"].combine_chunks())
    by_key = pc.sort_indices(encoded.dictionary).to_numpy()
    rank = np.empty(by_key.size, dtype=np.int64)
    rank[by_key] = np.arange(by_key.size)
    buckets = members["bucket"].combine_chunks().to_numpy()
    order = np.argsort(buckets)
    buckets = buckets[order]
    ranks = rank[encoded.indices.to_numpy()[order]]
    current = members["current"].combine_chunks().to_numpy(zero_copy_only=False)[order]
    first = np.ones(order.size, dtype=bool)
    first[1:] = buckets[1:] != buckets[:-1]
    del order, buckets
    starts = np.flatnonzero(first)
    group = np.cumsum(first) - 1
    shared = (np.diff(np.append(starts, first.size)) > 1) & np.logical_or.reduceat(current, starts)
    centre = np.minimum.reduceat(ranks, starts)[group]
    edge = shared[group] & (ranks != centre)
    pairs = np.unique(centre[edge] * by_key.size + ranks[edge])
    sorted_keys = encoded.dictionary.take(pa.array(by_key))
    return pa.table(
        {
            "u": sorted_keys.take(pa.array(pairs // by_key.size)),
            "v": sorted_keys.take(pa.array(pairs % by_key.size)),
        },
        schema=EDGE_SCHEMA,
    )


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


def edge_set_fingerprint(edges: ray.data.Dataset, cpu: CpuLog) -> tuple[int, int]:
    rows = edges.map_batches(cpu.timed(_fingerprint), batch_size=None, batch_format="pyarrow").take_all()
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


def connected_components(
    edges: ray.data.Dataset, partitions: int, max_rounds: int, cpu: CpuLog
) -> ray.data.Dataset:
    """Edges ``(u, v)`` with ``u < v`` -> edges ``(root, node)``: each non-root node once, to its
    component's smallest node. Runs Large-Star + Small-Star rounds until the edge set is stable.
    """
    if partitions == 1:
        return in_one_task(
            edges, functools.partial(connected_components_in_memory, max_rounds=max_rounds), cpu
        )
    edges = edges.materialize()
    previous = edge_set_fingerprint(edges, cpu)
    if previous[0] == 0:
        return edges
    for _ in range(max_rounds):
        directed = edges.map_batches(_both_directions, batch_size=None, batch_format="pyarrow")
        edges = per_key(directed, "src", large_star, partitions, cpu)
        edges = per_key(edges, "v", small_star, partitions, cpu).materialize()
        current = edge_set_fingerprint(edges, cpu)
        if current == previous:
            return edges
        previous = current
    raise ComponentsDidNotConverge(f"connected components did not converge in {max_rounds} rounds")
