"""Atomic writes: a reader (or a resumed run) never sees half a file; and the readers of a run's
files that a later command (report, review, mix, refilter, --resume) finds damaged.

Every file crawlsieve writes whole goes through ``durable`` (the Parquet, JSON and bytes writers
below are its common cases): written under a hidden temporary name, fsynced, renamed into place,
and the rename made durable by an fsync of the directory, so a machine crash cannot keep a
completion marker yet lose the file renamed before it. A write that fails (a full disk) leaves
no temporary file.
A file damaged afterwards (a disk, a copy cut short, an edit by hand) is bad input to the command
that reads it: one line naming it, exit status 2.
"""

from __future__ import annotations

import contextlib
import json
import os
from collections.abc import Iterator
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq

from crawlsieve.core.errors import UsageError


@contextlib.contextmanager
def durable(path: Path) -> Iterator[Path]:
    """The one way a file of ours is written: the block writes a temporary name beside ``path``
    (yielded), which is then fsynced, renamed over ``path`` and the rename made durable; when the
    block fails, the temporary file is removed and ``path`` keeps what it held."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.tmp-{os.getpid()}")
    try:
        yield tmp
        with open(tmp, "rb") as handle:
            os.fsync(handle.fileno())
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
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


@contextlib.contextmanager
def atomic_file(path: Path, mode: str = "wb", **open_options) -> Iterator:
    """An open handle on ``durable``'s temporary file, for writers that stream (token files,
    gzip)."""
    with durable(path) as tmp, open(tmp, mode, **open_options) as handle:
        yield handle


def write_atomically(table: pa.Table, path: Path, **parquet_options) -> None:
    """Parquet (zstd unless ``parquet_options`` say otherwise), written ``durable``."""
    with durable(path) as tmp:
        pq.write_table(table, tmp, **({"compression": "zstd"} | parquet_options))


def write_json_atomically(data: dict, path: Path, sort_keys: bool = True) -> None:
    with atomic_file(path, "w", encoding="utf-8") as handle:
        json.dump(data, handle, indent=1, sort_keys=sort_keys, default=str)


def write_bytes_atomically(data: bytes, path: Path) -> None:
    with durable(path) as tmp:
        tmp.write_bytes(data)


def read_json(path: Path) -> dict:
    """A JSON object a run wrote; ``UsageError`` naming the file when it cannot be read or is not
    one (truncated, edited, overwritten)."""
    try:
        value = json.loads(Path(path).read_bytes())
    except OSError as error:
        raise UsageError(f"cannot read {path}: {error.strerror or error}") from None
    except ValueError as error:  # not JSON, or not UTF-8
        raise UsageError(f"{path} is damaged: not valid JSON ({error})") from None
    if not isinstance(value, dict):
        raise UsageError(f"{path} is damaged: a JSON {type(value).__name__}, not an object")
    return value


def read_parquet(path: Path, **options) -> pa.Table:
    """A Parquet file a run wrote (``options`` go to ``pq.read_table``); ``UsageError`` naming the
    file when it cannot be read."""
    try:
        return pq.read_table(path, **options)
    except (OSError, pa.ArrowException) as error:  # pyarrow raises several kinds for damage
        raise _damaged_parquet(path, error) from None


def read_parquet_schema(path: Path) -> pa.Schema:
    """The schema of a Parquet file a run wrote; ``UsageError`` naming the file as ``read_parquet``."""
    try:
        return pq.read_schema(path)
    except (OSError, pa.ArrowException) as error:
        raise _damaged_parquet(path, error) from None


def _damaged_parquet(path: Path, error: Exception) -> UsageError:
    first = str(error).strip().splitlines()[0] if str(error).strip() else type(error).__name__
    return UsageError(f"cannot read Parquet file {path} (damaged?): {first}")
