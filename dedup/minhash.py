"""Normalized words, shingle hashes, MinHash signatures and LSH band hashes, vectorized.

The signatures are datasketch's (``MinHash`` with its default ``affine32`` scheme, the same
``seed`` and ``num_perm``, and :func:`shingle_hash32` as ``hashfunc``): the permutations are
taken from datasketch itself and applied here to a whole batch at once with NumPy, because
calling ``MinHash.update`` per shingle in Python is ~50x slower. ``tests/test_dedup_minhash.py``
checks the two agree. Bands x rows come from datasketch's ``_optimal_param``.

Shingles are runs of units (``shingle_units``): normalized words, or for a language written without
spaces its characters (``core.units``), so that a light edit of a Chinese page changes a few
shingles rather than every clause-long "word" around it.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import xxhash
from datasketch import MinHash
from datasketch.lsh import _optimal_param

from crawlsieve.core import units

#: Version of normalization, shingle units and hashing; an index built with another one is refused.
HASH_SCHEME = f"crawlsieve-minhash-v2:xxh64-units[{units.VERSION}],poly-fmix64,datasketch-affine32"

_POLY = np.uint64(0x9E3779B97F4A7C15)
_FMIX64 = (np.uint64(33), np.uint64(0xFF51AFD7ED558CCD), np.uint64(0xC4CEB9FE1A85EC53))
_FMIX32 = (np.uint32(16), np.uint32(0x85EBCA6B), np.uint32(13), np.uint32(0xC2B2AE35))
_MASK64 = (1 << 64) - 1
#: Shingles x permutations permuted at once (uint32 cells): 4 MiB stays in cache.
_CHUNK_CELLS = 1 << 20


def normalized_texts(texts: pa.Array | pa.ChunkedArray) -> pa.Array:
    """Each text lower-cased, punctuation, symbols and control characters as spaces, trimmed
    (Unicode-aware, via RE2)."""
    texts = pc.fill_null(pc.cast(texts, pa.string()), "")
    if isinstance(texts, pa.ChunkedArray):
        texts = texts.combine_chunks()
    lowered = pc.utf8_lower(texts)
    return pc.utf8_trim_whitespace(pc.replace_substring_regex(lowered, r"[\p{P}\p{S}\p{C}]+", " "))


def normalized_words(texts: pa.Array | pa.ChunkedArray) -> pa.ListArray:
    """The words of each text: ``split_words`` of ``normalized_texts``."""
    return split_words(normalized_texts(texts))


def split_words(normalized: pa.Array) -> pa.ListArray:
    """Normalized texts split at whitespace; an empty text has no words."""
    words = pc.split_pattern_regex(normalized, r"\s+")
    return pc.if_else(pc.equal(normalized, ""), pa.scalar([], type=pa.list_(pa.string())), words)


def shingle_units(normalized: pa.Array, words: pa.ListArray, languages: list[str | None]) -> pa.ListArray:
    """What shingles are made of: each text's ``words``, or where its language is shingled by
    characters (``core.units``) the characters of its normalized text."""
    by_characters = [units.shingles_by_characters(language) for language in languages]
    if not any(by_characters):
        return words
    return pc.if_else(pa.array(by_characters), units.character_unit_lists(normalized), words)


def normalized_text_hash(words: pa.ListArray) -> pa.Array:
    """xxh3-64 of the words joined by one space; null for a text without words."""
    joined = pc.binary_join(words, " ")
    return pa.array(
        [xxhash.xxh3_64_intdigest(t.encode()) if t else None for t in joined.to_pylist()], type=pa.uint64()
    )


def _fmix64(h: np.ndarray) -> np.ndarray:
    shift, m1, m2 = _FMIX64
    h = h ^ (h >> shift)
    h = h * m1
    h = h ^ (h >> shift)
    h = h * m2
    return h ^ (h >> shift)


def word_hashes(flat_words: pa.Array) -> np.ndarray:
    """xxh64 of each word (uint64); each distinct word of the batch is hashed once."""
    encoded = pc.dictionary_encode(flat_words)
    if isinstance(encoded, pa.ChunkedArray):
        encoded = encoded.combine_chunks()
    vocabulary = encoded.dictionary.to_pylist()
    table = np.fromiter(
        (xxhash.xxh64_intdigest(w.encode()) for w in vocabulary), dtype=np.uint64, count=len(vocabulary)
    )
    return table[encoded.indices.to_numpy(zero_copy_only=False)]


def shingle_hash32(shingle: tuple[str, ...] | list[str]) -> int:
    """The 32-bit hash of one shingle (a tuple of words); the reference for the vectorized path.

    Polynomial over the words' xxh64, avalanched with MurmurHash3's fmix64, top 32 bits: a
    shingle hash computable from per-word hashes with array shifts (see ``shingle_hashes``).
    """
    h = 0
    for word in shingle:
        h = (h * int(_POLY) + xxhash.xxh64_intdigest(word.encode())) & _MASK64
    return int(_fmix64(np.array([h], dtype=np.uint64))[0] >> np.uint64(32))


def shingle_hashes(words: pa.ListArray, ngram: int) -> tuple[np.ndarray, np.ndarray]:
    """32-bit hashes of all word n-grams of all documents, and per document its shingle count."""
    lengths = pc.fill_null(pc.list_value_length(words), 0).to_numpy(zero_copy_only=False).astype(np.int64)
    counts = np.maximum(lengths - ngram + 1, 0)
    if counts.sum() == 0:
        return np.empty(0, dtype=np.uint32), counts
    flat = word_hashes(pc.list_flatten(words))
    total = flat.shape[0]
    positions = total - ngram + 1
    combined = flat[:positions].copy()
    for k in range(1, ngram):
        combined = combined * _POLY + flat[k : k + positions]
    starts = np.concatenate(([0], np.cumsum(lengths)[:-1]))
    # The shingle starting at word p of a document is valid while p + ngram <= its end.
    valid = np.concatenate([np.arange(s, s + c) for s, c in zip(starts, counts, strict=True) if c])
    return (_fmix64(combined[valid]) >> np.uint64(32)).astype(np.uint32), counts


@lru_cache(maxsize=8)
def lsh_params(threshold: float, num_perm: int, fp_weight: float, fn_weight: float) -> tuple[int, int]:
    """(bands, rows) minimizing weighted false positives/negatives, by datasketch's routine."""
    return _optimal_param(threshold, num_perm, fp_weight, fn_weight)


@dataclass(frozen=True)
class MinHasher:
    """MinHash signatures and band hashes of a batch of texts, datasketch-compatible."""

    num_perm: int = 128
    seed: int = 1
    ngram: int = 5
    bands: int = 9
    rows: int = 13

    @property
    def permutations(self) -> tuple[np.ndarray, np.ndarray]:
        return _permutations(self.num_perm, self.seed)

    def signatures(self, shingles: np.ndarray, counts: np.ndarray) -> np.ndarray:
        """(documents x num_perm) uint32; a document without shingles gets all-max values.

        Shingles are permuted in chunks of ~1M cells that stay in cache (one big matrix is
        ~20x slower); a document cut by a chunk border is folded with ``np.minimum``.
        """
        a, b = self.permutations
        out = np.full((counts.shape[0], self.num_perm), np.iinfo(np.uint32).max, dtype=np.uint32)
        docs = np.flatnonzero(counts)
        doc_starts = (np.cumsum(counts) - counts)[docs]
        mixed = _fmix32(shingles)
        chunk = max(1, _CHUNK_CELLS // self.num_perm)
        buffer = np.empty((chunk, self.num_perm), dtype=np.uint32)
        for lo in range(0, mixed.shape[0], chunk):
            part = mixed[lo : lo + chunk]
            cells = buffer[: part.shape[0]]
            np.multiply(part[:, None], a[None, :], out=cells)
            np.add(cells, b[None, :], out=cells)
            first = int(np.searchsorted(doc_starts, lo, side="right")) - 1
            last = int(np.searchsorted(doc_starts, lo + part.shape[0], side="left"))
            segments = np.maximum(doc_starts[first:last], lo) - lo
            owners = docs[first:last]
            out[owners] = np.minimum(out[owners], np.minimum.reduceat(cells, segments, axis=0))
        return out

    def band_hashes(self, signatures: np.ndarray) -> np.ndarray:
        """(documents x bands) uint64: a hash of each band's rows, salted with the band's index."""
        n = signatures.shape[0]
        cut = signatures[:, : self.bands * self.rows].reshape(n, self.bands, self.rows).astype(np.uint64)
        h = np.broadcast_to(np.arange(self.bands, dtype=np.uint64) + np.uint64(1), (n, self.bands)).copy()
        for r in range(self.rows):
            h = _fmix64((h * _POLY) ^ cut[:, :, r])
        return h


@lru_cache(maxsize=8)
def _permutations(num_perm: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    a, b = MinHash(num_perm=num_perm, seed=seed).permutations
    return a.astype(np.uint32), b.astype(np.uint32)


def _fmix32(h: np.ndarray) -> np.ndarray:
    s1, m1, s2, m2 = _FMIX32
    h = h ^ (h >> s1)
    h = h * m1
    h = h ^ (h >> s2)
    h = h * m2
    return h ^ (h >> s1)
