"""Readers of a run's output directory, for tests that compare runs, and a writer of small ones."""

from __future__ import annotations

import os
from pathlib import Path

import pyarrow as pa
import pyarrow.dataset as ds
import pyarrow.parquet as pq

from crawlsieve.core.layout import RunLayout


def data_table(output: Path) -> pa.Table:
    """The kept documents of a run (partition columns included), sorted by id."""
    return ds.dataset(output / "data", format="parquet", partitioning="hive").to_table().sort_by("id")


def data_rows(output: Path) -> list[dict]:
    """The kept documents of a run, sorted by id."""
    if not (output / "data").is_dir():
        return []
    return data_table(output).to_pylist()


def decisions(output: Path) -> list[tuple]:
    """Every record's fate from the ledgers: (id, stage, removed reason, failure kind), sorted."""
    columns = ["id", "stage", "removed", "failed"]
    rows = []
    for path in RunLayout(output).ledger_files():
        rows += zip(
            *(pq.read_table(path, columns=columns).column(c).to_pylist() for c in columns), strict=True
        )
    return sorted(rows, key=repr)


def clean_env() -> dict[str, str]:
    """This environment without RAY_ADDRESS, so a `crawlsieve run` subprocess starts its own Ray."""
    return {k: v for k, v in os.environ.items() if k != "RAY_ADDRESS"}


def small_run(out: Path, spec: list[tuple[str, str, int]]) -> Path:
    """A run-like output dir: per (domain, language, n), n documents of 10 tokens in their own
    shard (files of at most 64 rows), with its mixture.json."""
    from crawlsieve.core.shards import write_shard
    from crawlsieve.pipelines.config import Config, OutputConfig
    from crawlsieve.quality.mixture import build_mixture

    for shard, (domain, language, n) in enumerate(spec):
        table = pa.table(
            {
                "id": [f"{domain}-{language}-{i}" for i in range(n)],
                "text": ["some words"] * n,
                "domain": [domain] * n,
                "language": [language] * n,
                "quality_score": pa.array([0.5] * n, pa.float64()),
                "token_count": pa.array([10] * n, pa.int64()),
            }
        )
        write_shard(table, out / "data", f"s{shard}", OutputConfig(max_rows_per_file=64))
    build_mixture(out, None, Config().model_dump(mode="json"))
    return out
