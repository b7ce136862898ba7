"""The report of a 1-million-document run: how big the page is and how long it takes to build.

    .venv/bin/python -m benchmarks.report_scale [--documents 1000000] [--keep DIR]

Generates what such a run leaves in DIR, with the run's own shapes: stats.json (1,000 input
files, 40 removal reasons, 6 failure kinds), mixture.json (20 domains x 40 languages),
review/ samples (20 per reason, 2,000 characters each), DIR/data with 60% of the documents
kept and the ledger with the rest (numeric columns, 12 signals, texts of a few characters:
the report never reads the corpus's texts, only lengths), and 50,000 duplicate clusters.
Then times `build_distributions` (which streams over every Parquet file) and `build_report`,
and prints both with the page size. Acceptance: the page is under 10 MB and builds in seconds.
"""

from __future__ import annotations

import argparse
import json
import shutil
import tempfile
import time
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq

from crawlsieve.quality.distributions import build_distributions
from crawlsieve.quality.report import build_report
from crawlsieve.quality.review import reason_file_name

STAGES = ["http", "url_filter", "extract", "language", "heuristic_filters", "quality_classifier", "dedup"]
FILTERS = ["gopher_quality", "gopher_repetition", "c4", "fineweb_quality"]
SIGNALS = [f"sig_{f}_{s}" for f in FILTERS for s in ("a", "b", "c")]
FAILURES = [
    "corrupt_warc",
    "extract_timeout",
    "extract_error",
    "decode_error",
    "payload_too_large",
    "url_filter_error",
]


def reasons() -> list[tuple[str, str]]:
    """40 (stage, reason) pairs, as a real run's filters name them."""
    pairs = [("http", "not_response"), ("http", "not_html"), ("language", "language:low_score")]
    pairs += [("heuristic_filters", f"{f}:rule_{i}") for f in FILTERS for i in range(9)]
    return (
        pairs
        + [("dedup", "dedup:exact"), ("dedup", "dedup:near"), ("quality_classifier", "quality:low")][
            : 40 - len(pairs)
        ]
    )


def write_parquet_parts(directory: Path, prefix: str, rows: int, parts: int, rng, extra) -> None:
    directory.mkdir(parents=True, exist_ok=True)
    start = 0
    for part in range(parts):
        n = rows // parts + (1 if part < rows % parts else 0)
        ids = [f"{prefix}{i}" for i in range(start, start + n)]
        columns = {
            "id": ids,
            "url": [f"https://site{i % 5000}.example/{i}" for i in range(start, start + n)],
            "text": [f"text of {i}" for i in ids],
            "text_chars": rng.lognormal(7.5, 1.2, n).astype(np.int64),
            "language_score": rng.beta(8, 1, n),
            "quality_score": rng.beta(2, 2, n),
        }
        columns.update(extra(n, start))
        pq.write_table(pa.table(columns), directory / f"part-{part:04d}.parquet")
        start += n


def generate(root: Path, documents: int, rng) -> None:
    kept, removed = int(documents * 0.6), documents - int(documents * 0.6)
    pairs = reasons()
    weights = rng.dirichlet(np.ones(len(pairs)))
    removed_counts = {reason: int(w * removed * 0.98) for (_, reason), w in zip(pairs, weights, strict=True)}
    failed = documents - kept - sum(removed_counts.values())
    failed_counts = dict(
        zip(FAILURES, np.bincount(rng.integers(0, len(FAILURES), failed), minlength=6).tolist(), strict=True)
    )
    inputs = {
        f"s3://commoncrawl/crawl-data/CC-MAIN-2024-10/segments/{i}/warc/CC-MAIN-{i:05d}.warc.gz": {
            "records_read": documents // 1000,
            "documents_kept": kept // 1000,
            "removed": {r: n // 1000 for r, n in list(removed_counts.items())[:8]},
            "failed": {"corrupt_warc": 1} if i % 50 == 0 else {},
            "accounting_closes": True,
        }
        for i in range(1000)
    }
    alive, stages = documents, []
    for stage in ["read", *STAGES]:
        stage_removed = {r: removed_counts[r] for s, r in pairs if s == stage}
        stage_failed = {"extract_timeout": failed_counts["extract_timeout"]} if stage == "extract" else {}
        out = alive - sum(stage_removed.values()) - sum(stage_failed.values())
        stages.append(
            {"name": stage, "in": alive, "out": out, "removed": stage_removed, "failed": stage_failed}
        )
        alive = out
    stats = {
        "records_read": documents,
        "documents_kept": kept,
        "removed": removed_counts,
        "failed": failed_counts,
        "accounting_closes": True,
        "stages": stages,
        "inputs": inputs,
        "version": "bench",
        "duration_seconds": 3600.0,
        "config": {"report": {}},
    }
    root.mkdir(parents=True, exist_ok=True)
    (root / "stats.json").write_text(json.dumps(stats), encoding="utf-8")
    groups = [
        {
            "domain": f"domain{d}",
            "language": f"l{lang}",
            "documents": kept // 800,
            "tokens": int(rng.integers(1e5, 1e8)),
            "bytes": int(rng.integers(1e6, 1e9)),
            "mean_quality": float(rng.random()),
            "weight": 1 / 800,
        }
        for d in range(20)
        for lang in range(40)
    ]
    (root / "mixture.json").write_text(
        json.dumps({"groups": groups, "totals": {"documents": kept}}), encoding="utf-8"
    )
    text = ("Lorem <b>ipsum</b> dolor sit amet, consectetur adipiscing elit. " * 40)[:2000]
    for _, reason in [*pairs, ("extract", "failed:extract_timeout")]:
        path = root / "review" / "removed" / reason_file_name(reason)
        path.parent.mkdir(parents=True, exist_ok=True)
        rows = [
            {
                "id": f"r{i}",
                "url": f"https://example.com/{i}",
                "reason": reason,
                "stage": "s",
                "text": text,
                "language": "en",
                "language_score": 0.9,
                "quality_score": 0.5,
                "signals": {s: 1.5 for s in SIGNALS},
            }
            for i in range(20)
        ]
        path.write_text("".join(json.dumps(r) + "\n" for r in rows), encoding="utf-8")
    (root / "review" / "kept.jsonl").write_text(
        json.dumps({"id": "k", "text": text}) + "\n", encoding="utf-8"
    )

    def kept_extra(n, start):
        return {
            "site": [f"site{(start + i) % 5000}.example" for i in range(n)],
            "token_count": rng.lognormal(6.5, 1.2, n).astype(np.int64),
            "dup_cluster_size": np.where(rng.random(n) < 0.08, rng.integers(2, 30, n), 1),
        }

    def ledger_extra(n, start):
        chosen = rng.integers(0, len(pairs), n)
        return {
            "stage": [pairs[c][0] for c in chosen],
            "removed": [pairs[c][1] for c in chosen],
            "failed": pa.nulls(n, pa.string()),
            **{s: rng.gamma(2.0, 10.0 ** rng.integers(-1, 4), n) for s in SIGNALS},
        }

    write_parquet_parts(root / "data" / "domain=web" / "language=en", "k", kept, 60, rng, kept_extra)
    write_parquet_parts(root / "_work" / "ledger", "r", removed, 100, rng, ledger_extra)
    clusters, size = 50_000, 4
    (root / "_work" / "dedup").mkdir(parents=True, exist_ok=True)
    pq.write_table(
        pa.table(
            {
                "cluster_id": np.repeat(np.arange(clusters), size),
                "id": [
                    f"k{c}" if m == 0 else f"r{c * size + m}" for c in range(clusters) for m in range(size)
                ],
                "kept": np.tile([True, False, False, False], clusters),
            }
        ),
        root / "_work" / "dedup" / "clusters.parquet",
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--documents", type=int, default=1_000_000)
    parser.add_argument("--keep", metavar="DIR", help="write the generated run here and keep it")
    args = parser.parse_args()
    root = Path(args.keep) if args.keep else Path(tempfile.mkdtemp(prefix="crawlsieve-report-bench-"))
    try:
        started = time.perf_counter()
        generate(root, args.documents, np.random.default_rng(7))
        print(f"generated a {args.documents:,}-document run in {time.perf_counter() - started:.1f} s: {root}")
        started = time.perf_counter()
        build_distributions(root)
        distributions_seconds = time.perf_counter() - started
        started = time.perf_counter()
        report = build_report(root)
        report_seconds = time.perf_counter() - started
        size = report.stat().st_size
        print(f"build_distributions: {distributions_seconds:.2f} s (streams over {args.documents:,} rows)")
        print(f"build_report:        {report_seconds:.2f} s")
        print(f"report.html:         {size / 1e6:.2f} MB ({size:,} bytes; plotly.js is 4.8 MB of it)")
        print(f"distributions.json:  {(root / 'distributions.json').stat().st_size / 1e3:.1f} kB")
        ok = size < 10_000_000 and report_seconds < 10
        print("acceptance (< 10 MB, builds in seconds):", "PASS" if ok else "FAIL")
    finally:
        if not args.keep:
            shutil.rmtree(root, ignore_errors=True)


if __name__ == "__main__":
    main()
