"""Atomic writes: a reader (or a resumed run) never sees half a file.

Each file is written under a hidden temporary name, fsynced, renamed into place, and the rename
made durable by an fsync of the directory, so a machine crash cannot keep a completion marker
yet lose the file renamed before it.
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq


def write_atomically(table: pa.Table, path: Path, **parquet_options) -> None:
    """Write Parquet under a temporary name, fsync, then rename: readers never see half a file."""
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.tmp-{os.getpid()}")
    pq.write_table(table, tmp, **({"compression": "zstd"} | parquet_options))
    with open(tmp, "rb") as handle:
        os.fsync(handle.fileno())
    os.replace(tmp, path)
    _fsync_directory(path.parent)


def _fsync_directory(directory: Path) -> None:
    """Make a rename durable, so a machine crash cannot keep a marker yet lose the file renamed before it.

    Best effort: some network and FUSE file systems refuse fsync on a directory.
    """
    handle = os.open(directory, os.O_RDONLY)
    try:
        os.fsync(handle)
    except OSError:
        pass
    finally:
        os.close(handle)


@contextmanager
def atomic_file(path: Path, mode: str = "wb", **open_options) -> Iterator:
    """A handle on a hidden temporary name that becomes ``path`` (fsynced, renamed, the directory
    fsynced) when the block ends; removed if the block raises."""
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.tmp-{os.getpid()}")
    try:
        with open(tmp, mode, **open_options) as handle:
            yield handle
            handle.flush()
            os.fsync(handle.fileno())
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
    os.replace(tmp, path)
    _fsync_directory(path.parent)


def write_json_atomically(data: dict, path: Path, sort_keys: bool = True) -> None:
    with atomic_file(path, "w", encoding="utf-8") as handle:
        json.dump(data, handle, indent=1, sort_keys=sort_keys, default=str)


def write_bytes_atomically(data: bytes, path: Path) -> None:
    with atomic_file(path) as handle:
        handle.write(data)
