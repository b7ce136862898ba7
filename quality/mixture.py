"""mixture.json: what the dataset holds per (domain, language, genre), the input of every mixture decision.

Per group: documents, tokens, bytes (UTF-8 bytes of text), mean quality score and weight (the
group's share of all tokens). Totals are the sums of the groups, so the file adds up to the
Parquet row count and token sum exactly. It records whether tokens were counted with a real
tokenizer or estimated, and the code version and config that produced the data.

Only the needed columns are read, batch by batch (the text column's byte lengths are taken
per batch and the text dropped), so memory stays bounded by one batch, not the dataset.
"""

from __future__ import annotations

import json
from pathlib import Path

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.dataset as ds

from crawlsieve import __version__
from crawlsieve.core.io import write_bytes_atomically
from crawlsieve.core.layout import RunLayout
from crawlsieve.core.shards import data_files

#: What a mixture group is: the columns of the kept documents the mixture is split by.
GROUP_KEYS = ("domain", "language", "genre")
#: The value of a column a document lacks (data from before the column existed, a record decided
#: before it was known): in mixture groups and the funnel's breakdowns (``quality.summaries``).
NO_VALUE = "(none)"
_SUMS = ("documents", "tokens", "bytes", "quality_sum", "quality_count")


def group_key(group: dict) -> tuple[str, ...]:
    """A mixture.json group's key (``GROUP_KEYS``); a key it lacks is ``NO_VALUE``."""
    return tuple(str(group.get(key) or NO_VALUE) for key in GROUP_KEYS)


def group_values(group: dict) -> dict[str, str]:
    """A mixture.json group's ``GROUP_KEYS`` values by key (``NO_VALUE`` for one it lacks)."""
    return dict(zip(GROUP_KEYS, group_key(group), strict=True))


def key_columns(table: pa.Table | pa.RecordBatch) -> dict[str, pa.Array]:
    """The ``GROUP_KEYS`` columns of kept documents, ``NO_VALUE`` where one is missing or null."""
    columns = {}
    for key in GROUP_KEYS:
        if key in table.schema.names:
            columns[key] = pc.fill_null(table.column(key), NO_VALUE)
        else:
            columns[key] = pa.array([NO_VALUE] * table.num_rows, pa.string())
    return columns


def _batch_sums(batch: pa.RecordBatch) -> pa.Table:
    names = batch.schema.names
    quality = batch.column("quality_score") if "quality_score" in names else pa.nulls(batch.num_rows)
    table = pa.table(
        {
            **key_columns(batch),
            "tokens": pc.fill_null(batch.column("token_count"), 0).cast(pa.int64()),
            "bytes": pc.fill_null(pc.binary_length(batch.column("text")), 0).cast(pa.int64()),
            "quality": pc.cast(quality, pa.float64()),
        }
    )
    return table.group_by(list(GROUP_KEYS), use_threads=False).aggregate(
        [
            ([], "count_all"),
            ("tokens", "sum"),
            ("bytes", "sum"),
            ("quality", "sum"),
            ("quality", "count"),
        ]
    )


def group_sums(data_dir: Path) -> dict[tuple[str, ...], dict[str, float]]:
    """(domain, language, genre) -> documents, tokens, bytes, quality_sum, quality_count."""
    files = data_files(data_dir)
    sums: dict[tuple[str, str], dict[str, float]] = {}
    if not files:
        return sums
    dataset = ds.dataset(files, format="parquet")
    columns = [c for c in (*GROUP_KEYS, "token_count", "text", "quality_score") if c in dataset.schema.names]
    for batch in dataset.to_batches(columns=columns):
        if batch.num_rows == 0:
            continue
        for row in _batch_sums(batch).to_pylist():
            key = tuple(row[k] for k in GROUP_KEYS)
            into = sums.setdefault(key, dict.fromkeys(_SUMS, 0))
            into["documents"] += row["count_all"]
            into["tokens"] += row["tokens_sum"] or 0
            into["bytes"] += row["bytes_sum"] or 0
            into["quality_sum"] += row["quality_sum"] or 0.0
            into["quality_count"] += row["quality_count"] or 0
    return sums


def mixture_groups(sums: dict[tuple[str, ...], dict[str, float]]) -> list[dict]:
    total_tokens = sum(s["tokens"] for s in sums.values())
    groups = []
    for key, s in sorted(sums.items()):
        mean = s["quality_sum"] / s["quality_count"] if s["quality_count"] else None
        groups.append(
            {
                **dict(zip(GROUP_KEYS, key, strict=True)),
                "documents": int(s["documents"]),
                "tokens": int(s["tokens"]),
                "bytes": int(s["bytes"]),
                "mean_quality": round(mean, 6) if mean is not None else None,
                "weight": round(s["tokens"] / total_tokens, 8) if total_tokens else 0.0,
            }
        )
    return groups


def build_mixture(
    output_dir: Path, tokenizer_path: str | None, config: dict, run=None, review_k: int = 20, buckets=None
) -> dict:
    """Compute DIR/mixture.json and write it (atomically); returns it.

    A run's mixture is the merge of its per-file summaries (``run``, or read from DIR/_work); a
    directory without them (``mix --materialize`` output) is summed from its Parquet files.
    ``tokenizer_path`` is what counted the tokens (none: estimated); ``config`` is recorded.
    """
    from crawlsieve.quality.summaries import merge_run, summary_paths

    output_dir = Path(output_dir)
    if run is None and summary_paths(output_dir):
        run = merge_run(output_dir, review_k)
    if run is not None:
        keys = ("documents", "tokens", "bytes", "quality_sum", "quality_count")
        sums = {group: dict(zip(keys, values, strict=True)) for group, values in run.groups.items()}
    else:
        sums = group_sums(RunLayout(output_dir).data)
    return write_mixture(output_dir, sums, tokenizer_path, config, buckets)


def write_mixture(
    output_dir: Path,
    sums: dict[tuple[str, str], dict[str, float]],
    tokenizer_path: str | None,
    config: dict,
    buckets: dict | None = None,
) -> dict:
    """Write DIR/mixture.json (atomically) from per-group sums (``group_sums``' keys); returns it.
    ``buckets``: group key -> quality_bucket -> [documents, tokens], for each group.

    Also the writer of `crawlsieve tokenize`'s mixture.json, whose sums are exact token counts."""
    groups = mixture_groups(sums)
    for group in groups if buckets else ():
        per_bucket = buckets.get(group_key(group)) or {}
        group["quality_buckets"] = {str(b): per_bucket[b] for b in sorted(per_bucket)}
    tokenizer = tokenizer_path
    mixture = {
        "version": __version__,
        "tokens_estimated": not tokenizer,
        "tokenizer": tokenizer or "estimate: crawlsieve.tagging.tokens.ESTIMATE_PATTERN",
        "groups": groups,
        "totals": {
            "documents": sum(g["documents"] for g in groups),
            "tokens": sum(g["tokens"] for g in groups),
            "bytes": sum(g["bytes"] for g in groups),
            "groups": len(groups),
            "domains": sorted({g["domain"] for g in groups}),
            "languages": sorted({g["language"] for g in groups}),
            "genres": sorted({g["genre"] for g in groups}),
        },
        "config": config,
    }
    text = json.dumps(mixture, indent=1, ensure_ascii=False) + "\n"
    write_bytes_atomically(text.encode("utf-8"), RunLayout(output_dir).mixture)
    return mixture
