"""The persistent dedup index: band hashes of a run's kept documents, for later runs.

Layout under ``DIR/dedup_index/``: ``metadata.json`` (the settings the hashes depend on) and
``bands/*.parquet`` (``BANDS_SCHEMA``), and with sub-document dedup ``subdoc_<unit>/*.parquet``
(``SUBDOC_SCHEMA``). A later run with ``dedup.against: [DIR]`` removes its documents that share a
bucket with an indexed one (``dedup:index``). Hashes are only comparable under identical
normalization, shingling, permutations and banding, so any difference is refused up front; so
is a damaged file, which would otherwise fail the run in its dedup step, after all the
extraction work.
"""

from __future__ import annotations

import json
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq

from crawlsieve.core.errors import ConfigError
from crawlsieve.core.io import write_bytes_atomically
from crawlsieve.dedup.config import DedupConfig
from crawlsieve.dedup.minhash import HASH_SCHEME, MinHasher
from crawlsieve.dedup.stages import BANDS, TEXT_HASH

INDEX_DIR = "dedup_index"
METADATA = "metadata.json"
BANDS_DIR = "bands"
FORMAT_VERSION = 1
#: A band file: the kept documents' ids, text hashes and band hashes, as the dedup step reads them.
BANDS_SCHEMA = pa.schema([("id", pa.string()), (TEXT_HASH, pa.uint64()), (BANDS, pa.list_(pa.uint64()))])
#: A run's units (lines or paragraphs) with the number of its documents holding each.
SUBDOC_SCHEMA = pa.schema([("unit_hash", pa.uint64()), ("documents", pa.int64())])
#: Parquet options of every index file: a CRC per data page, so that the check before a later
#: run finds any changed byte, not only those that break decompression.
INDEX_PARQUET = {"compression": "zstd", "write_page_checksum": True}


def index_metadata(hasher: MinHasher, documents: int) -> dict:
    return {
        "format": FORMAT_VERSION,
        "hash_scheme": HASH_SCHEME,
        "ngram_size": hasher.ngram,
        "num_perm": hasher.num_perm,
        "seed": hasher.seed,
        "bands": hasher.bands,
        "rows": hasher.rows,
        "documents": documents,
    }


def _must_match(hasher: MinHasher) -> dict:
    settings = index_metadata(hasher, 0)
    del settings["documents"]
    return settings


def index_root(directory: str | Path) -> Path:
    """An earlier run's output directory, or its ``dedup_index`` folder itself."""
    path = Path(directory)
    return path if (path / METADATA).exists() or path.name == INDEX_DIR else path / INDEX_DIR


def validate_index(directory: str | Path, hasher: MinHasher, subdoc_unit: str | None = None) -> Path:
    """The index folder of ``directory``, or ConfigError if missing, damaged or incompatible.

    Reads every file of the index once, in full (the dedup step reads it all anyway): its
    columns' types and every data page, checksums verified where written. ``subdoc_unit``: the
    unit kind of this run's sub-document dedup, whose unit index is read too.
    """
    root = index_root(directory)
    meta_path = root / METADATA
    if not meta_path.is_file():
        raise ConfigError(f"dedup.against: no dedup index at {root} (missing {METADATA})")
    try:
        meta = json.loads(meta_path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as error:
        raise ConfigError(f"dedup.against: corrupt index metadata {meta_path}: {error}") from None
    if not isinstance(meta, dict):
        raise ConfigError(f"dedup.against: corrupt index metadata {meta_path}: not a JSON object")
    for key, wanted in _must_match(hasher).items():
        if meta.get(key) != wanted:
            raise ConfigError(
                f"dedup.against: index {root} is incompatible: "
                f"{key}={meta.get(key)!r}, this run uses {wanted!r}"
            )
    documents = meta.get("documents")
    if type(documents) is not int or documents < 0:
        raise ConfigError(f"dedup.against: corrupt index metadata {meta_path}: documents={documents!r}")
    files = sorted((root / BANDS_DIR).glob("*.parquet"))
    rows = sum(_check_files(files, BANDS_SCHEMA))
    if rows != documents:
        raise ConfigError(
            f"dedup.against: index {root} is incomplete: {meta_path} counts {documents} documents, "
            f"its {len(files)} band file(s) under {BANDS_DIR}/ hold {rows}"
        )
    if subdoc_unit is not None:
        _check_files(sorted(subdoc_index_dir(root, subdoc_unit).glob("*.parquet")), SUBDOC_SCHEMA)
    return root


def _check_files(paths: list[Path], schema: pa.Schema) -> list[int]:
    """The rows of each file, after ``_check_file``; files in parallel (pyarrow decodes without
    the GIL), the first damaged one in ``paths``' order reported."""
    with ThreadPoolExecutor(max(1, min(pa.cpu_count(), len(paths)))) as pool:
        futures = [pool.submit(_check_file, path, schema) for path in paths]
        try:
            return [future.result() for future in futures]
        finally:
            for future in futures:
                future.cancel()


def _check_file(path: Path, schema: pa.Schema) -> int:
    """Refuses a file whose columns are not ``schema``'s types or whose pages do not decode (or
    fail their checksum); returns its rows."""
    try:
        with pq.ParquetFile(path, page_checksum_verification=True) as parquet:
            _check_types(path, parquet.schema_arrow, schema)
            for _ in parquet.iter_batches(batch_size=1 << 16, columns=schema.names, use_threads=False):
                pass
            return parquet.metadata.num_rows
    except ConfigError:
        raise
    except Exception as error:  # pyarrow raises several kinds for a damaged file
        message = " ".join(str(error).split())
        raise ConfigError(f"dedup.against: damaged index file {path}: {message}") from None


def _check_types(path: Path, found: pa.Schema, wanted: pa.Schema) -> None:
    """The dedup step combines index rows with the run's own: other types fail it there."""
    wrong = [
        f"{field.name}: {found.field(field.name).type if field.name in found.names else 'missing'}"
        for field in wanted
        if field.name not in found.names or not found.field(field.name).type.equals(field.type)
    ]
    if wrong:
        expected = ", ".join(f"{field.name}: {field.type}" for field in wanted)
        raise ConfigError(f"dedup.against: index file {path} has {', '.join(wrong)}; wanted {expected}")


def validate_against(dedup: DedupConfig) -> list[Path]:
    """Check every ``dedup.against`` index before any work starts; returns their folders."""
    from crawlsieve.dedup.stages import minhasher

    hasher = minhasher(dedup)
    unit = dedup.subdoc.unit if dedup.subdoc.enabled else None
    return [validate_index(directory, hasher, unit) for directory in dedup.against]


def bands_file(root: Path, shard: str) -> Path:
    """The index's band file of one docs shard (``root``: the run's ``dedup_index``)."""
    return Path(root) / BANDS_DIR / f"{shard}.parquet"


def subdoc_index_dir(root: Path, unit: str) -> Path:
    """The units (lines or paragraphs) of an index's run, with their document counts."""
    return Path(root) / f"subdoc_{unit}"


def index_files(root: Path) -> list[str]:
    return [str(p) for p in sorted((root / BANDS_DIR).glob("*.parquet"))]


def write_metadata(output_dir: Path, hasher: MinHasher, documents: int) -> None:
    text = json.dumps(index_metadata(hasher, documents), indent=2) + "\n"
    write_bytes_atomically(text.encode("utf-8"), Path(output_dir) / INDEX_DIR / METADATA)
