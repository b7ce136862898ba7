"""Readers of a run's output directory, for tests that compare runs."""

from __future__ import annotations

import os
from pathlib import Path

import pyarrow as pa
import pyarrow.dataset as ds
import pyarrow.parquet as pq


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
    for path in sorted((output / "_work" / "ledger").glob("*.parquet")):
        rows += zip(
            *(pq.read_table(path, columns=columns).column(c).to_pylist() for c in columns), strict=True
        )
    return sorted(rows, key=repr)


def clean_env() -> dict[str, str]:
    """This environment without RAY_ADDRESS, so a `crawlsieve run` subprocess starts its own Ray."""
    return {k: v for k, v in os.environ.items() if k != "RAY_ADDRESS"}
