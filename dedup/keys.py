"""The survivor rule as sortable keys, shared by document-level and sub-document dedup."""

from __future__ import annotations

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc


def priority_keys(batch: pa.Table) -> pa.Array:
    """Strings whose byte order is the survivor rule: highest ``quality_score`` (absent or NaN
    counts as 0), then the most recent ``fetch_time`` (absent is oldest), then the smallest ``id``,
    then (for two files' records that share an id) the smaller ``shard``. The shard follows a NUL,
    which sorts before every character, so it never reorders documents whose ids differ.
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
    shards = batch["shard"].to_pylist() if "shard" in batch.column_names else [""] * n
    return pa.array(
        [
            f"{q:016x}{t:016x}{i}\x00{s}"
            for q, t, i, s in zip(quality_first.tolist(), newest_first.tolist(), ids, shards, strict=True)
        ],
        type=pa.string(),
    )


def shard_of_paths(paths: pa.ChunkedArray | pa.Array) -> pa.Array:
    """``.../docs/<shard>.parquet`` -> ``<shard>``: the name phase C looks its decisions up by."""
    return pc.replace_substring_regex(paths, r"^(?:.*/)?([^/]*?)(?:\.parquet)?$", r"\1")
