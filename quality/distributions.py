"""DIR/distributions.json: what the report plots, merged from the run's per-file summaries.

Histograms of document length, language and quality score and every `sig_*` signal, for kept
documents against removed ones (overall and per stage), plus the top sites and the duplicate
clusters. Each task counted its file's values on one fixed grid (``quality.summaries.GRID``),
so the run's histograms are sums, computed without reading a record; the bins shown are the
grid's, chosen by each column's range. The report then reads this small file.
"""

from __future__ import annotations

import json
from collections import defaultdict
from pathlib import Path

import numpy as np
from pydantic import ValidationError

from crawlsieve.core.errors import UsageError
from crawlsieve.core.io import read_json, read_parquet, write_bytes_atomically
from crawlsieve.core.layout import RunLayout
from crawlsieve.core.ledger import LEDGER_TEXT_CHARS
from crawlsieve.quality.config import ReportConfig
from crawlsieve.quality.summaries import (
    BASE_COLUMNS,
    GRID,
    KEPT,
    LENGTH,
    LINEAR_BINS,
    NEGATIVE_BINS,
    PASSED,
    REMOVED_DOCS,
    RunSummary,
    grid_bins,
    merge_run,
)

LABELS = {
    LENGTH: "Document length (characters)",
    "language_score": "Language score",
    "quality_score": "Quality score",
    "token_count": "Tokens per document",
    "dup_cluster_size": "Duplicate cluster size",
}


def report_config(output_dir: Path) -> ReportConfig:
    """The run's report settings, as recorded in stats.json (defaults when absent)."""
    stats_path = RunLayout(output_dir).stats
    if stats_path.is_file():
        config = read_json(stats_path).get("config")
        section = config.get("report") if isinstance(config, dict) else None
        if isinstance(section, dict):
            try:
                return ReportConfig.model_validate(section)
            except ValidationError as error:
                first = error.errors()[0]
                key = ".".join(str(part) for part in first["loc"])
                raise UsageError(f"{stats_path} is damaged: config.report.{key}: {first['msg']}") from None
    return ReportConfig()


def display_bins(counts: np.ndarray, low: float, high: float) -> tuple[list[float], list[int], str]:
    """Edges and counts to show for a column, from its counts on the fixed grid and its range.

    Values within [0, 1] (scores, shares): the grid's 40 linear bins. Other non-negative values
    (lengths, counts, ratios): the grid's log bins from 1 to the bin holding the maximum, the first
    one also holding what is below it (so a log axis can draw it). With negative values: the grid
    from the minimum's bin to the maximum's.
    """
    linear = slice(NEGATIVE_BINS, NEGATIVE_BINS + LINEAR_BINS)
    if low >= 0 and high <= 1:
        return (
            GRID[NEGATIVE_BINS : NEGATIVE_BINS + LINEAR_BINS + 1].tolist(),
            counts[linear].tolist(),
            "linear",
        )
    if low >= 0:
        first_log = NEGATIVE_BINS + LINEAR_BINS
        last = int(grid_bins(np.array([high]))[0])
        shown = counts[first_log : last + 1].copy()
        shown[0] += counts[:first_log].sum()
        return GRID[first_log : last + 2].tolist(), shown.tolist(), "log"
    first, last = (int(i) for i in grid_bins(np.array([low, high])))
    return GRID[first : last + 2].tolist(), counts[first : last + 1].tolist(), "linear"


def _columns(run: RunSummary) -> dict[str, dict]:
    """Per column, per population (kept, passed_filters, removed, removed:<stage>): counts on the
    shown bins, n, mean, min and max. Kept values of a column the published rows hold come from
    them; of any other column, from the documents that passed the filters (before dedup)."""
    by_column: dict[str, dict[str, tuple[np.ndarray, list[float]]]] = defaultdict(dict)
    for column, group in run.hist_index:
        if group == PASSED and column in run.kept_columns:
            continue
        by_column[column][group] = run.histogram(column, group)
    result = {}
    ordered = [c for c in (LENGTH, *BASE_COLUMNS) if c in by_column] + sorted(
        c for c in by_column if c.startswith("sig_")
    )
    for name in ordered:
        groups = by_column[name]
        removed = [g for g in groups if g.startswith(f"{REMOVED_DOCS}:")]
        if removed:
            counts = sum(groups[g][0] for g in removed)
            moments = [groups[g][1] for g in removed]
            groups[REMOVED_DOCS] = (
                counts,
                [
                    sum(m[0] for m in moments),
                    sum(m[1] for m in moments),
                    min(m[2] for m in moments),
                    max(m[3] for m in moments),
                ],
            )
        low = min(m[2] for _, m in groups.values())
        high = max(m[3] for _, m in groups.values())
        shown_groups = {}
        edges, scale = None, "linear"
        for group in [KEPT, PASSED, REMOVED_DOCS, *sorted(removed)]:
            if group not in groups or not groups[group][1][0]:
                continue
            counts, (n, total, minimum, maximum) = groups[group]
            edges, shown, scale = display_bins(counts, low, high)
            shown_groups[group] = {
                "counts": shown,
                "n": int(n),
                "mean": total / n,
                "min": minimum,
                "max": maximum,
            }
        if shown_groups:
            result[name] = {
                "label": LABELS.get(name, name.removeprefix("sig_")),
                "scale": scale,
                "edges": edges,
                "groups": shown_groups,
            }
    return result


def top_sites(run: RunSummary, limit: int) -> list[list]:
    """The sites with the most kept documents (exact while no file listed more sites than its
    summary keeps: ``summaries.SITES_PER_FILE``)."""
    return [[site, n] for site, n in sorted(run.sites.items(), key=lambda kv: (-kv[1], kv[0]))[:limit]]


def duplicates(output_dir: Path, config: ReportConfig) -> dict:
    """Cluster size counts and the largest clusters with their members' texts, as the dedup step
    and finalize wrote them (``dedup.cluster_facts``): no document file is read here."""
    layout = RunLayout(output_dir)
    facts = {"size_counts": {}, "clusters": []}
    if layout.duplicates.is_file():
        facts = read_json(layout.duplicates)
    shown = facts["clusters"][: config.duplicate_clusters_shown]
    shards = sorted({m["shard"] for c in shown for m in c["members"]})
    texts: dict[str, dict] = {}
    for shard in shards:
        path = layout.cluster_examples(shard)
        if path.is_file():
            for row in read_parquet(path).to_pylist():
                texts[row["id"]] = row
    examples = [
        {
            "cluster_id": str(cluster["cluster_id"]),
            "size": cluster["size"],
            "members": [
                {**texts.get(m["id"], {"id": m["id"]}), "kept": bool(m["kept"])}
                for m in cluster["members"][: config.cluster_members_shown]
            ],
        }
        for cluster in shown
    ]
    return {"size_counts": facts["size_counts"], "clusters": examples, "source": "clusters"}


def _notes(columns: dict[str, dict]) -> dict[str, str]:
    """Caveats the report prints next to the charts they apply to."""
    notes = {}
    if REMOVED_DOCS in columns.get(LENGTH, {}).get("groups", {}):
        notes[LENGTH] = (
            f"removed documents' lengths count at most the {LEDGER_TEXT_CHARS:,} characters the ledger "
            "keeps, unless the ledger records text_chars"
        )
    if any(PASSED in column["groups"] for column in columns.values()):
        notes[PASSED] = (
            "signals not kept in DIR/data are shown for the documents that passed the filters (before dedup)"
        )
    return notes


def build_distributions(
    output_dir: Path, config: ReportConfig | None = None, run: RunSummary | None = None
) -> dict:
    """Compute the report's distributions from the run's summaries and write DIR/distributions.json."""
    output_dir = Path(output_dir)
    config = config or report_config(output_dir)
    run = run or merge_run(output_dir, config.review_per_reason)
    columns = _columns(run)
    result = {
        "bins": "fixed grid (quality.summaries.GRID)",
        "columns": columns,
        "notes": _notes(columns),
        "top_sites": top_sites(run, config.top_sites),
        "top_sites_exact": not run.sites_truncated,
        "duplicates": duplicates(output_dir, config),
    }
    text = json.dumps(result, ensure_ascii=False, allow_nan=False) + "\n"
    write_bytes_atomically(text.encode("utf-8"), RunLayout(output_dir).distributions)
    return result
