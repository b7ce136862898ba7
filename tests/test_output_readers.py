"""The output reads directly with pyarrow, DuckDB and Hugging Face `datasets` (acceptance 4)."""

from __future__ import annotations

import pyarrow as pa
import pyarrow.dataset as ds

from crawlsieve.core.shards import write_shard
from crawlsieve.pipelines.config import OutputConfig


def _write_two_shards(data_dir) -> list[tuple]:
    rows = []
    for shard, langs in (("s0", ["en", "de", "en"]), ("s1", ["zh", "en"])):
        n = len(langs)
        ids = [f"{shard}-{i}" for i in range(n)]
        domains = ["news", "code", "forum"][:n]
        table = pa.table(
            {
                "id": ids,
                "text": [f"text of {i}" for i in ids],
                "domain": domains,
                "language": langs,
                "token_count": pa.array([3] * n, pa.int64()),
            }
        )
        write_shard(table, data_dir, shard, OutputConfig())
        rows += list(zip(ids, domains, langs, strict=True))
    return sorted(rows)


def test_pyarrow_duckdb_and_datasets_read_the_same_rows_with_domain_and_language(tmp_path):
    import duckdb
    from datasets import load_dataset

    data = tmp_path / "data"
    expected = _write_two_shards(data)

    table = ds.dataset(data, format="parquet", partitioning="hive").to_table()
    by_pyarrow = sorted(
        zip(*(table.column(c).to_pylist() for c in ("id", "domain", "language")), strict=True)
    )
    assert by_pyarrow == expected

    by_duckdb = duckdb.sql(
        f"SELECT id, domain, language FROM read_parquet('{data}/**/*.parquet', hive_partitioning=true)"
    ).fetchall()
    assert sorted(by_duckdb) == expected

    files = sorted(str(p) for p in data.rglob("*.parquet"))
    hf = load_dataset("parquet", data_files=files, split="train", cache_dir=str(tmp_path / "hf-cache"))
    assert sorted(zip(hf["id"], hf["domain"], hf["language"], strict=True)) == expected
    assert hf.features["token_count"].dtype == "int64"
