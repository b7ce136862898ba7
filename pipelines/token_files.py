"""The token files trainers read: Megatron-LM's indexed dataset and OLMo/Dolma's flat memmaps.

Megatron-LM (``megatron/core/datasets/indexed_dataset.py``, ``MMIDIDX``): PREFIX.bin holds the
token ids of every document back to back; PREFIX.idx, all little-endian, is

    b"MMIDIDX\\x00\\x00"       9 bytes
    version                  uint64, 1
    dtype code               uint8 (Megatron's ``DType``: 8 = uint16, 4 = int32)
    sequence count N         uint64
    document count N + 1     uint64 (entries of the document indices)
    sequence lengths         int32[N]    tokens of each document
    sequence pointers        int64[N]    byte offset of each document in .bin
    document indices         int64[N+1]  0, 1, ..., N: every document is one sequence

The token dtype is Megatron's own choice for a vocabulary (``DType.optimal_dtype``): uint16 below
65,500 ids, int32 above. The files are written here rather than with Megatron's
``IndexedDatasetBuilder``, which needs torch and one process writing one stream: each bucket task
of `crawlsieve tokenize` writes its own slice of both files in place (``write_megatron_slice``).

OLMo / Dolma (``dolma tokens``): ``part-NNNNN.npy`` is a flat array of token ids with no header
(despite the name: OLMo's ``MemMapDataset`` opens it with ``numpy.memmap``, uint16 when the
vocabulary fits, else uint32), and ``part-NNNNN.csv.gz`` has one row per document: start, end
(token offsets in the part, end exclusive), id, src, loc (Dolma's ``MemmapMetadata``).
"""

from __future__ import annotations

import csv
import gzip
import io
import os
import struct
from pathlib import Path

import numpy as np

from crawlsieve.core.io import atomic_file

MEGATRON_MAGIC = b"MMIDIDX\x00\x00"
#: Megatron's ``DType`` codes of the two token dtypes it writes.
MEGATRON_DTYPE_CODES = {"uint16": 8, "int32": 4}
#: Bytes before the sequence lengths: magic, version, dtype code, the two counts.
MEGATRON_HEADER_BYTES = 9 + 8 + 1 + 8 + 8
#: Megatron's ``DType.optimal_dtype``: uint16 for a cardinality below this.
MEGATRON_UINT16_BELOW = 65500


def token_dtype(file_format: str, vocab_size: int) -> str:
    """The token dtype each format's readers expect for a vocabulary of ``vocab_size`` ids."""
    if file_format == "megatron":
        return "uint16" if vocab_size < MEGATRON_UINT16_BELOW else "int32"
    return "uint16" if vocab_size <= 1 << 16 else "uint32"


def idx_bytes(documents: int) -> int:
    return MEGATRON_HEADER_BYTES + 4 * documents + 8 * documents + 8 * (documents + 1)


def allocate_megatron(prefix: Path, dtype: str, documents: int, tokens: int) -> None:
    """Create PREFIX.bin and PREFIX.idx at their final sizes, with the .idx header; the bucket tasks
    fill them in. Idempotent: a resumed run keeps what finished buckets wrote."""
    prefix.parent.mkdir(parents=True, exist_ok=True)
    sizes = {".bin": tokens * np.dtype(dtype).itemsize, ".idx": idx_bytes(documents)}
    for suffix, size in sizes.items():
        with open(prefix.with_name(prefix.name + suffix), "ab") as handle:
            handle.truncate(size)
    header = MEGATRON_MAGIC + struct.pack("<QBQQ", 1, MEGATRON_DTYPE_CODES[dtype], documents, documents + 1)
    fd = os.open(prefix.with_name(prefix.name + ".idx"), os.O_WRONLY)
    try:
        os.pwrite(fd, header, 0)
        os.pwrite(fd, np.zeros(1, "<i8").tobytes(), MEGATRON_HEADER_BYTES + 12 * documents)  # index 0
        os.fsync(fd)
    finally:
        os.close(fd)


def write_megatron_slice(
    prefix: Path, dtype: str, documents: int, first: int, first_token: int, tokens: np.ndarray, lengths
) -> None:
    """Write documents ``first``.. (their ``tokens`` back to back, ``lengths`` each) into a dataset of
    ``documents`` documents allocated by ``allocate_megatron``, starting at token ``first_token``."""
    itemsize = np.dtype(dtype).itemsize
    lengths = np.asarray(lengths, dtype=np.int64)
    starts = first_token + np.concatenate([[0], np.cumsum(lengths)[:-1]])
    n = len(lengths)
    writes = {
        ".bin": [(first_token * itemsize, tokens.astype(f"<{np.dtype(dtype).str[1:]}", copy=False))],
        ".idx": [
            (MEGATRON_HEADER_BYTES + 4 * first, lengths.astype("<i4")),
            (MEGATRON_HEADER_BYTES + 4 * documents + 8 * first, (starts * itemsize).astype("<i8")),
            (
                MEGATRON_HEADER_BYTES + 12 * documents + 8 * (first + 1),
                np.arange(first + 1, first + n + 1, dtype="<i8"),
            ),
        ],
    }
    for suffix, parts in writes.items():
        fd = os.open(prefix.with_name(prefix.name + suffix), os.O_WRONLY)
        try:
            for offset, array in parts:
                _pwrite_all(fd, memoryview(np.ascontiguousarray(array)).cast("B"), offset)
            os.fsync(fd)
        finally:
            os.close(fd)


def _pwrite_all(fd: int, data: memoryview, offset: int) -> None:
    while len(data):
        written = os.pwrite(fd, data, offset)
        data, offset = data[written:], offset + written


def write_npy_part(
    path: Path, tokens: np.ndarray, lengths, ids: list, sources: list, locations: list
) -> None:
    """One Dolma/OLMo part: PATH (the flat tokens) and its .csv.gz metadata (start, end, id, src, loc)."""
    with atomic_file(path) as handle:
        np.ascontiguousarray(tokens).tofile(handle)
    ends = np.cumsum(np.asarray(lengths, dtype=np.int64))
    starts = ends - np.asarray(lengths, dtype=np.int64)
    text = io.StringIO()
    writer = csv.writer(text, lineterminator="\n")
    writer.writerows(zip(starts.tolist(), ends.tolist(), ids, sources, locations, strict=True))
    metadata = path.with_suffix(".csv.gz")
    # mtime 0: the same bytes in every run
    with (
        atomic_file(metadata) as handle,
        gzip.GzipFile(fileobj=handle, mode="wb", mtime=0, filename="") as gz,
    ):
        gz.write(text.getvalue().encode("utf-8"))


def megatron_data_args(weights_and_prefixes: list[tuple[float, Path]]) -> str:
    """Megatron's ``--data-path`` list, ``weight prefix`` pairs, for ``--data-args-path``."""
    return "".join(f"{float(weight)!r} {prefix}\n" for weight, prefix in weights_and_prefixes)
