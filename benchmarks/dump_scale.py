"""The end of a whole-dump run on the driver: merging 1,000 to 90,000 per-file summaries.

    .venv/bin/python -m benchmarks.dump_scale [--sizes 1000 10000 90000] [--work /tmp/dump-scale]

A Common Crawl dump is ~90,000 files. For each size this writes that many synthetic per-file
summaries with the shape of a real Common Crawl file's (``quality.summaries``: ~90,000 records,
~30,000 pages, ~25 removal reasons and failure kinds, the same per language for 10 main and ~10
rare languages, ~40 (domain, language) groups, the top 100 sites, grid histograms of ~45 columns
in 6 populations, 20 review candidates in each of ~20 groups, and the review rows beside them;
one per file, both phases in it, as finalize writes them), then runs phase D alone on a local Ray
the way a run does (``pipelines.run.aggregate``: merge, stats.json, review/, mixture.json,
distributions.json, report.html) and prints its wall time and the driver's peak resident memory.
Targets for 90,000 files: <= 60 s and <= 2 GiB. Prints, does not assert.
"""

from __future__ import annotations

import argparse
import random
import shutil
import subprocess
import sys
import tempfile
import time
from collections import Counter
from pathlib import Path

import numpy as np
import pyarrow as pa

from crawlsieve.core.io import write_atomically
from crawlsieve.core.layout import FINALIZE, RunLayout
from crawlsieve.quality.summaries import (
    KEPT,
    NO_VALUE,
    PASSED,
    REMOVED_DOCS,
    Histograms,
    Summary,
    review_group,
)

REASONS = [
    ("http", "not_response", ""),
    ("http", "http_status", ""),
    ("http", "not_html", ""),
    ("url_filter", "url:blocklist", ""),
    ("url_filter", "url:soft_words", ""),
    ("dedup_payload", "dedup:payload", ""),
    ("extract", "extract:empty", ""),
    ("extract", "", "extract_timeout"),
    ("language", "language:low_score", ""),
    ("heuristic_filters", "fineweb_quality:line_punct_ratio", ""),
    ("heuristic_filters", "fineweb_quality:char_dup_ratio", ""),
    ("heuristic_filters", "fineweb_quality:short_line_ratio", ""),
    ("heuristic_filters", "gopher_quality:word_count", ""),
    ("heuristic_filters", "gopher_quality:stop_words", ""),
    ("heuristic_filters", "gopher_quality:alpha_ratio", ""),
    ("heuristic_filters", "gopher_repetition:dup_line_frac", ""),
    ("heuristic_filters", "gopher_repetition:top_2_gram", ""),
    ("heuristic_filters", "c4:too_few_sentences", ""),
    ("heuristic_filters", "c4:curly_bracket", ""),
    ("heuristic_filters", "compression:ratio", ""),
    ("read", "", "corrupt_warc"),
    ("read", "", "payload_too_large"),
]
FINAL_REASONS = [("dedup", "dedup:exact", ""), ("dedup", "dedup:near", "")]
DOMAINS = ["news", "reference", "forum", "code", "science", "government", "commerce", "personal", "other"]
LANGUAGES = ["en", "de", "fr", "es", "ru", "ja", "zh", "pt", "it", "pl"]
#: The languages lid.176 finds in a file beyond the main ones: a long tail of a few pages each.
RARE_LANGUAGES = [f"x{i:02d}" for i in range(30)]
#: Decided before language identification: these rows have no language (``NO_VALUE``).
BEFORE_LANGUAGE = {"read", "http", "url_filter", "dedup_payload", "extract"}
COLUMNS = ["text_chars", "language_score", "quality_score", "token_count"] + [
    f"sig_filter_{i}" for i in range(41)
]
REVIEW_GROUPS = [r or f"failed:{k}" for _, r, k in REASONS + FINAL_REASONS] + ["kept"]


def _histograms(rng: np.random.Generator, groups: list[str]) -> Histograms:
    histograms = Histograms()
    for group in groups:
        for column in COLUMNS:
            if column.startswith("sig_") or column in ("text_chars", "token_count"):
                values = (
                    rng.lognormal(3, 1.5, 600)
                    if column.endswith(("chars", "count", "0"))
                    else rng.random(600)
                )
            else:
                values = rng.random(600)
            histograms.add_values(column, group, values)
    return histograms


def _by_language(rng: np.random.Generator, decided: Counter) -> Counter:
    """The file's records per language and outcome: before language identification all under
    NO_VALUE, after it every main language with each reason, the rare ones with a third of them."""
    out: Counter = Counter()
    for lang in LANGUAGES + RARE_LANGUAGES:
        out[("language", lang, KEPT)] = int(rng.integers(1, 2000))
    for (stage, reason, kind), n in decided.items():
        outcome = review_group(reason, kind)
        if stage in BEFORE_LANGUAGE:
            out[("language", NO_VALUE, outcome)] += n
            continue
        for lang in LANGUAGES + [x for x in RARE_LANGUAGES if rng.random() < 0.3]:
            out[("language", lang, outcome)] += max(1, n // 20)
    return out


def templates(count: int, seed: int) -> list[Summary]:
    """Per-file summaries (both phases of a file, as finalize writes them) of realistic size; the
    files reuse them with their own names."""
    rng = np.random.default_rng(seed)
    out = []
    for _ in range(count):
        summary = Summary(shard="", phase=FINALIZE, records_read=90_000, kept=9_000)
        summary.decided.update({key: int(rng.integers(1, 2000)) for key in REASONS + FINAL_REASONS})
        summary.decided[REASONS[0]] = 60_000
        summary.breakdown = _by_language(rng, summary.decided)
        summary.histograms = _histograms(
            rng,
            [
                PASSED,
                f"{REMOVED_DOCS}:heuristic_filters",
                f"{REMOVED_DOCS}:language",
                KEPT,
                f"{REMOVED_DOCS}:dedup",
            ],
        )
        summary.groups = {
            (d, lang): [
                int(rng.integers(1, 500)),
                int(rng.integers(1000, 10**6)),
                int(rng.integers(1000, 10**7)),
                1.0,
                1,
            ]
            for d in DOMAINS
            for lang in LANGUAGES[:4]
            if rng.random() < 0.9
        }
        summary.sites = {
            f"site{int(rng.integers(0, 10**7))}.example": int(rng.integers(1, 9)) for _ in range(100)
        }
        summary.sites_truncated = True
        summary.kept_columns = COLUMNS[:20]
        parts = ("read", "extract", "language", "heuristic_filters", "ledger", "site", "domain", "tokens")
        summary.cpu_seconds = {name: float(rng.random() * 100) for name in parts}
        out.append(summary)
    return out


def write_run(root: Path, files: int, review_k: int = 20, seed: int = 0) -> None:
    """``files`` per-file summaries (and their review rows) under ``root/_work``."""
    rng = random.Random(seed)
    kinds = templates(16, seed)
    row = '{"id": "x", "url": "https://example.org/", "reason": "r", "text": "' + "w " * 200 + '"}'
    groups = REVIEW_GROUPS
    rows = pa.table(
        {"group": [g for g in groups for _ in range(review_k)], "row": [row] * (len(groups) * review_k)}
    )
    for i in range(files):
        shard = f"CC-MAIN-20240220000000-{i:05d}-{i:08x}"
        summary = kinds[i % len(kinds)]
        summary.shard = shard
        summary.warc_path = f"s3://commoncrawl/crawl-data/CC-MAIN-2024-10/segments/x/warc/{shard}.warc.gz"
        summary.review = {
            g: [(rng.getrandbits(128), n * review_k + j) for j in range(review_k)]
            for n, g in enumerate(groups)
        }
        layout = RunLayout(root)
        summary_path, review_path = layout.summary(shard, FINALIZE), layout.review_rows(shard, FINALIZE)
        write_atomically(rows, review_path, compression="zstd")
        summary.write(summary_path)


PHASE_D = """
import json, resource, sys, time
from pathlib import Path
from crawlsieve.pipelines.config import Config
from crawlsieve.pipelines.ray_runtime import init_ray
from crawlsieve.pipelines.run import RunState, aggregate
from crawlsieve.pipelines.extract_phase import stage_names
config = Config()
config.ray.num_cpus = int(sys.argv[2])
init_ray(config)
stage_names(config)  # imports what a run's driver has imported long before its end
started = time.perf_counter()
stats = aggregate(RunState(Path(sys.argv[1]), config), {})
seconds = time.perf_counter() - started
peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024
print(json.dumps({"seconds": seconds, "peak": peak, "records": stats["records_read"]}))
"""


def phase_d(root: Path, cpus: int) -> dict:
    """Phase D in a fresh driver process, so its peak memory is its own."""
    import json

    result = subprocess.run(
        [sys.executable, "-c", PHASE_D, str(root), str(cpus)], capture_output=True, text=True, check=True
    )
    return json.loads(result.stdout.strip().splitlines()[-1])


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=[1000, 10_000, 90_000])
    parser.add_argument("--work", type=Path, default=Path(tempfile.gettempdir()) / "crawlsieve-dump-scale")
    parser.add_argument("--cpus", type=int, default=2)
    args = parser.parse_args(argv)
    rows = [["files", "records", "write s", "phase D s", "s / 1,000 files", "driver peak RSS"]]
    for files in args.sizes:
        root = args.work / f"run-{files}"
        shutil.rmtree(root, ignore_errors=True)
        started = time.perf_counter()
        write_run(root, files)
        written = time.perf_counter() - started
        result = phase_d(root, args.cpus)
        rows.append(
            [
                f"{files:,}",
                f"{result['records']:,}",
                f"{written:.0f}",
                f"{result['seconds']:.1f}",
                f"{1000 * result['seconds'] / files:.2f}",
                f"{result['peak'] / 2**30:.2f} GiB",
            ]
        )
        print(" | ".join(rows[-1]), file=sys.stderr, flush=True)
        shutil.rmtree(root, ignore_errors=True)
    widths = [max(len(r[i]) for r in rows) for i in range(len(rows[0]))]
    for n, row in enumerate(rows):
        print("  ".join(cell.rjust(w) for cell, w in zip(row, widths, strict=True)))
        if n == 0:
            print("  ".join("-" * w for w in widths))
    last = rows[-1]
    per_file = float(last[4]) / 1000
    print(f"\nprojection: a 90,000-file dump's phase D at {per_file * 1000:.2f} s per 1,000 files: ", end="")
    print(f"{per_file * 90_000:.0f} s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
