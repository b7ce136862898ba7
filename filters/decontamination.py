"""Benchmark decontamination: a document sharing a normalized word n-gram with a benchmark goes.

Texts are normalized as datatrove's decontamination normalizes them (``simplify_text`` with its
default ``TextNormConfig``: lowercase, digits to 0, punctuation to spaces, diacritics removed) and
cut into words as ``core.units`` cuts the language: at whitespace, or for a language written
without spaces into jieba's words (Chinese, as datatrove's tokenizer for ``zh``) or characters. A
document is cut as its language says; a benchmark text has no language, so as its script says
(``units.language_of``: a Chinese question is cut as a Chinese page). An n-gram is hashed as
datatrove hashes it (xxhash-64 of its words joined by a space, UTF-8, as
``datatrove.pipeline.decont.n_grams``). A benchmark text shorter than ``ngram`` words contributes
nothing. A ``.txt`` benchmark is one text (so hard-wrapped passages keep their n-grams
across lines); ``.jsonl`` and ``.parquet`` rows give one text per string field (or per string of a
list field), all of them or the configured ``fields``.

The index is one ``(2, n)`` uint64 array: the sorted hashes of every benchmark's n-grams, and beside
each the benchmark it came from (the first in config order). It is built once per run, on the
driver: by the pre-run check (``check``: a bad benchmark file stops the run before it touches the
output directory), and written into the run directory (``RunLayout.decontamination_index``) before
phase A (``prepare``). Every worker memory-maps that file, so a node's workers share one copy of its
pages, as they do the URL lists. Without a run directory (a stage used on its own), each process
builds the index in memory.
"""

from __future__ import annotations

import gzip
import json
import os
from collections import Counter
from collections.abc import Iterator
from functools import cache
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import xxhash
from datatrove.utils.text import simplify_text

from crawlsieve.core import units
from crawlsieve.core.errors import ConfigError
from crawlsieve.core.io import durable
from crawlsieve.core.stages import DECONTAMINATION_MATCH, Stage, with_decisions
from crawlsieve.filters.config import DecontaminationConfig

NGRAMS_SIGNAL = "sig_decontamination_ngrams"
SUFFIXES = (".jsonl", ".jsonl.gz", ".parquet", ".txt")


def normalized_words(text: str, language: str | None) -> list[str]:
    """The words of the normalized text, cut as ``language`` says (None: as the text's script says)."""
    normalized = simplify_text(text)
    return units.words(normalized, language if language is not None else units.language_of(normalized))


def ngram_hashes(words: list[str], n: int) -> np.ndarray:
    """xxhash-64 of each run of ``n`` words joined by a space, in order (none for fewer words)."""
    count = max(0, len(words) - n + 1)
    hashed = (xxhash.xxh64_intdigest(" ".join(words[i : i + n]).encode("utf-8")) for i in range(count))
    return np.fromiter(hashed, np.uint64, count)


def _strings(value) -> Iterator[str]:
    if isinstance(value, str):
        yield value
    elif isinstance(value, list):
        yield from (item for item in value if isinstance(item, str))


def benchmark_texts(path: Path, fields: list[str]) -> Iterator[str]:
    """The texts of one benchmark file (see the module docstring); ConfigError when unreadable."""
    name = path.name.lower()
    if not path.is_file():
        raise ConfigError(f"decontamination benchmark file not found: {path}")
    if name.endswith(".txt"):
        yield path.read_text(encoding="utf-8", errors="replace")
    elif name.endswith((".jsonl", ".jsonl.gz")):
        opener = gzip.open if name.endswith(".gz") else open
        with opener(path, "rt", encoding="utf-8", errors="replace") as lines:
            for number, line in enumerate(lines, 1):
                if not line.strip():
                    continue
                try:
                    row = json.loads(line)
                except json.JSONDecodeError:
                    raise ConfigError(
                        f"decontamination benchmark {path}: line {number} is not JSON"
                    ) from None
                if not isinstance(row, dict):
                    yield from _strings(row)
                    continue
                for key in fields or row:
                    yield from _strings(row.get(key))
    elif name.endswith(".parquet"):
        try:
            table = pq.read_table(path, columns=fields or None)
        except (OSError, pa.ArrowException) as error:
            raise ConfigError(f"decontamination benchmark {path}: {error}".splitlines()[0]) from None
        for column in table.itercolumns():
            if pa.types.is_string(column.type) or pa.types.is_large_string(column.type):
                yield from (v for v in column.to_pylist() if v)
            elif pa.types.is_list(column.type) or pa.types.is_large_list(column.type):
                for value in column.to_pylist():
                    yield from _strings(value)
    else:
        raise ConfigError(f"decontamination benchmark {path}: not one of {', '.join(SUFFIXES)}")


def build_index(config: DecontaminationConfig) -> np.ndarray:
    """The ``(2, n)`` index of the configured benchmarks (see the module docstring)."""
    hashes, owners = [], []
    for number, (name, location) in enumerate(config.benchmarks.items()):
        path = Path(location)
        parts = [
            ngram_hashes(normalized_words(t, None), config.ngram)
            for t in benchmark_texts(path, config.fields)
        ]
        unique = np.unique(np.concatenate(parts)) if parts else np.zeros(0, np.uint64)
        if not unique.size:
            raise ConfigError(
                f"decontamination benchmark '{name}' ({path}): no text of {config.ngram} words or more"
            )
        hashes.append(unique)
        owners.append(np.full(unique.size, number, np.uint64))
    if not hashes:
        return np.zeros((2, 0), np.uint64)
    all_hashes, all_owners = np.concatenate(hashes), np.concatenate(owners)
    order = np.argsort(all_hashes, kind="stable")  # equal hashes stay in config order
    all_hashes, all_owners = all_hashes[order], all_owners[order]
    first = np.concatenate(([True], all_hashes[1:] != all_hashes[:-1]))
    return np.ascontiguousarray(np.stack([all_hashes[first], all_owners[first]]))


def write_index(index: np.ndarray, path: Path) -> None:
    """Write the index as .npy, ``durable``: readers never see part of it."""
    with durable(path) as tmp, open(tmp, "wb") as handle:
        np.save(handle, index)


@cache
def _mapped(path: str, inode: int, mtime_ns: int) -> np.ndarray:
    """The index file, memory-mapped once per process and file version (a new run's file is new)."""
    return np.load(path, mmap_mode="r")


def _stamps(config: DecontaminationConfig) -> tuple:
    """Size and mtime of each benchmark file (None if missing): an edited file is a new index."""
    stamps = []
    for location in config.benchmarks.values():
        try:
            stat = os.stat(location)
            stamps.append((stat.st_size, stat.st_mtime_ns))
        except OSError:
            stamps.append(None)
    return tuple(stamps)


@cache
def _in_memory(config_json: str, stamps: tuple) -> np.ndarray:
    return build_index(DecontaminationConfig.model_validate_json(config_json))


class DecontaminationStage(Stage):
    """Adds ``sig_decontamination_ngrams`` (the document's n-grams found in a benchmark) and
    ``decontamination_match`` (``<benchmark>: <first such n-gram>``, normalized); in drop mode
    removes the document as ``decontamination:<benchmark>``. Counts matched documents per
    benchmark in ``counters`` (``decontamination:<benchmark>``, in both modes)."""

    name = "decontamination"

    def __init__(self, config: DecontaminationConfig, index_path: Path | None = None):
        self.config = config
        self.index_path = index_path
        self.names = list(config.benchmarks)
        self.counters: Counter = Counter()

    def check(self) -> None:
        """Read the benchmarks and build the index (kept for ``prepare``): a missing or unreadable
        file, or one without a text of ``ngram`` words, stops the run before it starts."""
        self.built()

    def built(self) -> np.ndarray:
        """The index built in this process (once per config and benchmark file version)."""
        return _in_memory(self.config.model_dump_json(), _stamps(self.config))

    def prepare(self) -> None:
        """Write the run's index unless it is there (a resumed run keeps the one it started with)."""
        if self.index_path is not None and not self.index_path.is_file():
            write_index(self.built(), self.index_path)

    def index(self) -> np.ndarray:
        """The run's index, memory-mapped (written first if the driver did not); else built here."""
        if self.index_path is None:
            return self.built()
        self.prepare()
        stat = self.index_path.stat()
        return _mapped(str(self.index_path), stat.st_ino, stat.st_mtime_ns)

    def __call__(self, batch: pa.Table) -> pa.Table:
        index = self.index()
        hashes, owners = index[0], index[1]
        counts, matches, reasons = [], [], []
        texts = batch.column("text").to_pylist()
        languages = batch["language"].to_pylist() if "language" in batch.column_names else [None] * len(texts)
        for text, language in zip(texts, languages, strict=True):
            count, match, benchmark = self.judge(text or "", language, hashes, owners)
            counts.append(float(count))
            matches.append(f"{benchmark}: {match}" if match else None)
            reasons.append(f"decontamination:{benchmark}" if match and self.config.mode == "drop" else None)
            if match:
                self.counters[f"decontamination:{benchmark}"] += 1
        batch = batch.append_column(NGRAMS_SIGNAL, pa.array(counts, type=pa.float64()))
        batch = batch.append_column(DECONTAMINATION_MATCH, pa.array(matches, type=pa.string()))
        return with_decisions(batch, removed=reasons)

    def judge(
        self, text: str, language: str | None, hashes: np.ndarray, owners: np.ndarray
    ) -> tuple[int, str | None, str | None]:
        """(n-grams found in the index, the first of them, its benchmark); ``language`` cuts the words
        (None: the text's script)."""
        n = self.config.ngram
        words = normalized_words(text, language)
        doc = ngram_hashes(words, n)
        if not doc.size or not hashes.size:
            return 0, None, None
        where = np.minimum(np.searchsorted(hashes, doc), hashes.size - 1)
        found = hashes[where] == doc
        if not found.any():
            return 0, None, None
        first = int(np.argmax(found))
        return int(found.sum()), " ".join(words[first : first + n]), self.names[int(owners[where[first]])]
