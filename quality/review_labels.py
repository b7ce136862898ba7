"""`crawlsieve review DIR --labels labels.jsonl`: reviewers' labels turned into filter precision.

Reviewers read the samples in DIR/review/ and label documents `good` (should have been kept)
or `bad` (rightly removed). A filter's precision is the share of its removed documents that
are bad; with a few dozen labels that estimate is rough, so each comes with a Wilson score
interval (sound for small samples and for shares near 0 or 1, where the normal
approximation is not). The result goes to DIR/review/precision.json and into the report.
"""

from __future__ import annotations

import argparse
import json
import math
from collections import Counter, defaultdict
from pathlib import Path
from statistics import NormalDist

from crawlsieve.core.io import write_bytes_atomically
from crawlsieve.core.layout import RunLayout

HELP = "Add reviewers' good/bad labels on the review/ samples to the report as per-filter precision."
LABELS = ("good", "bad")
KEPT = "kept"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("directory", metavar="DIR", help="output directory of `crawlsieve run`")
    parser.add_argument(
        "--labels",
        required=True,
        metavar="FILE",
        help='JSONL, one {"id": ..., "label": "good"|"bad"} per line (ids from DIR/review/)',
    )


def wilson_interval(hits: int, n: int, confidence: float = 0.95) -> tuple[float, float]:
    """Wilson score interval of a binomial share `hits / n` (written out: one formula,
    and the stats libraries that have it are not dependencies of crawlsieve)."""
    if n <= 0:
        return 0.0, 1.0
    z = NormalDist().inv_cdf(0.5 + confidence / 2)
    share = hits / n
    denominator = 1 + z * z / n
    centre = (share + z * z / (2 * n)) / denominator
    half = z / denominator * math.sqrt(share * (1 - share) / n + z * z / (4 * n * n))
    return max(0.0, centre - half), min(1.0, centre + half)


def estimate(hits: int, n: int, confidence: float, hit_label: str) -> dict:
    low, high = wilson_interval(hits, n, confidence)
    return {
        "labelled": n,
        hit_label: hits,
        ("good" if hit_label == "bad" else "bad"): n - hits,
        "precision": hits / n if n else 0.0,
        "low": low,
        "high": high,
    }


def read_labels(path: Path) -> dict[str, str]:
    """id -> label; a later line for the same id replaces an earlier one (a corrected label)."""
    from crawlsieve.core.errors import UsageError

    try:
        lines = path.read_text(encoding="utf-8").splitlines()
    except (OSError, UnicodeDecodeError) as error:
        raise UsageError(f"cannot read labels {path}: {error}") from None
    labels: dict[str, str] = {}
    for number, line in enumerate(lines, start=1):
        if not line.strip():
            continue
        try:
            row = json.loads(line)
        except ValueError:
            raise UsageError(f"{path}:{number}: not a JSON object") from None
        if not isinstance(row, dict) or not isinstance(row.get("id"), str):
            raise UsageError(f'{path}:{number}: expected {{"id": "...", "label": "good"|"bad"}}')
        label = str(row.get("label", "")).strip().lower()
        if label not in LABELS:
            raise UsageError(f"{path}:{number}: label must be good or bad, not {row.get('label')!r}")
        labels[row["id"]] = label
    return labels


def sampled_groups(layout: RunLayout) -> dict[str, str]:
    """id -> the reason it was sampled for (`kept` for kept documents), from DIR/review/."""
    groups: dict[str, str] = {}
    files = [*sorted(layout.review_removed_dir.glob("*.jsonl")), layout.review_kept]
    for path in files:
        if not path.is_file():
            continue
        with open(path, encoding="utf-8", errors="replace") as handle:
            for line in handle:
                try:
                    row = json.loads(line)
                except ValueError:
                    continue
                if isinstance(row, dict) and isinstance(row.get("id"), str):
                    groups[row["id"]] = row.get("reason") or KEPT
    return groups


def filter_of(reason: str) -> str:
    """`gopher_quality:word_count` -> `gopher_quality`: the filter that owns a reason."""
    return reason.split(":", 1)[0]


def precision_table(labels: dict[str, str], groups: dict[str, str], confidence: float) -> dict:
    """Per reason and per filter: labelled removed documents, how many bad, precision and interval."""
    per_reason: dict[str, Counter] = defaultdict(Counter)
    unmatched = 0
    for doc_id, label in labels.items():
        group = groups.get(doc_id)
        if group is None:
            unmatched += 1
        else:
            per_reason[group][label] += 1
    per_filter: dict[str, Counter] = defaultdict(Counter)
    for reason, counts in per_reason.items():
        if reason != KEPT:
            per_filter[filter_of(reason)].update(counts)

    def table(counters: dict[str, Counter]) -> dict:
        return {
            name: estimate(c["bad"], c["bad"] + c["good"], confidence, "bad")
            for name, c in sorted(counters.items())
            if name != KEPT
        }

    kept = per_reason.get(KEPT)
    return {
        "confidence": confidence,
        "labelled": len(labels),
        "unmatched": unmatched,
        "reasons": table(per_reason),
        "filters": table(per_filter),
        "kept": estimate(kept["good"], kept["good"] + kept["bad"], confidence, "good") if kept else None,
    }


def main(args: argparse.Namespace) -> int:
    from crawlsieve.core.errors import UsageError
    from crawlsieve.quality.distributions import report_config
    from crawlsieve.quality.report import build_report

    output_dir = Path(args.directory)
    layout = RunLayout(output_dir)
    review_dir = layout.review
    if not review_dir.is_dir():
        raise UsageError(f"{output_dir} holds no review/ samples: is it the --output of `crawlsieve run`?")
    labels_path = Path(args.labels)
    labels = read_labels(labels_path)
    config = report_config(output_dir)
    result = precision_table(labels, sampled_groups(layout), config.confidence)
    result["labels_file"] = str(labels_path)
    write_bytes_atomically((json.dumps(result, indent=1) + "\n").encode("utf-8"), layout.precision)
    for name, values in result["filters"].items():
        print(
            f"{name}: precision {values['precision']:.0%} ({values['low']:.0%}–{values['high']:.0%}) "
            f"from {values['labelled']} labelled"
        )
    if result["unmatched"]:
        print(f"{result['unmatched']} label(s) matched no document of {review_dir}")
    path = build_report(output_dir, config)
    print(f"wrote {path}")
    return 0
