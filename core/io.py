"""Atomic writes: a reader (or a resumed run) never sees half a file.

Each file is written under a hidden temporary name, fsynced, renamed into place, and the rename
made durable by an fsync of the directory, so a machine crash cannot keep a completion marker
yet lose the file renamed before it. A write that fails (a full disk) leaves no temporary file.
"""

from __future__ import annotations

import contextlib
import json
import os
from collections.abc import Iterator
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq


@contextlib.contextmanager
def _replacing(path: Path) -> Iterator[Path]:
    """A temporary name beside ``path`` for the block to write and fsync; renamed over ``path``
    when the block succeeds, removed when it fails."""
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.tmp-{os.getpid()}")
    try:
        yield tmp
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
    os.replace(tmp, path)
    _fsync_directory(path.parent)


def write_atomically(table: pa.Table, path: Path, **parquet_options) -> None:
    """Write Parquet under a temporary name, fsync, then rename: readers never see half a file."""
    with _replacing(path) as tmp:
        pq.write_table(table, tmp, **({"compression": "zstd"} | parquet_options))
        with open(tmp, "rb") as handle:
            os.fsync(handle.fileno())


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


def write_json_atomically(data: dict, path: Path, sort_keys: bool = True) -> None:
    with _replacing(path) as tmp, open(tmp, "w", encoding="utf-8") as handle:
        json.dump(data, handle, indent=1, sort_keys=sort_keys, default=str)
        handle.flush()
        os.fsync(handle.fileno())


def write_bytes_atomically(data: bytes, path: Path) -> None:
    with _replacing(path) as tmp, open(tmp, "wb") as handle:
        handle.write(data)
        handle.flush()
        os.fsync(handle.fileno())
