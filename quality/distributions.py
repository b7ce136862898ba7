"""DIR/distributions.json: what the report plots, computed once from the run's Parquet outputs.

Fixed-bin histograms of document length, language and quality score and every `sig_*`
signal, for kept documents against removed ones (overall and per stage), plus the top sites
and the duplicate clusters. Everything here streams over the Parquet files batch by batch,
reading only the numeric columns it histograms (and the text lengths), so memory stays
bounded whatever the size of the run; the report then reads this small file instead of the
corpus.

Two passes: the first finds each column's range, the second counts into bins fixed from it.
Ledger files are read one by one because their schemas differ (each stage adds its signals).
"""

from __future__ import annotations

import json
import math
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.dataset as ds
import pyarrow.parquet as pq

from crawlsieve.quality.config import ReportConfig
from crawlsieve.quality.mixture import data_files

BATCH_ROWS = 65_536
#: Derived column: characters of the document's text.
LENGTH = "text_chars"
#: The ledger keeps the first 2,000 characters of a removed document's text.
LEDGER_TEXT_CHARS = 2000
BASE_COLUMNS = ("language_score", "quality_score", "token_count", "dup_cluster_size")
LABELS = {
    LENGTH: "Document length (characters)",
    "language_score": "Language score",
    "quality_score": "Quality score",
    "token_count": "Tokens per document",
    "dup_cluster_size": "Duplicate cluster size",
}
KEPT, PASSED, REMOVED = "kept", "passed_filters", "removed"


def report_config(output_dir: Path) -> ReportConfig:
    """The run's report settings, as recorded in stats.json (defaults when absent)."""
    stats_path = output_dir / "stats.json"
    if stats_path.is_file():
        section = json.loads(stats_path.read_text(encoding="utf-8")).get("config", {}).get("report")
        if isinstance(section, dict):
            return ReportConfig.model_validate(section)
    return ReportConfig()


def wanted_columns(schema: pa.Schema) -> list[str]:
    """The numeric columns worth a histogram: scores, token counts and filter signals."""
    names = []
    for schema_field in schema:
        numeric = pa.types.is_integer(schema_field.type) or pa.types.is_floating(schema_field.type)
        if numeric and (schema_field.name in BASE_COLUMNS or schema_field.name.startswith("sig_")):
            names.append(schema_field.name)
    return names


@dataclass
class Source:
    """Parquet files of one population; `ledger` files carry `stage` and `removed` per row."""

    name: str
    files: list[Path]
    ledger: bool = False

    def columns_of(self, path: Path) -> list[str]:
        schema = pq.read_schema(path)
        has_length = LENGTH in schema.names or "text" in schema.names
        return [*([LENGTH] if has_length else []), *wanted_columns(schema)]

    def batches(self, path: Path, columns: list[str]):
        """Yields (group names, {column: float64 numpy array}) per batch, nulls as NaN."""
        schema = pq.read_schema(path)
        read = [c for c in columns if c in schema.names]
        if LENGTH in columns and LENGTH not in schema.names:
            read.append("text")
        if self.ledger:
            read += ["stage", "removed"]
        if not read:
            return
        for batch in pq.ParquetFile(path).iter_batches(batch_size=BATCH_ROWS, columns=sorted(set(read))):
            yield from self._split(batch, columns)

    def _split(self, batch: pa.RecordBatch, columns: list[str]):
        if self.ledger:
            batch = batch.filter(pc.is_valid(batch.column("removed")))
            for stage in pc.unique(batch.column("stage")).to_pylist():
                part = batch.filter(pc.equal(batch.column("stage"), stage))
                yield [REMOVED, f"{REMOVED}:{stage}"], _arrays(part, columns)
        else:
            yield [self.name], _arrays(batch, columns)


def _arrays(batch: pa.RecordBatch, columns: list[str]) -> dict[str, np.ndarray]:
    arrays = {}
    for name in columns:
        if name in batch.schema.names:
            column = batch.column(name)
        elif name == LENGTH and "text" in batch.schema.names:
            column = pc.utf8_length(batch.column("text"))
        else:
            continue
        arrays[name] = column.cast(pa.float64()).to_numpy(zero_copy_only=False)
    return arrays


def _finite(values: np.ndarray) -> np.ndarray:
    return values[np.isfinite(values)]


def bin_edges(low: float, high: float, bins: int) -> tuple[list[float], str]:
    """Fixed edges: [0, 1] for shares, log-spaced for long-tailed counts, else linear.

    Log bins start at 1 (values below count in the first bin) so a log axis can draw them.
    """
    if low >= 0 and high <= 1:
        return np.linspace(0.0, 1.0, bins + 1).tolist(), "linear"
    if low >= 0 and high >= 1000:
        return np.geomspace(1.0, high, bins + 1).tolist(), "log"
    if low == high:
        low, high = low - 0.5, high + 0.5
    return np.linspace(low, high, bins + 1).tolist(), "linear"


@dataclass
class Histogram:
    edges: np.ndarray
    counts: dict[str, np.ndarray] = field(default_factory=dict)
    moments: dict[str, list[float]] = field(default_factory=dict)  # group -> [n, sum, min, max]

    def add(self, group: str, values: np.ndarray) -> None:
        values = _finite(values)
        if not values.size:
            return
        clipped = np.clip(values, self.edges[0], self.edges[-1])
        counts, _ = np.histogram(clipped, bins=self.edges)
        self.counts[group] = self.counts.get(group, np.zeros(len(self.edges) - 1, np.int64)) + counts
        n, total, low, high = self.moments.get(group, [0, 0.0, math.inf, -math.inf])
        self.moments[group] = [
            n + values.size,
            total + float(values.sum()),
            min(low, float(values.min())),
            max(high, float(values.max())),
        ]

    def groups(self) -> dict[str, dict]:
        stage_groups = sorted(g for g in self.counts if g.startswith(f"{REMOVED}:"))
        result = {}
        for group in [KEPT, PASSED, REMOVED, *stage_groups]:
            if group in self.counts:
                n, total, low, high = self.moments[group]
                result[group] = {
                    "counts": self.counts[group].tolist(),
                    "n": int(n),
                    "mean": total / n,
                    "min": low,
                    "max": high,
                }
        return result


def _sources(output_dir: Path) -> list[Source]:
    return [
        Source(KEPT, data_files(output_dir / "data")),
        Source(PASSED, sorted((output_dir / "_work" / "docs").glob("*.parquet"))),
        Source(REMOVED, sorted((output_dir / "_work" / "ledger").glob("*.parquet")), ledger=True),
    ]


def _plan(sources: list[Source]) -> dict[str, dict[str, list[str]]]:
    """source -> file -> columns to read. Kept signals come from DIR/data when the run keeps
    them there; otherwise from the documents that passed the filters (before dedup)."""
    plan: dict[str, dict[str, list[str]]] = {}
    for source in sources:
        plan[source.name] = {str(path): source.columns_of(path) for path in source.files}
    in_data = {c for columns in plan[KEPT].values() for c in columns}
    plan[PASSED] = {
        path: missing
        for path, columns in plan[PASSED].items()
        if (missing := [c for c in columns if c not in in_data])
    }
    return plan


def _ranges(sources: list[Source], plan: dict) -> dict[str, list[float]]:
    ranges: dict[str, list[float]] = {}
    for source in sources:
        for path, columns in plan[source.name].items():
            for _, arrays in source.batches(Path(path), columns):
                for name, values in arrays.items():
                    values = _finite(values)
                    if values.size:
                        low, high = ranges.get(name, [math.inf, -math.inf])
                        ranges[name] = [min(low, float(values.min())), max(high, float(values.max()))]
    return ranges


def _histograms(sources: list[Source], plan: dict, ranges: dict, bins: int) -> dict[str, dict]:
    histograms, scales = {}, {}
    for name, (low, high) in ranges.items():
        edges, scales[name] = bin_edges(low, high, bins)
        histograms[name] = Histogram(np.asarray(edges))
    for source in sources:
        for path, columns in plan[source.name].items():
            for groups, arrays in source.batches(Path(path), columns):
                for name, values in arrays.items():
                    if name not in histograms:
                        continue  # no value anywhere: a signal the run never computed
                    for group in groups:
                        histograms[name].add(group, values)
    ordered = [c for c in (LENGTH, *BASE_COLUMNS) if c in histograms] + sorted(
        c for c in histograms if c.startswith("sig_")
    )
    return {
        name: {
            "label": LABELS.get(name, name.removeprefix("sig_")),
            "scale": scales[name],
            "edges": histograms[name].edges.tolist(),
            "groups": histograms[name].groups(),
        }
        for name in ordered
    }


def top_sites(output_dir: Path, limit: int) -> list[list]:
    """The sites with the most kept documents (value counts merged batch by batch)."""
    counts: Counter = Counter()
    for path in data_files(output_dir / "data"):
        if "site" not in pq.read_schema(path).names:
            continue
        for batch in pq.ParquetFile(path).iter_batches(batch_size=BATCH_ROWS, columns=["site"]):
            for item in pc.value_counts(batch.column("site")).to_pylist():
                if item["values"] is not None:
                    counts[item["values"]] += item["counts"]
    return [[site, n] for site, n in sorted(counts.items(), key=lambda kv: (-kv[1], kv[0]))[:limit]]


def duplicates(output_dir: Path, config: ReportConfig) -> dict:
    """Cluster size counts and the largest clusters with their members' texts."""
    clusters_path = output_dir / "_work" / "dedup" / "clusters.parquet"
    if not clusters_path.exists():
        return {"size_counts": _sizes_from_kept(output_dir), "clusters": [], "source": "dup_cluster_size"}
    clusters = ds.dataset(clusters_path, format="parquet")
    sizes = (
        clusters.to_table(columns=["cluster_id"])
        .group_by("cluster_id")
        .aggregate([("cluster_id", "count")])
    )
    size_counts = Counter(sizes.column("cluster_id_count").to_pylist())
    ranked = sorted(
        zip(
            sizes.column("cluster_id").to_pylist(),
            sizes.column("cluster_id_count").to_pylist(),
            strict=True,
        ),
        key=lambda item: (-item[1], str(item[0])),
    )[: config.duplicate_clusters_shown]
    examples = []
    if ranked:
        members = clusters.to_table(
            columns=["cluster_id", "id", "kept"],
            filter=pc.field("cluster_id").isin(pa.array([cid for cid, _ in ranked])),
        ).to_pylist()
        texts = _texts_of(output_dir, {m["id"] for m in members}, config.example_text_chars)
        for cluster_id, size in ranked:
            shown = sorted(
                (m for m in members if m["cluster_id"] == cluster_id),
                key=lambda m: (not m["kept"], m["id"]),
            )[: config.cluster_members_shown]
            examples.append(
                {
                    "cluster_id": str(cluster_id),
                    "size": size,
                    "members": [
                        {**texts.get(m["id"], {"id": m["id"]}), "kept": bool(m["kept"])} for m in shown
                    ],
                }
            )
    return {
        "size_counts": {str(k): v for k, v in sorted(size_counts.items())},
        "clusters": examples,
        "source": "clusters",
    }


def _sizes_from_kept(output_dir: Path) -> dict[str, int]:
    """Without a clusters file: each kept document stands for its cluster (one survivor each)."""
    counts: Counter = Counter()
    for path in data_files(output_dir / "data"):
        if "dup_cluster_size" not in pq.read_schema(path).names:
            continue
        for batch in pq.ParquetFile(path).iter_batches(batch_size=BATCH_ROWS, columns=["dup_cluster_size"]):
            counts.update(v for v in batch.column("dup_cluster_size").to_pylist() if v and v > 1)
    return {str(k): v for k, v in sorted(counts.items())}


def _texts_of(output_dir: Path, ids: set[str], chars: int) -> dict[str, dict]:
    """url and start of text of a few documents, kept (DIR/data) or removed (the ledger)."""
    wanted = pa.array(sorted(ids), pa.string())
    found: dict[str, dict] = {}
    files = [
        *data_files(output_dir / "data"),
        *sorted((output_dir / "_work" / "ledger").glob("*.parquet")),
    ]
    for path in files:
        names = pq.read_schema(path).names
        if not {"id", "text"} <= set(names):
            continue
        columns = [c for c in ("id", "url", "text") if c in names]
        table = pq.read_table(path, columns=columns, filters=pc.field("id").isin(wanted))
        for row in table.to_pylist():
            found.setdefault(row["id"], {**row, "text": (row.get("text") or "")[:chars]})
    return found


def _notes(columns: dict[str, dict]) -> dict[str, str]:
    """Caveats the report prints next to the charts they apply to."""
    notes = {}
    if REMOVED in columns.get(LENGTH, {}).get("groups", {}):
        notes[LENGTH] = (
            f"removed documents' lengths count at most the {LEDGER_TEXT_CHARS:,} characters the ledger "
            "keeps, unless the ledger records text_chars"
        )
    if any(PASSED in column["groups"] for column in columns.values()):
        notes[PASSED] = (
            "signals not kept in DIR/data are shown for the documents that passed the filters (before dedup)"
        )
    return notes


def build_distributions(output_dir: Path, config: ReportConfig | None = None) -> dict:
    """Compute the report's distributions and write DIR/distributions.json."""
    output_dir = Path(output_dir)
    config = config or report_config(output_dir)
    sources = _sources(output_dir)
    plan = _plan(sources)
    ranges = _ranges(sources, plan)
    columns = _histograms(sources, plan, ranges, config.histogram_bins)
    result = {
        "bins": config.histogram_bins,
        "columns": columns,
        "notes": _notes(columns),
        "top_sites": top_sites(output_dir, config.top_sites),
        "duplicates": duplicates(output_dir, config),
    }
    (output_dir / "distributions.json").write_text(
        json.dumps(result, ensure_ascii=False, allow_nan=False) + "\n", encoding="utf-8"
    )
    return result
