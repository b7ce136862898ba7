"""Writes a shard's kept documents as Hive-partitioned Parquet under DIR/data/.

Layout: ``data/domain=<tag>/language=<code>/part-<shard>-<n>.parquet``. File names depend
only on the input shard, so a re-run of a shard first removes that shard's files and then
writes the same names again: it replaces, never duplicates.

The `domain` and `language` columns stay in the file body, holding exactly the sanitized
partition values, so every reader sees the same rows: pyarrow and DuckDB merge the Hive keys
with identical values, and Hugging Face `datasets` (which reads file bodies only) still gets
both columns. Partition values are sanitized (``partition_value``) so no value coming from a
URL, a model label or a language code can leave data/ or make an odd directory name.

Each file is written under a hidden temporary name (readers skip names starting with '.'),
fsynced, then renamed.
"""

from __future__ import annotations

import re
import unicodedata
from pathlib import Path
from typing import Literal

import pyarrow as pa
import pyarrow.compute as pc
from pydantic import Field

from crawlsieve.core.config import Section
from crawlsieve.core.io import write_atomically


class OutputConfig(Section):
    """The Parquet shards under DIR/data/."""

    compression: Literal["zstd", "snappy", "gzip", "none"] = Field("zstd", description="Parquet codec.")
    compression_level: int = Field(3, ge=1, le=22, description="zstd level.")
    max_rows_per_file: int = Field(
        200_000,
        ge=1,
        le=100_000_000,
        description="A shard's rows of one partition are split into files of at most this.",
    )
    row_group_bytes: int = Field(
        128 * 1024 * 1024,
        ge=1024,
        le=1 << 34,
        description="Target uncompressed size of a Parquet row group.",
    )
    keep_signals: list[str] = Field(
        default_factory=list,
        description="More filter signal columns for output rows (tag-mode filters' signals always go in).",
    )


PARTITION_KEYS = ("domain", "language")
#: The value of a partition key whose sanitized value is empty (BCP 47 "undetermined" for language).
FALLBACK = {"domain": "other", "language": "und"}
MAX_PARTITION_CHARS = 64
_UNSAFE = re.compile(r"[^a-z0-9_-]+")


def partition_value(value: str | None, key: str) -> str:
    """A safe directory value: lowercase ASCII letters, digits, '_' and '-', at most 64 chars.

    Accents are folded (``Français`` -> ``francais``), other characters become '_', and a
    value left empty (``..``, ``/``, NUL, ``日本``) becomes the key's fallback.
    """
    text = unicodedata.normalize("NFKD", value or "").encode("ascii", "ignore").decode("ascii").lower()
    text = _UNSAFE.sub("_", text).strip("_-")[:MAX_PARTITION_CHARS].strip("_-")
    return text or FALLBACK[key]


def sanitized(table: pa.Table) -> pa.Table:
    """``table`` with its partition columns as the files hold them (``partition_value``)."""
    for key in PARTITION_KEYS:
        raw = table.column(key).to_pylist() if key in table.column_names else [None] * table.num_rows
        values = pa.array([partition_value(v, key) for v in raw], pa.string())
        if key in table.column_names:
            table = table.set_column(table.schema.get_field_index(key), key, values)
        else:
            table = table.append_column(key, values)
    return table


def _shard_file_pattern(shard: str) -> re.Pattern:
    return re.compile(rf"part-{re.escape(shard)}-\d+\.parquet")


def data_files(data_dir: Path) -> list[Path]:
    """The published Parquet files (temporary, hidden files excluded), in a stable order."""
    return sorted(p for p in Path(data_dir).rglob("*.parquet") if not p.name.startswith("."))


def shard_of(path: Path) -> str:
    """`part-<shard>-<n>.parquet` -> `<shard>`."""
    return path.stem.removeprefix("part-").rsplit("-", 1)[0]


def shard_files(data_dir: Path) -> dict[str, list[Path]]:
    """shard -> its published Parquet files, shards in order."""
    files: dict[str, list[Path]] = {}
    for path in data_files(data_dir):
        files.setdefault(shard_of(path), []).append(path)
    return dict(sorted(files.items()))


def remove_shard_files(data_dir: Path, shard: str) -> int:
    """Delete the files an earlier run wrote for ``shard`` (and partitions left empty)."""
    pattern = _shard_file_pattern(shard)
    removed = 0
    for path in data_dir.glob("domain=*/language=*/part-*.parquet"):
        if pattern.fullmatch(path.name):
            path.unlink()
            removed += 1
            for directory in (path.parent, path.parent.parent):
                try:
                    directory.rmdir()  # only succeeds when empty
                except OSError:
                    break
    return removed


def rows_per_row_group(table: pa.Table, row_group_bytes: int) -> int:
    """Rows whose uncompressed Arrow size is about ``row_group_bytes``."""
    if table.num_rows == 0:
        return 1
    return max(1, int(row_group_bytes * table.num_rows / max(1, table.nbytes)))


def write_file(table: pa.Table, path: Path, output) -> None:
    """One data file with the configured codec and row groups (atomic)."""
    compression = None if output.compression == "none" else output.compression
    write_atomically(
        table,
        path,
        compression=compression,
        compression_level=output.compression_level if output.compression == "zstd" else None,
        row_group_size=rows_per_row_group(table, output.row_group_bytes),
    )


def write_shard(table: pa.Table, data_dir: Path, shard: str, output) -> list[Path]:
    """Replace ``shard``'s files under ``data_dir`` with ``table``'s rows; returns the paths written.

    Rows keep their order within a partition; each partition's rows are split into files of
    at most ``output.max_rows_per_file`` rows, numbered from 0.
    """
    if not shard or "/" in shard or "\\" in shard or shard in (".", ".."):
        raise ValueError(f"bad shard name {shard!r}")
    data_dir = Path(data_dir)
    remove_shard_files(data_dir, shard)
    if table.num_rows == 0:
        return []
    table = sanitized(table)
    keys = table.select(list(PARTITION_KEYS)).group_by(list(PARTITION_KEYS), use_threads=False)
    groups = sorted(keys.aggregate([]).to_pylist(), key=lambda g: (g["domain"], g["language"]))
    written = []
    for group in groups:
        mask = pc.and_(
            pc.equal(table.column("domain"), group["domain"]),
            pc.equal(table.column("language"), group["language"]),
        )
        part = table.filter(mask)
        directory = data_dir / f"domain={group['domain']}" / f"language={group['language']}"
        for n, start in enumerate(range(0, part.num_rows, output.max_rows_per_file)):
            path = directory / f"part-{shard}-{n}.parquet"
            write_file(part.slice(start, output.max_rows_per_file), path, output)
            written.append(path)
    return written
