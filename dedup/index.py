"""The persistent dedup index: band hashes of a run's kept documents, for later runs.

Layout under ``DIR/dedup_index/``: ``metadata.json`` (the settings the hashes depend on) and
``bands/*.parquet`` with ``id`` (string), ``dedup_text_hash`` (uint64) and ``dedup_bands``
(list<uint64>). A later run with ``dedup.against: [DIR]`` removes its documents that share a
bucket with an indexed one (``dedup:index``). Hashes are only comparable under identical
normalization, shingling, permutations and banding, so any difference is refused up front.
"""

from __future__ import annotations

import json
from pathlib import Path

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
COLUMNS = ("id", TEXT_HASH, BANDS)


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


def validate_index(directory: str | Path, hasher: MinHasher) -> Path:
    """The index folder of ``directory``, or ConfigError if missing, corrupt or incompatible."""
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
    files = sorted((root / BANDS_DIR).glob("*.parquet"))
    if meta.get("documents", 0) and not files:
        raise ConfigError(f"dedup.against: index {root} has no band files under {BANDS_DIR}/")
    for path in files:
        try:
            names = set(pq.read_schema(path).names)
        except Exception as error:  # pyarrow raises several kinds for a damaged footer
            raise ConfigError(f"dedup.against: corrupt index file {path}: {error}") from None
        if not set(COLUMNS) <= names:
            raise ConfigError(
                f"dedup.against: index file {path} lacks columns {sorted(set(COLUMNS) - names)}"
            )
    return root


def validate_against(dedup: DedupConfig) -> list[Path]:
    """Check every ``dedup.against`` index before any work starts; returns their folders."""
    from crawlsieve.dedup.stages import minhasher

    hasher = minhasher(dedup)
    return [validate_index(directory, hasher) for directory in dedup.against]


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
