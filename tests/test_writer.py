"""The shard writer: Hive layout, sanitized partitions, deterministic names, replace on re-run."""

from __future__ import annotations

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from crawlsieve.core.shards import partition_value, write_shard
from crawlsieve.pipelines.config import OutputConfig


def docs(domains: list, languages: list) -> pa.Table:
    n = len(domains)
    return pa.table(
        {
            "id": [f"doc-{i}" for i in range(n)],
            "text": [f"text number {i} " * 20 for i in range(n)],
            "domain": pa.array(domains, pa.string()),
            "language": pa.array(languages, pa.string()),
            "token_count": pa.array(range(n), pa.int64()),
        }
    )


@pytest.mark.parametrize(
    ("value", "key", "safe"),
    [
        ("news", "domain", "news"),
        ("../../etc", "domain", "etc"),
        ("..", "domain", "other"),
        ("/", "language", "und"),
        ("a/b\\c", "domain", "a_b_c"),
        ("en\x00../x", "language", "en_x"),
        ("", "language", "und"),
        (None, "domain", "other"),
        ("Français", "language", "francais"),
        ("日本語", "language", "und"),
        ("zh-Hant", "language", "zh-hant"),
        ("x" * 500, "domain", "x" * 64),
    ],
)
def test_partition_values_are_sanitized(value, key, safe):
    assert partition_value(value, key) == safe


def test_crafted_partition_values_cannot_write_outside_data_dir(tmp_path):
    data = tmp_path / "data"
    crafted = ["../../escape", "/abs", "\x00", "", "a" * 300, "日本", "..", "news"]
    written = write_shard(docs(crafted, crafted), data, "s0", OutputConfig())
    assert written
    for path in written:
        assert path.resolve().is_relative_to(data.resolve())
        domain_dir, language_dir = path.parent.parent.name, path.parent.name
        assert domain_dir.startswith("domain=") and language_dir.startswith("language=")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["data"]
    body = pa.concat_tables(pq.read_table(p) for p in written)
    assert body.num_rows == len(crafted)


def test_layout_is_hive_partitioned_zstd_and_keeps_partition_values_in_the_body(tmp_path):
    table = docs(["news", "code", "news"], ["en", "en", "de"])
    written = write_shard(table, tmp_path, "warc-a", OutputConfig())
    assert sorted(str(p.relative_to(tmp_path)) for p in written) == [
        "domain=code/language=en/part-warc-a-0.parquet",
        "domain=news/language=de/part-warc-a-0.parquet",
        "domain=news/language=en/part-warc-a-0.parquet",
    ]
    meta = pq.ParquetFile(tmp_path / "domain=news/language=en/part-warc-a-0.parquet").metadata
    assert meta.row_group(0).column(0).compression == "ZSTD"
    body = pq.read_table(tmp_path / "domain=news/language=de/part-warc-a-0.parquet")
    assert body.column("domain").to_pylist() == ["news"] and body.column("language").to_pylist() == ["de"]
    assert not list(tmp_path.rglob(".*")), "no temporary files left behind"


def test_rerun_replaces_the_shard_files_and_leaves_other_shards_alone(tmp_path):
    write_shard(docs(["news"] * 5, ["en"] * 5), tmp_path, "a", OutputConfig(max_rows_per_file=2))
    write_shard(docs(["code"], ["en"]), tmp_path, "a-1", OutputConfig())  # a prefix-sharing shard
    assert len(list(tmp_path.rglob("part-a-*.parquet"))) == 4  # 3 of "a" + 1 of "a-1"
    again = write_shard(docs(["reference"], ["fr"]), tmp_path, "a", OutputConfig())
    names = sorted(str(p.relative_to(tmp_path)) for p in tmp_path.rglob("*.parquet"))
    assert names == [
        "domain=code/language=en/part-a-1-0.parquet",
        "domain=reference/language=fr/part-a-0.parquet",
    ]
    assert again == [tmp_path / "domain=reference/language=fr/part-a-0.parquet"]
    assert not (tmp_path / "domain=news").exists(), "partitions left empty are removed"
    assert write_shard(docs([], []), tmp_path, "a", OutputConfig()) == []
    assert [p.name for p in tmp_path.rglob("*.parquet")] == ["part-a-1-0.parquet"]


def test_files_hold_at_most_max_rows_and_row_groups_follow_the_byte_target(tmp_path):
    table = docs(["news"] * 1000, ["en"] * 1000)
    output = OutputConfig(max_rows_per_file=300, row_group_bytes=1024 * 16)
    written = write_shard(table, tmp_path, "big", output)
    assert [p.name for p in written] == [f"part-big-{n}.parquet" for n in range(4)]
    files = [pq.ParquetFile(p) for p in written]
    assert [f.metadata.num_rows for f in files] == [300, 300, 300, 100]
    row_bytes = table.nbytes / table.num_rows
    group_rows = files[0].metadata.row_group(0).num_rows
    assert files[0].metadata.num_row_groups > 1
    assert abs(group_rows * row_bytes - 16 * 1024) <= row_bytes
    order = pa.concat_tables(pq.read_table(p) for p in written).column("id").to_pylist()
    assert order == table.column("id").to_pylist(), "rows keep their order"


@pytest.mark.parametrize("shard", ["", "a/b", "..", "x\\y"])
def test_bad_shard_names_are_refused(tmp_path, shard):
    with pytest.raises(ValueError):
        write_shard(docs(["news"], ["en"]), tmp_path, shard, OutputConfig())
