"""What the report shows of the duplicate clusters, computed by the dedup tasks themselves.

Each cluster has one kept row, so every block of decided rows can count its clusters by size
and name its largest ones; a second pass picks the members of the run's largest. The driver
merges one small row per block: its work grows with the number of blocks, never with the number
of clustered documents (hundreds of millions in a dump).

    DIR/_work/dedup/duplicates.json
        {"size_counts": {"2": 812, ...},
         "clusters": [{"cluster_id", "size", "members": [{"id", "kept", "shard"}, ...]}, ...]}

Finalize looks up the listed members of its shard and writes their url and text beside
(``RunLayout.cluster_examples``), so phase D never reads a document file either.
"""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Iterable

import pyarrow as pa
import pyarrow.compute as pc

from crawlsieve.core.io import write_json_atomically
from crawlsieve.core.layout import RunLayout

FACTS_SCHEMA = pa.schema([("facts", pa.string())])


def block_facts(decided: pa.Table, clusters_shown: int) -> pa.Table:
    """One row: this block's cluster size counts and its ``clusters_shown`` largest clusters,
    from the kept rows (one per cluster, wherever the cluster's other members are)."""
    clustered = decided.filter(pc.greater(decided["dup_cluster_size"], 1))
    kept = clustered.filter(clustered["kept"])
    sizes = kept["dup_cluster_size"].to_pylist()
    largest = sorted(
        zip(kept["cluster_id"].to_pylist(), sizes, strict=True), key=lambda item: (-item[1], item[0])
    )[:clusters_shown]
    facts = {"size_counts": Counter(sizes), "largest": largest}
    return pa.table({"facts": [json.dumps(facts)]}, schema=FACTS_SCHEMA)


def block_members(decided: pa.Table, cluster_ids: list[str], members_shown: int) -> pa.Table:
    """The shown clusters' members in this block: the kept one and the smallest ids of each."""
    rows = decided.filter(pc.is_in(decided["cluster_id"], pa.array(cluster_ids, pa.string())))
    rows = rows.select(["cluster_id", "id", "kept", "shard"]).to_pylist()
    return pa.table({"facts": [json.dumps(_first_members(rows, members_shown))]}, schema=FACTS_SCHEMA)


def _first_members(rows: Iterable[dict], members_shown: int) -> dict[str, list[dict]]:
    by_cluster: dict[str, list[dict]] = {}
    for row in sorted(rows, key=lambda m: (not m["kept"], m["id"])):
        members = by_cluster.setdefault(row["cluster_id"], [])
        if len(members) < members_shown:
            members.append({k: row[k] for k in ("id", "kept", "shard")} | {"cluster_id": row["cluster_id"]})
    return by_cluster


def run_facts(decided, clusters_shown: int, members_shown: int) -> dict:
    """The run's facts from a Ray Dataset of decided rows (two cheap passes of per-block facts;
    the driver merges one small row per block) or, on the single-task path, from one table."""
    if isinstance(decided, pa.Table):
        blocks = [block_facts(decided, clusters_shown)["facts"][0].as_py()]
    else:
        blocks = [
            row["facts"]
            for row in decided.map_batches(
                block_facts,
                fn_kwargs={"clusters_shown": clusters_shown},
                batch_size=None,
                batch_format="pyarrow",
            ).take_all()
        ]
    counts: Counter = Counter()
    largest: list = []
    for block in map(json.loads, blocks):
        counts.update({int(k): v for k, v in block["size_counts"].items()})
        largest.extend(block["largest"])
    largest = sorted(largest, key=lambda item: (-item[1], item[0]))[:clusters_shown]
    ids = [cluster_id for cluster_id, _ in largest]
    kwargs = {"cluster_ids": ids, "members_shown": members_shown}
    if not ids:
        parts = []
    elif isinstance(decided, pa.Table):
        parts = [block_members(decided, **kwargs)["facts"][0].as_py()]
    else:
        parts = [
            row["facts"]
            for row in decided.map_batches(
                block_members, fn_kwargs=kwargs, batch_size=None, batch_format="pyarrow"
            ).take_all()
        ]
    rows = [member for part in map(json.loads, parts) for members in part.values() for member in members]
    members = _first_members(rows, members_shown)
    return {
        "size_counts": {str(k): v for k, v in sorted(counts.items())},
        "clusters": [
            {
                "cluster_id": cluster_id,
                "size": size,
                "members": [{k: m[k] for k in ("id", "kept", "shard")} for m in members.get(cluster_id, [])],
            }
            for cluster_id, size in largest
        ],
    }


def write_facts(layout: RunLayout, facts: dict) -> None:
    write_json_atomically(facts, layout.duplicates, sort_keys=False)


def read_facts(layout: RunLayout) -> dict | None:
    path = layout.duplicates
    return json.loads(path.read_text(encoding="utf-8")) if path.is_file() else None


def members_of(facts: dict | None, shard: str) -> set[str]:
    """The ids finalize of ``shard`` looks up for the report."""
    if not facts:
        return set()
    return {m["id"] for c in facts["clusters"] for m in c["members"] if m["shard"] == shard}
