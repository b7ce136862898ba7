"""Writes a shard's kept documents as Hive-partitioned Parquet (placeholder until issue 5)."""

from __future__ import annotations

from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq


def write_shard(table: pa.Table, data_dir: Path, shard: str, output) -> list[Path]:
    for old in data_dir.glob(f"*/*/part-{shard}-*.parquet"):
        old.unlink()
    written = []
    if table.num_rows == 0:
        return written
    for (domain, language), part in _groups(table):
        path = data_dir / f"domain={domain}" / f"language={language}" / f"part-{shard}-0.parquet"
        path.parent.mkdir(parents=True, exist_ok=True)
        pq.write_table(part.drop_columns(["domain", "language"]), path, compression="zstd")
        written.append(path)
    return written


def _groups(table):
    domains = (
        table.column("domain").to_pylist() if "domain" in table.column_names else ["other"] * table.num_rows
    )
    if "domain" not in table.column_names:
        table = table.append_column("domain", pa.array(domains))
    keys = sorted(set(zip(domains, table.column("language").to_pylist())))
    import pyarrow.compute as pc

    for d, lang in keys:
        mask = pc.and_(pc.equal(table.column("domain"), d), pc.equal(table.column("language"), lang))
        yield (d, lang), table.filter(mask)
