"""Per-file summaries: what each task did, in a form the driver merges without reading a record.

A Common Crawl dump is ~90,000 files and ~9 billion records, so the run's stats, mixture,
distributions and review samples are not computed by reading the records on the driver: each
phase-A task (one input file) and each finalize task (the same file after dedup) writes a small
summary of what it did next to its outputs, and the driver merges the summaries. A summary holds:

* the file's counts: records read, rows decided per (stage, removed reason, failure kind), kept;
* per value of each breakdown column (``BREAKDOWN_COLUMNS``: language, genre), the records by
  outcome (removal reason, ``failed:<kind>`` or ``kept``), so the report has a funnel per language
  and per genre;
* per (domain, language, genre): documents, tokens, bytes, quality sum and count (the mixture);
* the file's most frequent sites with their counts (top ``SITES_PER_FILE``);
* histograms of every column the report plots (document length, scores, every ``sig_*``
  signal) per population, on one fixed grid (``GRID``) so they add up across files, with each
  histogram's count, sum, min and max;
* review candidates: for each review group (a removal reason, a failure kind, ``kept``) the
  ``k`` records of smallest sample key, whose union over all files holds the run's bottom-k.
  Their keys are in the summary; their rows in a small Parquet file beside it.

File format (``Summary.to_bytes``): ``CSUM``, a 4-byte header length, a JSON header, then the
numeric arrays as raw little-endian bytes (described by the header), so reading one is one
``read`` and a few ``numpy.frombuffer`` views.
"""

from __future__ import annotations

import json
import struct
from collections import Counter, defaultdict
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from crawlsieve.core.errors import UsageError
from crawlsieve.core.io import read_parquet, write_atomically, write_bytes_atomically
from crawlsieve.core.layout import EXTRACT, FINALIZE, SUMMARY_NAMES, RunLayout
from crawlsieve.core.stages import SAFETY_TAGS
from crawlsieve.quality.mixture import GROUP_KEYS, NO_VALUE, key_columns
from crawlsieve.quality.review import TAGGED, review_row, sample_key

MAGIC = b"CSUM"
#: A summary header's phase (``core.layout.SUMMARY_NAMES``) -> the phase.
_PHASE_OF_NAME = {name: phase for phase, name in SUMMARY_NAMES.items()}
#: Derived column: characters of the document's text.
LENGTH = "text_chars"
BASE_COLUMNS = ("language_score", "quality_score", "token_count", "dup_cluster_size")
#: Histogram populations: the kept documents, those that passed phase A's filters, and the removed
#: ones (``removed:<stage>`` per stage, merged into ``removed`` for the report): not the
#: decision column ``core.stages.REMOVED``.
KEPT, PASSED, REMOVED_DOCS = "kept", "passed_filters", "removed"
#: Sites kept per file summary; the run's top sites are exact while no file had more.
SITES_PER_FILE = 100
#: Columns the funnel is broken down by (stats.json ``breakdowns``, the report's funnel per
#: language and per genre). A column here must be in the ledger rows (``core.ledger.LEDGER_KEEP``)
#: and in the kept documents. A record decided before its column was known (requests, metadata,
#: pages removed before extraction or language identification) or left without one counts under
#: ``NO_VALUE``.
BREAKDOWN_COLUMNS = ("language", "genre")
#: A file's review candidates: the review group and the sample as JSON.
REVIEW_SCHEMA = pa.schema([("group", pa.string()), ("row", pa.string())])

# --- the histogram grid ----------------------------------------------------------------------
#: One grid for every column, so histograms of any signal add up across files without knowing
#: the run's range first: 40 linear bins over [0, 1] (scores and shares, as the report shows
#: them), 5 log bins per decade over (1, 1e9] (lengths, counts, ratios), and the same mirrored
#: below 0. Values beyond ±1e9 count in the outermost bins.
LINEAR_BINS = 40
LOG_PER_DECADE = 5
LOG_DECADES = 9
_LINEAR = np.linspace(0.0, 1.0, LINEAR_BINS + 1)
_LOG = np.logspace(0, LOG_DECADES, LOG_DECADES * LOG_PER_DECADE + 1)
#: Edges of the grid, ascending: -1e9 ... -1, 0 (the bin (-1, 0) between), 0 ... 1, 1 ... 1e9.
GRID = np.concatenate([-_LOG[::-1], _LINEAR, _LOG[1:]])
NEGATIVE_BINS = len(_LOG)  # log bins below -1, and the one bin (-1, 0)
GRID_BINS = len(GRID) - 1


def grid_bins(values: np.ndarray) -> np.ndarray:
    """The grid bin of each (finite) value: [a, b) bins, except that 1.0 closes the linear part."""
    index = np.searchsorted(GRID, values, side="right") - 1
    index[values == 1.0] = NEGATIVE_BINS + LINEAR_BINS - 1
    return np.clip(index, 0, GRID_BINS - 1)


def _finite(values: np.ndarray) -> np.ndarray:
    return values[np.isfinite(values)]


def numeric_columns(schema: pa.Schema) -> list[str]:
    """The numeric columns worth a histogram: scores, token counts and filter signals."""
    names = []
    for schema_field in schema:
        numeric = pa.types.is_integer(schema_field.type) or pa.types.is_floating(schema_field.type)
        if numeric and (schema_field.name in BASE_COLUMNS or schema_field.name.startswith("sig_")):
            names.append(schema_field.name)
    return names


def column_values(table: pa.Table) -> dict[str, np.ndarray]:
    """float64 arrays (nulls as NaN) of the histogram columns of ``table``, length included."""
    arrays = {}
    if LENGTH in table.column_names:
        arrays[LENGTH] = table.column(LENGTH)
    elif "text" in table.column_names:
        arrays[LENGTH] = pc.utf8_length(table.column("text"))
    for name in numeric_columns(table.schema):
        arrays[name] = table.column(name)
    return {name: column.cast(pa.float64()).to_numpy(zero_copy_only=False) for name, column in arrays.items()}


@dataclass
class Histograms:
    """Sparse grid histograms and moments per (column, population)."""

    counts: dict[tuple[str, str], np.ndarray] = field(default_factory=dict)  # dense over the grid
    moments: dict[tuple[str, str], list[float]] = field(default_factory=dict)  # n, sum, min, max

    def add_values(self, column: str, group: str, values: np.ndarray) -> None:
        values = _finite(values)
        if not values.size:
            return
        self.add(
            (column, group),
            np.bincount(grid_bins(values), minlength=GRID_BINS),
            [values.size, float(values.sum()), float(values.min()), float(values.max())],
        )

    def add_table(self, group: str, table: pa.Table) -> None:
        for column, values in column_values(table).items():
            self.add_values(column, group, values)

    def add(self, key: tuple[str, str], counts: np.ndarray, moments: list[float]) -> None:
        if key in self.counts:
            self.counts[key] = self.counts[key] + counts
            n, total, low, high = self.moments[key]
            self.moments[key] = [
                n + moments[0],
                total + moments[1],
                min(low, moments[2]),
                max(high, moments[3]),
            ]
        else:
            self.counts[key] = counts.astype(np.int64)
            self.moments[key] = list(moments)

    def merge(self, other: Histograms) -> None:
        for key, counts in other.counts.items():
            self.add(key, counts, other.moments[key])

    @classmethod
    def from_stored(cls, stored: Stored) -> Histograms:
        """The dense histograms of a summary read from its file."""
        a = stored.arrays
        histograms = cls()
        starts = np.concatenate([[0], np.cumsum(a["lengths"])]).astype(np.int64)
        moments = a["moments"].reshape(-1, 4)
        for i, (c, g) in enumerate(
            zip(a["hist_column"].tolist(), a["hist_population"].tolist(), strict=True)
        ):
            dense = np.zeros(GRID_BINS, np.int64)
            dense[a["bins"][starts[i] : starts[i + 1]]] = a["counts"][starts[i] : starts[i + 1]]
            histograms.add((stored.hist_columns[c], stored.hist_populations[g]), dense, moments[i].tolist())
        return histograms


@dataclass
class Stored:
    """The arrays of a summary read from its file, and the names their indices point into."""

    hist_columns: list[str]
    hist_populations: list[str]
    review_groups: list[str]
    arrays: dict[str, np.ndarray]
    breakdown_keys: list[tuple[str, str]]
    breakdown_outcomes: list[str]

    def breakdown(self) -> Counter:
        a = self.arrays
        entries = zip(
            a["breakdown_key"].tolist(),
            a["breakdown_outcome"].tolist(),
            a["breakdown_count"].tolist(),
            strict=True,
        )
        return Counter({(*self.breakdown_keys[k], self.breakdown_outcomes[o]): n for k, o, n in entries})


@dataclass
class Summary:
    """What one task did for one input file (see the module docstring)."""

    shard: str
    phase: str  # core.layout.EXTRACT or FINALIZE
    warc_path: str = ""
    records_read: int = 0
    kept: int = 0
    #: (stage, removed reason or "", failure kind or "") -> rows
    decided: Counter = field(default_factory=Counter)
    #: (breakdown column, value, outcome) -> records; the outcome is ``review_group``'s name of a
    #: decision (removal reason, ``failed:<kind>``) or ``kept``; a read summary's are in ``stored``
    breakdown: Counter = field(default_factory=Counter)
    #: (domain, language, genre) -> [documents, tokens, bytes, quality_sum, quality_count]
    groups: dict[tuple[str, ...], list[float]] = field(default_factory=dict)
    sites: dict[str, int] = field(default_factory=dict)
    sites_truncated: bool = False
    #: histogram columns the kept rows have (the report shows kept values of these from here)
    kept_columns: list[str] = field(default_factory=list)
    histograms: Histograms = field(default_factory=Histograms)
    #: review group -> [(sample key, row index in the review file)]
    review: dict[str, list[tuple[int, int]]] = field(default_factory=dict)
    cpu_seconds: dict[str, float] = field(default_factory=dict)
    #: named counts a stage reports about its file (e.g. ``pii:email`` replacements); summed
    #: over the run into stats.json ``counters``
    counters: Counter = field(default_factory=Counter)
    #: per filter threshold and step, the documents it alone would remove (``filters.refilter``)
    what_if: Counter = field(default_factory=Counter)
    #: per classifier score column, the kept documents' tokens per score bin (``quality.buckets``)
    score_tokens: dict[str, np.ndarray] = field(default_factory=dict)
    #: a read summary's arrays as stored (see ``from_bytes``)
    stored: Stored | None = None

    # --- the file format ---

    def to_bytes(self) -> bytes:
        keys = sorted(self.histograms.counts)
        columns = sorted({c for c, _ in keys})
        populations = sorted({g for _, g in keys})
        nonzero = [np.flatnonzero(self.histograms.counts[k]) for k in keys]
        counts = [self.histograms.counts[k][i] for k, i in zip(keys, nonzero, strict=True)]
        review_groups = sorted(self.review)
        review = [(n, key, row) for n, g in enumerate(review_groups) for key, row in self.review[g]]
        breakdown = sorted(self.breakdown.items())
        breakdown_keys = {key: n for n, key in enumerate(sorted({(c, v) for (c, v, _), _ in breakdown}))}
        outcomes = {o: n for n, o in enumerate(sorted({o for (_, _, o), _ in breakdown}))}
        arrays = {
            "hist_column": np.array([columns.index(c) for c, _ in keys], "<u2"),
            "hist_population": np.array([populations.index(g) for _, g in keys], "<u2"),
            "bins": np.concatenate(nonzero).astype("<u1") if keys else np.zeros(0, "<u1"),
            "counts": np.concatenate(counts).astype("<u8") if keys else np.zeros(0, "<u8"),
            "lengths": np.array([len(i) for i in nonzero], "<u4"),
            "moments": np.array([self.histograms.moments[k] for k in keys], "<f8").reshape(-1),
            "review_group": np.array([n for n, _, _ in review], "<u4"),
            "review_key_hi": np.array([key >> 64 for _, key, _ in review], "<u8"),
            "review_key_lo": np.array([key & (2**64 - 1) for _, key, _ in review], "<u8"),
            "review_row": np.array([row for _, _, row in review], "<u4"),
            "breakdown_key": np.array([breakdown_keys[(c, v)] for (c, v, _), _ in breakdown], "<u4"),
            "breakdown_outcome": np.array([outcomes[o] for (_, _, o), _ in breakdown], "<u2"),
            "breakdown_count": np.array([n for _, n in breakdown], "<u8"),
        }
        header = {
            "shard": self.shard,
            "phase": SUMMARY_NAMES[self.phase],
            "warc_path": self.warc_path,
            "records_read": self.records_read,
            "kept": self.kept,
            "decided": [[*key, n] for key, n in sorted(self.decided.items())],
            "breakdown_keys": list(breakdown_keys),
            "breakdown_outcomes": list(outcomes),
            "group_keys": list(GROUP_KEYS),
            "groups": [[*key, *values] for key, values in sorted(self.groups.items())],
            "sites": sorted(self.sites.items(), key=lambda kv: (-kv[1], kv[0])),
            "sites_truncated": self.sites_truncated,
            "kept_columns": self.kept_columns,
            "hist_columns": columns,
            "hist_populations": populations,
            "review_groups": review_groups,
            "cpu_seconds": self.cpu_seconds,
            "counters": dict(self.counters),
            "what_if": dict(self.what_if),
            "score_tokens": {
                column: [[int(b), int(hist[b])] for b in np.flatnonzero(hist)]
                for column, hist in sorted(self.score_tokens.items())
            },
            "arrays": {name: [a.dtype.str, len(a)] for name, a in arrays.items()},
        }
        head = json.dumps(header, ensure_ascii=False, separators=(",", ":")).encode("utf-8")
        return MAGIC + struct.pack("<I", len(head)) + head + b"".join(a.tobytes() for a in arrays.values())

    @classmethod
    def from_bytes(cls, data: bytes) -> Summary:
        """A summary as stored: its histograms and review keys stay arrays (``stored``), which is
        what merging needs, and what makes reading 90,000 of them fast."""
        if data[:4] != MAGIC:
            raise ValueError("not a crawlsieve summary")
        (size,) = struct.unpack("<I", data[4:8])
        header = json.loads(data[8 : 8 + size])
        arrays, offset = {}, 8 + size
        for name, (dtype, length) in header["arrays"].items():
            array = np.frombuffer(data, dtype=dtype, count=length, offset=offset)
            arrays[name] = array
            offset += array.nbytes
        for name in ("breakdown_key", "breakdown_outcome", "breakdown_count"):  # older summaries
            arrays.setdefault(name, np.zeros(0, np.uint64))
        summary = cls(
            shard=header["shard"],
            phase=_PHASE_OF_NAME[header["phase"]],
            warc_path=header["warc_path"],
            records_read=header["records_read"],
            kept=header["kept"],
            decided=Counter({tuple(row[:3]): row[3] for row in header["decided"]}),
            groups=_read_groups(header),
            sites=dict(header["sites"]),
            sites_truncated=header["sites_truncated"],
            kept_columns=header["kept_columns"],
            cpu_seconds=header["cpu_seconds"],
            counters=Counter(header.get("counters") or {}),
            what_if=Counter(header.get("what_if") or {}),
            score_tokens={
                column: _dense_bins(pairs) for column, pairs in (header.get("score_tokens") or {}).items()
            },
        )
        summary.stored = Stored(
            header["hist_columns"],
            header["hist_populations"],
            header["review_groups"],
            arrays,
            [tuple(key) for key in header.get("breakdown_keys", [])],
            header.get("breakdown_outcomes", []),
        )
        return summary

    def write(self, path: Path) -> None:
        """Durable like every output: a crash cannot keep the file's completion marker yet lose
        its summary."""
        write_bytes_atomically(self.to_bytes(), path)

    @classmethod
    def read(cls, path: Path) -> Summary:
        """The summary in ``path``; ``UsageError`` naming the file when it is damaged."""
        try:
            return cls.from_bytes(Path(path).read_bytes())
        except OSError as error:
            raise UsageError(f"cannot read {path}: {error.strerror or error}") from None
        except (ValueError, KeyError, TypeError, IndexError, struct.error) as error:
            raise UsageError(
                f"{path} is damaged: not a crawlsieve summary ({type(error).__name__}: {error})"
            ) from None


def _dense_bins(pairs: list[list[int]]) -> np.ndarray:
    from crawlsieve.quality.buckets import SCORE_BINS

    dense = np.zeros(SCORE_BINS, np.int64)
    for index, tokens in pairs:
        dense[index] += tokens
    return dense


def add_score_tokens(into: dict[str, np.ndarray], more: dict[str, np.ndarray]) -> None:
    for column, hist in more.items():
        into[column] = into[column] + hist if column in into else hist.copy()


# --- what the tasks summarize ----------------------------------------------------------------


def review_group(removed: str | None, failed: str | None) -> str:
    return (failed and f"failed:{failed}") or removed or "unknown"


def _count_decided(summary: Summary, ledger: pa.Table) -> None:
    keys = ledger.select(["stage", "removed", "failed"])
    filled = pa.table({name: pc.fill_null(keys.column(name), "") for name in keys.column_names})
    for row in (
        filled.group_by(["stage", "removed", "failed"], use_threads=False)
        .aggregate([([], "count_all")])
        .to_pylist()
    ):
        summary.decided[(row["stage"], row["removed"], row["failed"])] += row["count_all"]


def _breakdown_values(table: pa.Table, column: str) -> pa.ChunkedArray:
    """The column's values as strings, ``NO_VALUE`` where it is missing, null or empty."""
    if column not in table.column_names:
        return pa.chunked_array([pa.array([NO_VALUE] * table.num_rows, pa.string())])
    values = pc.cast(table.column(column), pa.string())
    return pc.fill_null(pc.if_else(pc.equal(values, ""), None, values), NO_VALUE)


def _count_breakdown_decided(summary: Summary, ledger: pa.Table) -> None:
    for column in BREAKDOWN_COLUMNS:
        keys = pa.table(
            {
                "value": _breakdown_values(ledger, column),
                "removed": ledger.column("removed"),
                "failed": ledger.column("failed"),
            }
        )
        for row in (
            keys.group_by(["value", "removed", "failed"], use_threads=False)
            .aggregate([([], "count_all")])
            .to_pylist()
        ):
            outcome = review_group(row["removed"], row["failed"])
            summary.breakdown[(column, row["value"], outcome)] += row["count_all"]


def _count_breakdown_kept(summary: Summary, kept: pa.Table) -> None:
    for column in BREAKDOWN_COLUMNS:
        for count in pc.value_counts(_breakdown_values(kept, column)).to_pylist():
            summary.breakdown[(column, count["values"], KEPT)] += count["counts"]


def _removed_histograms(summary: Summary, ledger: pa.Table) -> None:
    removed = ledger.filter(pc.is_valid(ledger.column("removed")))
    for stage in pc.unique(removed.column("stage")).to_pylist():
        summary.histograms.add_table(
            f"{REMOVED_DOCS}:{stage}", removed.filter(pc.equal(removed.column("stage"), stage))
        )


def _review_candidates(summary: Summary, candidates: list[tuple[str, int, dict]], k: int) -> list[dict]:
    """Keeps each group's ``k`` smallest keys; returns the rows for the review file, in order."""
    by_group: dict[str, list[tuple[int, dict]]] = defaultdict(list)
    for group, key, record in candidates:
        by_group[group].append((key, record))
    rows: list[dict] = []
    for group, entries in by_group.items():
        for key, row in sorted(entries, key=lambda entry: entry[0])[:k]:
            summary.review.setdefault(group, []).append((key, len(rows)))
            rows.append({"group": group, "row": json.dumps(row, ensure_ascii=False, default=str)})
    return rows


def _bottom_k_records(table: pa.Table, keys: list[int], k: int) -> list[tuple[int, dict]]:
    """The ``k`` rows of smallest key, as dicts (only those rows are turned into Python)."""
    order = sorted(range(len(keys)), key=keys.__getitem__)[:k]
    return [(keys[i], record) for i, record in zip(order, table.take(order).to_pylist(), strict=True)]


def extract_summary(
    shard: str, warc_path: str, records_read: int, docs: pa.Table | None, ledger: pa.Table | None, k: int
) -> tuple[Summary, pa.Table]:
    """Phase A's summary of one file (its ledger rows and the documents that passed) and the
    rows of its review candidates."""
    summary = Summary(shard=shard, phase=EXTRACT, warc_path=warc_path, records_read=records_read)
    rows: list[dict] = []
    if docs is not None and docs.num_rows:
        summary.histograms.add_table(PASSED, docs)
    if ledger is not None and ledger.num_rows:
        _count_decided(summary, ledger)
        _count_breakdown_decided(summary, ledger)
        _removed_histograms(summary, ledger)
        rows = _review_candidates(summary, _ledger_candidates(ledger, k), k)
    return summary, pa.Table.from_pylist(rows, schema=REVIEW_SCHEMA)


def final_summary(
    shard: str,
    warc_path: str,
    kept: pa.Table,
    ledger: pa.Table | None,
    k: int,
    score_columns: tuple[str, ...] = (),
) -> tuple[Summary, pa.Table]:
    """Phase C's summary of one file: what dedup and tagging removed, and what was kept (with the
    kept tokens per bin of each of ``score_columns``, for the quality buckets)."""
    from crawlsieve.quality.buckets import token_histograms

    summary = Summary(shard=shard, phase=FINALIZE, warc_path=warc_path, kept=kept.num_rows)
    summary.score_tokens = token_histograms(kept, list(score_columns))
    candidates: list[tuple[str, int, dict]] = []
    if ledger is not None and ledger.num_rows:
        _count_decided(summary, ledger)
        _count_breakdown_decided(summary, ledger)
        _removed_histograms(summary, ledger)
        candidates += _ledger_candidates(ledger, k)
    if kept.num_rows:
        summary.kept_columns = sorted(column_values(kept.slice(0, 0)))
        summary.histograms.add_table(KEPT, kept)
        _mixture_groups(summary, kept)
        _count_breakdown_kept(summary, kept)
        _sites(summary, kept)
        keys = [sample_key(doc_id) for doc_id in kept.column("id").to_pylist()]
        candidates += [
            ("kept", key, review_row(r, None, None)) for key, r in _bottom_k_records(kept, keys, k)
        ]
        candidates += _tagged_candidates(kept, keys, k)
    rows = _review_candidates(summary, candidates, k)
    return summary, pa.Table.from_pylist(rows, schema=REVIEW_SCHEMA)


def _tagged_candidates(kept: pa.Table, keys: list[int], k: int) -> list[tuple[str, int, dict]]:
    """Review candidates of the kept documents the spam and safety signals tagged, per tag."""
    if "domain" not in kept.column_names:
        return []
    out, domains = [], kept.column("domain").to_pylist()
    for tag in SAFETY_TAGS:
        rows = [i for i, domain in enumerate(domains) if domain == tag]
        if rows:
            chosen = _bottom_k_records(kept.take(rows), [keys[i] for i in rows], k)
            out += [(f"{TAGGED}{tag}", key, review_row(r, None, None)) for key, r in chosen]
    return out


def _ledger_candidates(ledger: pa.Table, k: int) -> list[tuple[str, int, dict]]:
    """Review candidates of ledger rows: per group only the ``k`` smallest keys become dicts."""
    ids = ledger.column("id").to_pylist()
    paths = (
        ledger.column("warc_path").to_pylist() if "warc_path" in ledger.column_names else [None] * len(ids)
    )
    offsets = (
        ledger.column("record_offset").to_pylist()
        if "record_offset" in ledger.column_names
        else [None] * len(ids)
    )
    removed = ledger.column("removed").to_pylist()
    failed = ledger.column("failed").to_pylist()
    groups: dict[str, list[tuple[int, int]]] = defaultdict(list)
    for i, (doc_id, path, offset, reason, kind) in enumerate(
        zip(ids, paths, offsets, removed, failed, strict=True)
    ):
        groups[review_group(reason, kind)].append((sample_key(doc_id, f"{path}\x00{offset}"), i))
    chosen = sorted(i for entries in groups.values() for _, i in sorted(entries)[:k])
    keys = {i: key for entries in groups.values() for key, i in entries}
    out = []
    for i, record in zip(chosen, ledger.take(chosen).to_pylist(), strict=True):
        group = review_group(record.get("removed"), record.get("failed"))
        out.append((group, keys[i], review_row(record, group, record.get("stage"))))
    return out


def _read_groups(header: dict) -> dict[tuple[str, ...], list[float]]:
    """A stored summary's mixture groups, keyed by ``GROUP_KEYS`` (a summary written before a key
    existed has ``NO_VALUE`` for it)."""
    stored = header.get("group_keys", ["domain", "language"])
    groups = {}
    for row in header["groups"]:
        values = dict(zip(stored, row, strict=False))
        groups[tuple(values.get(key, NO_VALUE) for key in GROUP_KEYS)] = list(row[len(stored) :])
    return groups


def _mixture_groups(summary: Summary, kept: pa.Table) -> None:
    quality = (
        kept.column("quality_score") if "quality_score" in kept.column_names else pa.nulls(kept.num_rows)
    )
    sums = (
        pa.table(
            {
                **key_columns(kept),
                "tokens": pc.fill_null(kept.column("token_count"), 0).cast(pa.int64()),
                "bytes": pc.fill_null(pc.binary_length(kept.column("text")), 0).cast(pa.int64()),
                "quality": pc.cast(quality, pa.float64()),
            }
        )
        .group_by(list(GROUP_KEYS), use_threads=False)
        .aggregate(
            [([], "count_all"), ("tokens", "sum"), ("bytes", "sum"), ("quality", "sum"), ("quality", "count")]
        )
    )
    for row in sums.to_pylist():
        summary.groups[tuple(row[key] for key in GROUP_KEYS)] = [
            row["count_all"],
            row["tokens_sum"] or 0,
            row["bytes_sum"] or 0,
            row["quality_sum"] or 0.0,
            row["quality_count"] or 0,
        ]


def _sites(summary: Summary, kept: pa.Table) -> None:
    if "site" not in kept.column_names:
        return
    counts = [
        (c["values"], c["counts"]) for c in pc.value_counts(kept.column("site")).to_pylist() if c["values"]
    ]
    counts.sort(key=lambda item: (-item[1], item[0]))
    summary.sites = dict(counts[:SITES_PER_FILE])
    summary.sites_truncated = len(counts) > SITES_PER_FILE


def file_summary(
    extract: Summary, extract_rows: pa.Table | None, final: Summary, final_rows: pa.Table
) -> tuple[Summary, pa.Table]:
    """One summary for the whole of a file (phase A's and finalize's, as read and as built), so
    the driver reads one summary and one review file per input file."""
    whole = Summary(
        shard=final.shard,
        phase=FINALIZE,
        warc_path=extract.warc_path,
        records_read=extract.records_read,
        kept=final.kept,
        decided=extract.decided + final.decided,
        breakdown=extract.stored.breakdown() + final.breakdown,
        groups=final.groups,
        sites=final.sites,
        sites_truncated=final.sites_truncated,
        kept_columns=final.kept_columns,
        cpu_seconds=dict(Counter(extract.cpu_seconds) + Counter(final.cpu_seconds)),
        counters=extract.counters + final.counters,
        what_if=extract.what_if + final.what_if,
        score_tokens=final.score_tokens,
    )
    whole.histograms = Histograms.from_stored(extract.stored)
    whole.histograms.merge(final.histograms)
    a = extract.stored.arrays
    keys = (a["review_key_hi"].astype(object) << 64) | a["review_key_lo"].astype(object)
    for g, key, row in zip(a["review_group"].tolist(), keys.tolist(), a["review_row"].tolist(), strict=True):
        whole.review.setdefault(extract.stored.review_groups[g], []).append((int(key), row))
    offset = 0 if extract_rows is None else extract_rows.num_rows
    for group, entries in final.review.items():
        whole.review.setdefault(group, []).extend((key, row + offset) for key, row in entries)
    rows = final_rows if extract_rows is None else pa.concat_tables([extract_rows, final_rows])
    return whole, rows


def write_summary(summary: Summary, review_rows: pa.Table, summary_path: Path, review_path: Path) -> None:
    """The review rows first, then the summary that points at them (both atomic)."""
    if review_rows.num_rows:
        write_atomically(review_rows, review_path)
    else:
        review_path.unlink(missing_ok=True)
    summary.write(summary_path)


# --- merging on the driver -------------------------------------------------------------------


#: Sites the run's merge keeps at most; past twice that, the least frequent go (the report
#: shows the top 25). A run that drops any says its top sites are approximate.
SITES_KEPT = 20_000
#: Review candidates a group holds before it is cut back to its k smallest keys.
REVIEW_BUFFER = 4_096
#: Files whose histograms are added to the run's at once.
HISTOGRAM_BATCH = 256
#: The key limit of a group that has fewer than k candidates: every key may enter.
NO_KEY_LIMIT = np.iinfo(np.uint64).max


@dataclass
class RunSummary:
    """The merge of every file's summaries: all the run's figures, none of its records.

    Merging is per file a few dictionary updates and a few vectorized numpy operations: the
    histograms of all files go into one (rows x grid bins) array, the review candidates into
    per-group key arrays cut back to the ``review_k`` smallest now and then.
    """

    review_k: int
    read_per_input: Counter = field(default_factory=Counter)
    kept_per_input: Counter = field(default_factory=Counter)
    #: (warc_path, stage, removed reason or "", failure kind or "") -> rows
    decided: Counter = field(default_factory=Counter)
    #: breakdown (column, value) -> row and outcome -> column of ``breakdown_counts``
    breakdown_rows: dict[tuple[str, str], int] = field(default_factory=dict)
    breakdown_columns: dict[str, int] = field(default_factory=dict)
    breakdown_counts: np.ndarray = field(default_factory=lambda: np.zeros((0, 0), np.int64))
    groups: dict[tuple[str, ...], list[float]] = field(default_factory=dict)
    sites: Counter = field(default_factory=Counter)
    sites_truncated: bool = False
    kept_columns: set[str] = field(default_factory=set)
    #: (column, population) -> row of ``hist_counts`` and ``hist_moments``
    hist_index: dict[tuple[str, str], int] = field(default_factory=dict)
    _hist_counts: np.ndarray = field(default_factory=lambda: np.zeros((0, GRID_BINS), np.int64))
    _hist_moments: np.ndarray = field(default_factory=lambda: np.zeros((0, 4)))
    #: files' histograms not yet added: (flat index, count) and (row, moments) arrays
    _pending: list[tuple[np.ndarray, ...]] = field(default_factory=list)
    #: a file's histogram names (columns, populations) -> (column, population) index -> row
    _row_tables: dict[tuple[tuple[str, ...], tuple[str, ...]], np.ndarray] = field(default_factory=dict)
    #: (shard, phase) of each file merged; review candidates point into this list
    files: list[tuple[str, str]] = field(default_factory=list)
    #: review candidates as array chunks: (group id, key high 64 bits, low 64 bits, file, row)
    candidates: list[tuple[np.ndarray, ...]] = field(default_factory=list)
    group_ids: dict[str, int] = field(default_factory=dict)
    buffered: int = 0
    #: per group id, the high key bits of its k-th candidate at the last cut: a candidate above
    #: it can never enter the group's k smallest, so it is dropped as it arrives
    _key_limits: np.ndarray = field(default_factory=lambda: np.zeros(0, np.uint64))
    cpu_seconds: Counter = field(default_factory=Counter)
    counters: Counter = field(default_factory=Counter)
    what_if: Counter = field(default_factory=Counter)
    score_tokens: dict[str, np.ndarray] = field(default_factory=dict)

    def add(self, summary: Summary) -> None:
        if summary.stored is None:
            summary = Summary.from_bytes(summary.to_bytes())
        self._add_counts(summary)
        stored = summary.stored
        a = stored.arrays
        rows = self._rows_of(
            stored.hist_columns, stored.hist_populations, a["hist_column"], a["hist_population"]
        )
        self._add_histograms(rows, a["bins"], a["counts"], a["lengths"], a["moments"].reshape(-1, 4))
        self._add_breakdown(
            stored.breakdown_keys,
            stored.breakdown_outcomes,
            a["breakdown_key"],
            a["breakdown_outcome"],
            a["breakdown_count"],
        )
        file = len(self.files)
        self.files.append((summary.shard, summary.phase))
        group_ids = np.array([self._group_id(g) for g in stored.review_groups], np.int64)
        local = a["review_group"].astype(np.int64)
        self._offer(
            (
                group_ids[local] if len(local) else local,
                a["review_key_hi"],
                a["review_key_lo"],
                np.full(len(local), file, np.int64),
                a["review_row"],
            )
        )

    def _add_counts(self, summary: Summary) -> None:
        self.read_per_input[summary.warc_path] += summary.records_read
        self.kept_per_input[summary.warc_path] += summary.kept
        for (stage, removed, failed), n in summary.decided.items():
            self.decided[(summary.warc_path, stage, removed, failed)] += n
        self._add_groups(summary.groups)
        self._add_sites(summary.sites, summary.sites_truncated)
        self.kept_columns.update(summary.kept_columns)
        self.cpu_seconds.update(summary.cpu_seconds)
        self.counters.update(summary.counters)
        self.what_if.update(summary.what_if)
        add_score_tokens(self.score_tokens, summary.score_tokens)

    def _add_groups(self, groups: dict) -> None:
        for key, values in groups.items():
            into = self.groups.get(key)
            if into is None:
                self.groups[key] = list(values)
            else:
                self.groups[key] = [x + y for x, y in zip(into, values, strict=True)]

    def _add_sites(self, sites: dict, truncated: bool) -> None:
        self.sites.update(sites)
        self.sites_truncated |= truncated
        if len(self.sites) > 2 * SITES_KEPT:
            ranked = sorted(self.sites.items(), key=lambda kv: (-kv[1], kv[0]))
            self.sites = Counter(dict(ranked[:SITES_KEPT]))
            self.sites_truncated = True

    def merge(self, other: RunSummary) -> None:
        self.read_per_input.update(other.read_per_input)
        self.kept_per_input.update(other.kept_per_input)
        self.decided.update(other.decided)
        rows, columns = np.nonzero(other.breakdown_counts)
        self._add_breakdown(
            list(other.breakdown_rows),
            list(other.breakdown_columns),
            rows,
            columns,
            other.breakdown_counts[rows, columns],
        )
        self._add_groups(other.groups)
        self._add_sites(other.sites, other.sites_truncated)
        self.kept_columns |= other.kept_columns
        self.cpu_seconds.update(other.cpu_seconds)
        self.counters.update(other.counters)
        self.what_if.update(other.what_if)
        add_score_tokens(self.score_tokens, other.score_tokens)
        keys = list(other.hist_index)  # in row order
        columns, populations = sorted({c for c, _ in keys}), sorted({g for _, g in keys})
        column_of = {c: i for i, c in enumerate(columns)}
        population_of = {g: i for i, g in enumerate(populations)}
        rows = self._rows_of(
            columns, populations, [column_of[c] for c, _ in keys], [population_of[g] for _, g in keys]
        )
        nonzero = other.hist_counts != 0
        hist_rows, bins = np.nonzero(nonzero)
        lengths = np.bincount(hist_rows, minlength=len(keys))
        # A copy: ``other`` may go on adding files into its own moments before these are added.
        self._add_histograms(rows, bins, other.hist_counts[nonzero], lengths, other.hist_moments.copy())
        offset = len(self.files)
        self.files += other.files
        group, hi, lo, file, row = other._bottom()
        names = {n: g for g, n in other.group_ids.items()}
        ids = np.array([self._group_id(names[n]) for n in range(len(names))], np.int64)
        self._offer((ids[group] if len(group) else group, hi, lo, file + offset, row))

    def _add_breakdown(self, keys: list, outcomes: list[str], key_of, outcome_of, counts) -> None:
        """A file's (or a partial merge's) breakdown entries: one numpy addition; Python only
        maps its few names (its languages, its outcomes) to the run's rows and columns."""
        if not len(counts):
            return
        rows = np.array([self.breakdown_rows.setdefault(k, len(self.breakdown_rows)) for k in keys], np.int64)
        columns = np.array(
            [self.breakdown_columns.setdefault(o, len(self.breakdown_columns)) for o in outcomes], np.int64
        )
        shape = (len(self.breakdown_rows), len(self.breakdown_columns))
        if self.breakdown_counts.shape != shape:
            grown = np.zeros(shape, np.int64)
            grown[: self.breakdown_counts.shape[0], : self.breakdown_counts.shape[1]] = self.breakdown_counts
            self.breakdown_counts = grown
        index = (rows[np.asarray(key_of, np.int64)], columns[np.asarray(outcome_of, np.int64)])
        np.add.at(self.breakdown_counts, index, np.asarray(counts).astype(np.int64))

    def breakdown(self) -> Counter:
        """(breakdown column, value, outcome) -> records of the run."""
        keys, outcomes = list(self.breakdown_rows), list(self.breakdown_columns)
        rows, columns = np.nonzero(self.breakdown_counts)
        counts = self.breakdown_counts[rows, columns].tolist()
        return Counter(
            {
                (*keys[r], outcomes[c]): n
                for r, c, n in zip(rows.tolist(), columns.tolist(), counts, strict=True)
            }
        )

    def _rows_of(self, columns: list[str], populations: list[str], column_of, population_of) -> np.ndarray:
        """Rows of the run's histogram arrays for a file's (column, population) pairs. Files of a
        run share their names' lists, so the mapping is a table looked up by index arrays."""
        names = (tuple(columns), tuple(populations))
        table = self._row_tables.get(names)
        if table is None:
            table = self._row_tables[names] = np.full((len(columns), len(populations)), -1, np.int64)
        column_of, population_of = np.asarray(column_of, np.int64), np.asarray(population_of, np.int64)
        rows = table[column_of, population_of]
        if (rows < 0).any():
            missing = zip(column_of[rows < 0].tolist(), population_of[rows < 0].tolist(), strict=True)
            for c, g in dict.fromkeys(missing):
                key = (columns[c], populations[g])
                if key not in self.hist_index:
                    self.hist_index[key] = len(self.hist_index)
                table[c, g] = self.hist_index[key]
            rows = table[column_of, population_of]
        return rows

    def _add_histograms(self, rows, bins, counts, lengths, moments) -> None:
        """One file's sparse histograms, added with many other files' in a few vectorized
        operations (``_flush_histograms``)."""
        if not len(rows):
            return
        flat = np.repeat(rows, lengths) * GRID_BINS + bins.astype(np.int64)
        self._pending.append((flat, counts, rows, moments))
        if len(self._pending) >= HISTOGRAM_BATCH:
            self._flush_histograms()

    def _flush_histograms(self) -> None:
        grow = len(self.hist_index) - len(self._hist_counts)
        if grow:
            self._hist_counts = np.vstack([self._hist_counts, np.zeros((grow, GRID_BINS), np.int64)])
            empty = np.tile([0.0, 0.0, np.inf, -np.inf], (grow, 1))
            self._hist_moments = np.vstack([self._hist_moments, empty])
        if not self._pending:
            return
        flat, counts, rows, moments = (np.concatenate(parts) for parts in zip(*self._pending, strict=True))
        self._pending = []
        added = np.bincount(flat, weights=counts, minlength=self._hist_counts.size)
        self._hist_counts += added.astype(np.int64).reshape(self._hist_counts.shape)
        # In file order, as one file at a time would: the float sums come out bit for bit the same.
        np.add.at(self._hist_moments[:, 0], rows, moments[:, 0])
        np.add.at(self._hist_moments[:, 1], rows, moments[:, 1])
        np.minimum.at(self._hist_moments[:, 2], rows, moments[:, 2])
        np.maximum.at(self._hist_moments[:, 3], rows, moments[:, 3])

    @property
    def hist_counts(self) -> np.ndarray:
        """(rows of ``hist_index``) x grid bins: the run's histogram counts."""
        self._flush_histograms()
        return self._hist_counts

    @property
    def hist_moments(self) -> np.ndarray:
        """Per row of ``hist_index``: count, sum, min, max of the values."""
        self._flush_histograms()
        return self._hist_moments

    def histogram(self, column: str, group: str) -> tuple[np.ndarray, list[float]] | None:
        row = self.hist_index.get((column, group))
        if row is None:
            return None
        return self.hist_counts[row], self.hist_moments[row].tolist()

    def _group_id(self, group: str) -> int:
        if group not in self.group_ids:
            self.group_ids[group] = len(self.group_ids)
        return self.group_ids[group]

    def _offer(self, chunk: tuple[np.ndarray, ...]) -> None:
        group, hi = chunk[0], chunk[1]
        if not len(group):
            return
        if len(self._key_limits):
            limits = np.full(len(self.group_ids), NO_KEY_LIMIT, np.uint64)
            limits[: len(self._key_limits)] = self._key_limits
            able = hi <= limits[group]
            chunk = tuple(a[able] for a in chunk)
        self.candidates.append(chunk)
        self.buffered += len(chunk[0])
        if self.buffered > REVIEW_BUFFER * max(len(self.group_ids), 1):
            self.candidates = [self._bottom()]
            self.buffered = len(self.candidates[0][0])
            self._key_limits = self._kth_keys(*self.candidates[0][:2])

    def _kth_keys(self, group: np.ndarray, hi: np.ndarray) -> np.ndarray:
        """Per group id, the high key bits of its k-th smallest candidate (the largest key where
        it has fewer than k)."""
        limits = np.full(len(self.group_ids), NO_KEY_LIMIT, np.uint64)
        if not len(hi):
            return limits
        full = np.flatnonzero(np.bincount(group, minlength=len(self.group_ids)) >= self.review_k)
        limits[full] = hi[np.searchsorted(group, full, side="right") - 1]
        return limits

    def _bottom(self) -> tuple[np.ndarray, ...]:
        """Each review group's ``review_k`` candidates of smallest key, in key order."""
        if not self.candidates:
            # The dtypes of real candidates: mixed with int64, uint64 keys would become floats.
            dtypes = (np.int64, np.uint64, np.uint64, np.int64, np.uint32)
            return tuple(np.zeros(0, dtype) for dtype in dtypes)
        group, hi, lo, file, row = (np.concatenate(parts) for parts in zip(*self.candidates, strict=True))
        order = np.lexsort((row, file, lo, hi, group))
        group, hi, lo, file, row = group[order], hi[order], lo[order], file[order], row[order]
        first = np.searchsorted(group, group, side="left")
        keep = np.arange(len(group)) - first < self.review_k
        return group[keep], hi[keep], lo[keep], file[keep], row[keep]

    @property
    def review(self) -> dict[str, list[tuple[int, str, str, int]]]:
        """group -> the run's k candidates of smallest key: (key, shard, phase, row index)."""
        names = {n: g for g, n in self.group_ids.items()}
        out: dict[str, list[tuple[int, str, str, int]]] = {}
        for g, h, low, f, r in zip(*(a.tolist() for a in self._bottom()), strict=True):
            out.setdefault(names[g], []).append(((int(h) << 64) | int(low), *self.files[f], int(r)))
        return dict(sorted(out.items()))


def summary_paths(output_dir: Path) -> list[Path]:
    """The run's per-file summaries (finalize's, each holding both phases of its file)."""
    return RunLayout(output_dir).summaries(FINALIZE)


def _merge_files(paths: list[Path], review_k: int) -> RunSummary:
    run = RunSummary(review_k=review_k)
    for path in paths:
        run.add(Summary.read(path))
    run._flush_histograms()
    return run


#: Files merged per Ray task: the driver then merges one partial per this many files.
FILES_PER_MERGE_TASK = 2000


def merge_run(output_dir: Path, review_k: int) -> RunSummary:
    """Merge every summary of the run: in Ray tasks of ``FILES_PER_MERGE_TASK`` files when Ray is
    up and the run is large, else here; the driver's own work grows with files / that number."""
    paths = summary_paths(output_dir)
    chunks = [paths[i : i + FILES_PER_MERGE_TASK] for i in range(0, len(paths), FILES_PER_MERGE_TASK)]
    if len(chunks) <= 1:
        return _merge_files(paths, review_k)
    import ray

    if not ray.is_initialized():
        parts = (_merge_files(chunk, review_k) for chunk in chunks)
    else:
        task = ray.remote(_merge_files)
        parts = in_order([task.remote(chunk, review_k) for chunk in chunks])
    run = RunSummary(review_k=review_k)
    for part in parts:
        run.merge(part)
    return run


def in_order(refs: list) -> Iterator[RunSummary]:
    """The tasks' partial merges one at a time, in order, each released once taken: the driver
    holds one of them, not all, and the float sums come out the same in every run."""
    import ray

    while refs:
        yield ray.get(refs.pop(0))


def review_rows(output_dir: Path, entries: list[tuple[int, str, str, int]]) -> list[str]:
    """The stored review rows (JSON text) of chosen candidates, read from their files only."""
    by_file: dict[tuple[str, str], list[int]] = defaultdict(list)
    for _, shard, phase, row in entries:
        by_file[(shard, phase)].append(row)
    texts: dict[tuple[str, str, int], str] = {}
    for (shard, phase), rows in by_file.items():
        table = _read_review(RunLayout(output_dir).review_rows(shard, phase))
        for row, text in zip(rows, table.column("row").take(rows).to_pylist(), strict=True):
            texts[(shard, phase, row)] = text
    return [texts[(shard, phase, row)] for _, shard, phase, row in entries]


def _read_review(path: Path) -> pa.Table:
    return read_parquet(path, columns=["row"])
