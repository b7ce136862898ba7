"""Sub-document dedup: lines (or paragraphs) repeated across the run's documents (CCNet, Dolma).

Site navigation, cookie notices and footers survive extraction and document-level dedup, since
every page around them differs. Here each unit of each document left after the document-level
decisions is normalized (lowercase, digits as 0, no punctuation or symbols, one space: CCNet's
``normalize_for_dedup``) and hashed; a unit found in ``min_docs`` or more documents is cut from
every one of them but the survivor, the document with the smallest priority key
(``dedup.keys.priority_keys``, the rule of document-level dedup).

    docs/*.parquet (id, text, quality_score, fetch_time) minus the documents dedup removed
        └─► one row per (document, distinct unit hash) ─ shuffle by hash ─► the members of
            repeated units, each marked survivor or not
    writes  dedup/subdoc/<shard>.parquet   (id, units to cut) for phase C's ``SubdocCut`` stage
            dedup/subdoc_units.json        the counts and the most repeated units, for phase D

Phase C cuts the units (``SubdocCut``, a finalize stage), publishes ``sig_dedup_subdoc_frac``
(the share of the text's characters cut) and removes documents left too short
(``dedup:subdoc_empty``); in tag mode it keeps the text and publishes the share only.
"""

from __future__ import annotations

import functools
import itertools
from collections import Counter
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq
import ray
import ray.data
import xxhash

from crawlsieve.core import units
from crawlsieve.core.io import write_atomically, write_json_atomically
from crawlsieve.core.layout import RunLayout
from crawlsieve.core.stages import REMOVED, Stage, with_decisions
from crawlsieve.dedup.config import SubdocConfig
from crawlsieve.dedup.graph import CpuLog, per_key
from crawlsieve.dedup.index import INDEX_PARQUET, SUBDOC_SCHEMA, subdoc_index_dir
from crawlsieve.dedup.keys import priority_keys, shard_of_paths

#: The finalize stage's column of unit hashes to cut from a document (attached from the decisions).
CUT_UNITS = "dedup_subdoc_cut"
SIGNAL = "sig_dedup_subdoc_frac"
EMPTY = "dedup:subdoc_empty"
#: Key of an earlier run's indexed unit: sorts before every priority key, so that run keeps it.
INDEX_KEY = "!"
UNIT_ROWS = pa.schema(
    [
        ("unit_hash", pa.uint64()),
        ("key", pa.string()),
        ("shard", pa.string()),
        ("id", pa.string()),
        ("weight", pa.int64()),
    ]
)
#: ``documents``: of this run and earlier runs' indexes; ``run_documents``: of this run only;
#: ``first``: the smallest key of this run's documents with the unit (one row per unit).
MEMBER_ROWS = pa.schema(
    [
        *UNIT_ROWS,
        ("documents", pa.int64()),
        ("run_documents", pa.int64()),
        ("survivor", pa.bool_()),
        ("first", pa.bool_()),
    ]
)
CUT_SCHEMA = pa.schema([("id", pa.string()), (CUT_UNITS, pa.list_(pa.uint64()))])
_SEPARATORS = {"line": "\n", "paragraph": "\n\n"}


def split_units(texts: pa.Array | pa.ChunkedArray, unit: str) -> pa.ListArray:
    """Each text as its list of units: lines, or blocks between blank lines."""
    if isinstance(texts, pa.ChunkedArray):
        texts = texts.combine_chunks()
    texts = pc.fill_null(texts, "")
    if unit == "line":
        return pc.split_pattern(texts, "\n")
    return pc.split_pattern_regex(texts, r"\n\s*\n")


def unit_hashes(units: pa.Array, min_chars: int) -> tuple[np.ndarray, np.ndarray]:
    """xxh3-64 of each normalized unit, and whether the unit is long enough to count.

    Each distinct unit of the batch is normalized and hashed once (templates repeat).
    """
    encoded = pc.dictionary_encode(units)
    normalized = pc.utf8_lower(encoded.dictionary)
    normalized = pc.replace_substring_regex(normalized, r"\p{Nd}", "0")
    normalized = pc.replace_substring_regex(normalized, r"[\p{P}\p{S}]+", "")
    normalized = pc.utf8_trim_whitespace(pc.replace_substring_regex(normalized, r"[\s\p{Z}]+", " "))
    long_enough = pc.greater_equal(pc.utf8_length(normalized), min_chars).to_numpy(zero_copy_only=False)
    hashes = np.fromiter(
        (xxhash.xxh3_64_intdigest(t.encode()) for t in normalized.to_pylist()),
        dtype=np.uint64,
        count=len(normalized),
    )
    indices = pc.fill_null(encoded.indices, 0).to_numpy(zero_copy_only=False)
    return hashes[indices], long_enough[indices]


def unit_rows(docs: pa.Table, subdoc: SubdocConfig) -> pa.Table:
    """Documents (``key``, ``shard``, ``id``, ``text``) -> one row per (document, distinct unit)."""
    units = split_units(docs["text"], subdoc.unit)
    hashes, counted = unit_hashes(pc.list_flatten(units), subdoc.min_unit_chars)
    parents = pc.list_parent_indices(units).to_numpy(zero_copy_only=False)[counted]
    pairs = pa.table(
        {"doc": pa.array(parents, pa.int64()), "unit_hash": pa.array(hashes[counted], pa.uint64())}
    )
    pairs = pairs.group_by(["doc", "unit_hash"], use_threads=False).aggregate([])
    doc = pairs["doc"]
    return pa.table(
        {
            "unit_hash": pairs["unit_hash"],
            "key": docs["key"].take(doc),
            "shard": docs["shard"].take(doc),
            "id": docs["id"].take(doc),
            "weight": pa.array(np.ones(pairs.num_rows, dtype=np.int64)),
        },
        schema=UNIT_ROWS,
    )


def index_unit_rows(index: pa.Table) -> pa.Table:
    """An earlier run's unit index -> unit rows that survive there (weight: its documents)."""
    n = index.num_rows
    return pa.table(
        {
            "unit_hash": index["unit_hash"],
            "key": pa.array([INDEX_KEY] * n, pa.string()),
            "shard": pa.nulls(n, pa.string()),
            "id": pa.nulls(n, pa.string()),
            "weight": index["documents"],
        },
        schema=UNIT_ROWS,
    )


class RepeatedUnits:
    """Unit rows (every row of a hash in one call, earlier runs' index rows included) -> this run's
    rows, with the unit's document count and whether this document is the unit's survivor: the
    smallest key, which is an earlier run's when the unit is in its index. A unit in fewer than
    ``min_docs`` documents survives everywhere."""

    def __init__(self, min_docs: int):
        self.min_docs = min_docs

    def __call__(self, rows: pa.Table) -> pa.Table:
        current = rows.filter(pc.is_valid(rows["shard"]))
        if current.num_rows == 0:
            return MEMBER_ROWS.empty_table()
        everyone = rows.group_by("unit_hash", use_threads=False)
        everyone = everyone.aggregate([("key", "min"), ("weight", "sum")])
        ours = current.group_by("unit_hash", use_threads=False).aggregate([("key", "min"), ("key", "count")])
        hashes = current["unit_hash"]
        documents = _lookup(hashes, everyone["unit_hash"], everyone["weight_sum"]).cast(pa.int64())
        smallest = _lookup(hashes, everyone["unit_hash"], everyone["key_min"])
        repeated = pc.greater_equal(documents, self.min_docs)
        return pa.table(
            {
                **{name: current[name] for name in UNIT_ROWS.names},
                "documents": documents,
                "run_documents": _lookup(hashes, ours["unit_hash"], ours["key_count"]).cast(pa.int64()),
                "survivor": pc.or_(pc.invert(repeated), pc.equal(current["key"], smallest)),
                "first": pc.equal(current["key"], _lookup(hashes, ours["unit_hash"], ours["key_min"])),
            },
            schema=MEMBER_ROWS,
        )


def _lookup(keys: pa.ChunkedArray, table_keys: pa.ChunkedArray, values: pa.ChunkedArray) -> pa.Array:
    """``values`` at the position of each of ``keys`` in the unique ``table_keys``."""
    return values.combine_chunks().take(pc.index_in(keys, value_set=table_keys.combine_chunks()))


def index_rows(members: pa.Table) -> pa.Table:
    """This run's units, once each with its document count: the index later runs cut against."""
    first = members.filter(members["first"])
    columns = {"unit_hash": first["unit_hash"], "documents": first["run_documents"]}
    return pa.table(columns, schema=SUBDOC_SCHEMA)


def cut_rows(members: pa.Table) -> pa.Table:
    """Members -> ``shard, id, unit_hash`` of each unit to cut (every member but the survivor)."""
    return members.filter(pc.invert(members["survivor"])).select(["shard", "id", "unit_hash"])


def write_shard_cuts(cuts: pa.Table, layout: RunLayout) -> pa.Table:
    """One shard's cuts -> ``dedup/subdoc/<shard>.parquet``: per document, the hashes to cut."""
    if cuts.num_rows == 0:
        return pa.table({"shard": pa.array([], pa.string()), "documents": pa.array([], pa.int64())})
    shard = cuts["shard"][0].as_py()
    ordered = cuts.sort_by([("id", "ascending"), ("unit_hash", "ascending")])  # whatever the path
    per_doc = ordered.group_by("id", use_threads=False).aggregate([("unit_hash", "list")])
    table = pa.table({"id": per_doc["id"], CUT_UNITS: per_doc["unit_hash_list"]}, schema=CUT_SCHEMA)
    write_atomically(table.sort_by("id"), layout.subdoc_decisions(shard))
    return pa.table({"shard": [shard], "documents": pa.array([table.num_rows], pa.int64())})


def top_members(members: pa.Table, n: int, min_docs: int) -> pa.Table:
    """The ``n`` repeated units in the most documents (ties: smaller hash first), each with the
    first of this run's documents that has it (where its text is read)."""
    repeated = members.filter(pc.and_(members["first"], pc.greater_equal(members["documents"], min_docs)))
    order = repeated.sort_by([("documents", "descending"), ("unit_hash", "ascending")])
    return order.select(["unit_hash", "documents", "shard", "id"]).slice(0, n)


def member_counts(members: pa.Table, min_docs: int) -> pa.Table:
    repeated = members.filter(pc.and_(members["first"], pc.greater_equal(members["documents"], min_docs)))
    cut = members.num_rows - (pc.sum(members["survivor"]).as_py() or 0)
    return pa.table({"units": [repeated.num_rows], "cut": [cut]})


@functools.lru_cache(maxsize=8)
def _removed_ids(path: str, modified_ns: int) -> pa.Array:
    """Ids document-level dedup removed from a shard (``modified_ns`` keys the cache to the file)."""
    table = pq.read_table(path, columns=["id", REMOVED])
    return table.filter(pc.is_valid(table[REMOVED]))["id"].combine_chunks()


def alive_documents(docs: pa.Table, layout: RunLayout) -> pa.Table:
    """``docs`` (with ``shard``) without the documents the document-level decisions removed."""
    removed = []
    for shard in pc.unique(docs["shard"]).to_pylist():
        path = layout.decisions(shard)
        if path.is_file():
            removed.append(_removed_ids(str(path), path.stat().st_mtime_ns))
    if not removed:
        return docs
    gone = pc.is_in(docs["id"], value_set=pa.concat_arrays(removed))
    return docs.filter(pc.invert(gone))


def keyed_documents(batch: pa.Table, layout: RunLayout) -> pa.Table:
    """Docs rows with ``path`` -> the documents dedup kept, with ``shard`` and priority ``key``."""
    batch = alive_documents(batch.append_column("shard", shard_of_paths(batch["path"])), layout)
    return batch.append_column("key", priority_keys(batch))


def _unit_texts(layout: RunLayout, top: list[dict], unit: str) -> list[str]:
    """The survivor's own text of each top unit (read from its shard's docs file)."""
    texts: dict[tuple, str] = {}
    for shard in sorted({row["shard"] for row in top}):
        ids = [row["id"] for row in top if row["shard"] == shard]
        docs = pq.read_table(layout.docs(shard), columns=["id", "text"], filters=[("id", "in", ids)])
        units = split_units(docs["text"], unit)
        flat = pc.list_flatten(units)
        hashes, _ = unit_hashes(flat, 1)
        owners = docs["id"].take(pc.list_parent_indices(units)).to_pylist()
        for owner, unit_hash, text in zip(owners, hashes.tolist(), flat.to_pylist(), strict=True):
            texts.setdefault((shard, owner, unit_hash), text.strip())
    return [texts.get((row["shard"], row["id"], row["unit_hash"]), "") for row in top]


@ray.remote
def write_units_summary(layout: RunLayout, subdoc: SubdocConfig, top: list[dict], counts: dict) -> dict:
    """``dedup/subdoc_units.json``: the counts and the most repeated units with their text."""
    top = sorted(top, key=lambda row: (-row["documents"], row["unit_hash"]))[: subdoc.top_units]
    texts = _unit_texts(layout, top, subdoc.unit)
    summary = {
        "unit": subdoc.unit,
        "mode": subdoc.mode,
        "min_docs": subdoc.min_docs,
        "units_repeated": counts["units"],
        "unit_copies_cut": counts["cut"],
        "top_units": [
            {"text": text[:300], "documents": row["documents"]} for row, text in zip(top, texts, strict=True)
        ],
    }
    write_json_atomically(summary, layout.subdoc_units)
    return summary


@ray.remote
def _units_in_one_task(
    files: list[Path], index_paths: list[str], layout: RunLayout, subdoc: SubdocConfig, columns: list[str]
) -> tuple:
    """The small-run path: the shuffle path's functions, each called once over all rows."""
    docs = pa.concat_tables(
        [keyed_documents(_with_path(pq.read_table(f, columns=columns), f), layout) for f in files]
    )
    earlier = [index_unit_rows(pq.read_table(path, schema=SUBDOC_SCHEMA)) for path in index_paths]
    members = RepeatedUnits(subdoc.min_docs)(pa.concat_tables([unit_rows(docs, subdoc), *earlier]))
    cuts = cut_rows(members)
    for shard in pc.unique(cuts["shard"]).to_pylist():
        write_shard_cuts(cuts.filter(pc.equal(cuts["shard"], shard)), layout)
    index_dir = subdoc_index_dir(layout.dedup_index, subdoc.unit)
    write_atomically(index_rows(members), index_dir / "part-00000.parquet", **INDEX_PARQUET)
    counts = member_counts(members, subdoc.min_docs).to_pylist()[0]
    return top_members(members, subdoc.top_units, subdoc.min_docs).to_pylist(), counts


def _with_path(table: pa.Table, path: Path) -> pa.Table:
    return table.append_column("path", pa.array([str(path)] * table.num_rows, pa.string()))


def _units_of_batch(batch: pa.Table, layout: RunLayout, subdoc: SubdocConfig) -> pa.Table:
    return unit_rows(keyed_documents(batch, layout), subdoc)


def _units_by_shuffles(
    files: list[Path],
    index_paths: list[str],
    layout: RunLayout,
    subdoc: SubdocConfig,
    columns: list[str],
    partitions: int,
) -> tuple:
    units = (
        ray.data.read_parquet([str(f) for f in files], include_paths=True)
        .select_columns([*columns, "path"])
        .map_batches(_units_of_batch, fn_kwargs={"layout": layout, "subdoc": subdoc}, batch_format="pyarrow")
    )
    if index_paths:
        earlier = ray.data.read_parquet(index_paths, schema=SUBDOC_SCHEMA)
        units = units.union(earlier.map_batches(index_unit_rows, batch_format="pyarrow"))
    layout.dedup_cpu.mkdir(parents=True, exist_ok=True)
    cpu = CpuLog(str(layout.dedup_cpu))  # logged beside the dedup step's own functions
    members = per_key(units, "unit_hash", RepeatedUnits(subdoc.min_docs), partitions, cpu).materialize()
    members.map_batches(index_rows, batch_format="pyarrow").write_parquet(
        str(subdoc_index_dir(layout.dedup_index, subdoc.unit)), **INDEX_PARQUET
    )
    members.map_batches(cut_rows, batch_format="pyarrow").groupby("shard").map_groups(
        write_shard_cuts, fn_kwargs={"layout": layout}, batch_format="pyarrow"
    ).materialize()
    top = members.map_batches(
        top_members, fn_args=(subdoc.top_units, subdoc.min_docs), batch_size=None, batch_format="pyarrow"
    ).take_all()
    counted = members.map_batches(
        member_counts, fn_args=(subdoc.min_docs,), batch_size=None, batch_format="pyarrow"
    ).take_all()
    counts = {name: sum(row[name] for row in counted) for name in ("units", "cut")}
    return top, counts


def deduplicate_units(
    layout: RunLayout,
    subdoc: SubdocConfig,
    files: list[Path],
    columns: list[str],
    shuffle_partitions: int | None,
    index_roots: list[Path] = (),
) -> dict:
    """Decide the units to cut over the run's documents (module docstring); returns the counts.

    ``shuffle_partitions`` None takes the single-task path (the caller decides, as for documents).
    ``index_roots``: earlier runs' dedup indexes; their units (of the same ``unit`` kind) survive
    there, so every copy in this run is cut.
    """
    layout.subdoc_decisions_dir.mkdir(parents=True, exist_ok=True)
    index_paths = [
        str(p) for root in index_roots for p in sorted(subdoc_index_dir(root, subdoc.unit).glob("*.parquet"))
    ]
    if shuffle_partitions is None:
        top, counts = ray.get(_units_in_one_task.remote(files, index_paths, layout, subdoc, columns))
    else:
        top, counts = _units_by_shuffles(files, index_paths, layout, subdoc, columns, shuffle_partitions)
    summary = ray.get(write_units_summary.remote(layout, subdoc, top, counts))
    return {"units_repeated": summary["units_repeated"], "unit_copies_cut": summary["unit_copies_cut"]}


def cuts_for(layout: RunLayout, shard: str) -> pa.Table | None:
    path = layout.subdoc_decisions(shard)
    return pq.read_table(path) if path.is_file() else None


def with_cuts(docs: pa.Table, cuts: pa.Table | None) -> pa.Table:
    """Attach ``CUT_UNITS`` (null: nothing to cut) to a shard's documents, by their phase-A id."""
    if cuts is None or cuts.num_rows == 0:
        return docs.append_column(CUT_UNITS, pa.nulls(docs.num_rows, pa.list_(pa.uint64())))
    position = pc.index_in(docs["id"], value_set=cuts["id"].combine_chunks())
    return docs.append_column(CUT_UNITS, cuts[CUT_UNITS].combine_chunks().take(position))


class SubdocCut(Stage):
    """Phase C: cuts each document's repeated units (``CUT_UNITS``) from its text.

    Publishes ``sig_dedup_subdoc_frac``, the share of the text's characters in cut units (0 for
    an untouched document), and removes a document left with fewer than ``min_words_after``
    words (its language's units, ``core.units``: a Chinese clause is not one word) as
    ``dedup:subdoc_empty``. Tag mode keeps every text and decides nothing.
    """

    name = "dedup_subdoc"

    def __init__(self, subdoc: SubdocConfig):
        self.subdoc = subdoc
        self.counters: Counter = Counter()

    def __call__(self, batch: pa.Table) -> pa.Table:
        n = batch.num_rows
        cut = batch[CUT_UNITS] if CUT_UNITS in batch.column_names else pa.nulls(n, pa.list_(pa.uint64()))
        cut = cut.combine_chunks() if isinstance(cut, pa.ChunkedArray) else cut
        batch = batch.drop_columns([c for c in (CUT_UNITS,) if c in batch.column_names])
        has_cuts = pc.fill_null(pc.greater(pc.list_value_length(cut), 0), False)
        touched = np.flatnonzero(has_cuts.to_numpy(zero_copy_only=False))
        frac = np.zeros(n)
        if touched.size == 0:
            return batch.append_column(SIGNAL, pa.array(frac, pa.float64()))
        texts, shares, units_cut = self._cut(batch["text"].combine_chunks().take(touched), cut.take(touched))
        frac[touched] = shares
        verb = "cut" if self.subdoc.mode == "remove" else "tagged"
        self.counters[f"subdoc_units_{verb}"] += int(units_cut.sum())
        self.counters[f"subdoc_documents_{verb}"] += int(touched.size)
        batch = batch.append_column(SIGNAL, pa.array(frac, pa.float64()))
        if self.subdoc.mode == "tag":
            return batch
        removed: list[str | None] = [None] * n
        all_texts = batch["text"].to_pylist()
        languages = batch["language"].to_pylist() if "language" in batch.column_names else [None] * n
        for row, text in zip(touched.tolist(), texts, strict=True):
            all_texts[row] = text
            if len(units.words(text, languages[row])) < self.subdoc.min_words_after:
                removed[row] = EMPTY
        field = batch.schema.field("text")
        batch = batch.set_column(batch.schema.get_field_index("text"), field, pa.array(all_texts, field.type))
        return with_decisions(batch, removed=removed)

    def _cut(self, texts: pa.Array, cuts: pa.Array) -> tuple[list[str], np.ndarray, np.ndarray]:
        """Texts without the units their ``cuts`` hold, the share of characters cut, the units cut."""
        units = split_units(texts, self.subdoc.unit)
        flat = pc.list_flatten(units)
        hashes, counted = unit_hashes(flat, self.subdoc.min_unit_chars)
        owners = pc.list_parent_indices(units).to_numpy(zero_copy_only=False)
        wanted = set(
            zip(
                pc.list_parent_indices(cuts).to_numpy(zero_copy_only=False).tolist(),
                pc.list_flatten(cuts).to_numpy(zero_copy_only=False).tolist(),
                strict=True,
            )
        )
        pairs = zip(owners.tolist(), hashes.tolist(), strict=True)
        gone = np.fromiter((pair in wanted for pair in pairs), dtype=bool, count=len(flat)) & counted
        lengths = pc.utf8_length(flat).to_numpy(zero_copy_only=False)
        cut_chars = np.bincount(owners, weights=lengths * gone, minlength=len(texts))
        total_chars = pc.utf8_length(pc.fill_null(texts, "")).to_numpy(zero_copy_only=False)
        shares = np.divide(cut_chars, total_chars, out=np.zeros(len(texts)), where=total_chars > 0)
        separator, pieces = _SEPARATORS[self.subdoc.unit], flat.to_pylist()
        kept = [
            separator.join(p for p, g in zip(pieces[a:b], gone[a:b], strict=True) if not g)
            for a, b in itertools.pairwise(units.offsets.to_pylist())
        ]
        return kept, shares, np.bincount(owners, weights=gone, minlength=len(texts))


def subdoc_stages(subdoc: SubdocConfig) -> list[Stage]:
    """The finalize stage that applies the cuts, when sub-document dedup is on."""
    return [SubdocCut(subdoc)] if subdoc.enabled else []
